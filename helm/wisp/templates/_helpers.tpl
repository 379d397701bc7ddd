{{/* Names, labels and the shared environment of the Wisp chart. */}}

{{- define "wisp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, or just <release> when it already holds the chart name. */}}
{{- define "wisp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wisp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "wisp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include "wisp.selector" (list $ "controller"). */}}
{{- define "wisp.selector" -}}
{{- $top := index . 0 -}}
app.kubernetes.io/name: {{ include "wisp.name" $top }}
app.kubernetes.io/instance: {{ $top.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "wisp.image" -}}
{{- $top := index . 0 -}}
{{- printf "%s%s:%s" $top.Values.image.registry (index . 1) (default $top.Chart.AppVersion $top.Values.image.tag) -}}
{{- end -}}

{{- define "wisp.secretName" -}}{{ include "wisp.fullname" . }}-secrets{{- end -}}
{{- define "wisp.couchdbHost" -}}
{{- if .Values.couchdb.external -}}
{{- required "couchdb.external is true: set couchdb.host to the host name of your CouchDB" .Values.couchdb.host -}}
{{- else -}}
{{- include "wisp.fullname" . }}-couchdb
{{- end -}}
{{- end -}}
{{- define "wisp.kafkaHost" -}}
{{- if .Values.kafka.external -}}
{{- required "kafka.external is true: set kafka.host to the bootstrap host of your Kafka" .Values.kafka.host -}}
{{- else -}}
{{- include "wisp.fullname" . }}-kafka
{{- end -}}
{{- end -}}

{{/* In-cluster address of the front door (what actions get as __OW_API_HOST). */}}
{{- define "wisp.internalApiHost" -}}
https://{{ include "wisp.fullname" . }}-nginx.{{ .Release.Namespace }}.svc:{{ .Values.nginx.service.httpsPort }}
{{- end -}}

{{/* The public API host and port for `wsk property set --apihost`. */}}
{{- define "wisp.publicApiHost" -}}
{{- $svc := .Values.nginx.service -}}
{{- $name := .Values.whisk.apiHost.name -}}
{{- $port := int .Values.whisk.apiHost.port -}}
{{- if not $name -}}
{{- if eq $svc.type "LoadBalancer" -}}{{- $name = "LOADBALANCER_ADDRESS" -}}{{- else -}}{{- $name = "localhost" -}}{{- end -}}
{{- end -}}
{{- if eq $port 0 -}}
{{- if eq $svc.type "NodePort" -}}{{- $port = int $svc.httpsNodePort -}}
{{- else if eq $svc.type "LoadBalancer" -}}{{- $port = int $svc.httpsPort -}}
{{- else -}}{{- $port = 8443 -}}
{{- end -}}
{{- end -}}
{{- printf "%s:%d" $name $port -}}
{{- end -}}

{{/*
A generated secret value, kept across upgrades: the value set in values.yaml, else the one in
the existing Secret (lookup), else a fresh one. include "wisp.secretValue" (list $ "key" value fresh)
*/}}
{{- define "wisp.secretValue" -}}
{{- $top := index . 0 -}}
{{- $key := index . 1 -}}
{{- $given := index . 2 -}}
{{- $fresh := index . 3 -}}
{{- $existing := lookup "v1" "Secret" $top.Release.Namespace (include "wisp.secretName" $top) -}}
{{- if $given -}}
{{- $given | b64enc -}}
{{- else if and $existing $existing.data (hasKey $existing.data $key) -}}
{{- index $existing.data $key -}}
{{- else -}}
{{- $fresh | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Environment every Wisp component shares: the bus and the store. */}}
{{- define "wisp.commonEnv" -}}
- name: WISP_KAFKA
  value: {{ printf "%s:%d" (include "wisp.kafkaHost" .) (int .Values.kafka.port) | quote }}
{{- with .Values.whisk.topicPrefix }}
- name: WISP_TOPIC_PREFIX
  value: {{ . | quote }}
{{- end }}
- name: WISP_STORE
  value: {{ printf "couchdb:http://%s:%d" (include "wisp.couchdbHost" .) (int .Values.couchdb.port) | quote }}
- name: WISP_DB_PREFIX
  value: {{ .Values.whisk.dbPrefix | quote }}
- name: WISP_STORE_USER
  value: {{ .Values.couchdb.user | quote }}
- name: WISP_STORE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "wisp.secretName" . }}
      key: storePassword
- name: WISP_LOG_LEVEL
  value: {{ .Values.whisk.logLevel | quote }}
- name: WISP_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "wisp.secretName" . }}
      key: metricsToken
{{- end -}}

{{- define "wisp.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "wisp.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Use as: if .Values.image.pullSecrets, then include "wisp.pullSecrets" . | nindent N */}}
{{- define "wisp.pullSecrets" -}}
imagePullSecrets:
{{- range .Values.image.pullSecrets }}
  - name: {{ . }}
{{- end }}
{{- end -}}
