#!/usr/bin/env python3
"""helm_chart_test: checks helm/wisp without helm.

The chart is rendered by tools/helm-render (Go text/template + Debian's sprig + helm's
built-ins, built into the build tree by CMake) over the default values and the value files in
tests/deploy/helm-values/, and the results are checked: YAML, current apiVersion/kind pairs,
yamllint, values.schema.json, every .Values path, the invoker's RBAC, the Secrets kept across
upgrades (lookup), NetworkPolicies, probes and resources, hooks, NOTES.txt, the nginx config.

    helm_chart_test.py --source-dir SRC --renderer BUILD/tools/helm-render [-k NAME]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

import jsonschema
import yaml

# Current (served, not deprecated) apiVersion/kind pairs for Kubernetes 1.19 .. 1.30, for every
# kind the chart may make. A removed or deprecated pair (extensions/v1beta1 Ingress,
# policy/v1beta1, batch/v1beta1 CronJob, rbac v1beta1, ...) is not here.
CURRENT_KINDS = {
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
    ("v1", "Pod"), ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("networking.k8s.io/v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}

# The Kubernetes container factory's RBAC, exactly (issue 13 contract).
CONTRACT_RULES = {
    ("", "pods"): {"get", "list", "watch", "create", "delete", "patch"},
    ("", "pods/log"): {"get"},
    ("", "events"): {"get", "list"},
}

# Commands that would fetch something from the internet at install time.
FETCHERS = re.compile(r"\b(curl|wget|git\s+clone|apt-get|apk\s+add|npm\s+install|pip3?\s+install)\b")


class Ctx:
    def __init__(self, args):
        self.src = args.source_dir
        self.chart = os.path.join(self.src, "helm", "wisp")
        self.values_dir = os.path.join(self.src, "tests", "deploy", "helm-values")
        self.renderer = args.renderer
        self.tmp = tempfile.mkdtemp(prefix="helm-chart-test-")
        self.yamllint = os.path.join(self.chart, ".yamllint")
        self.cache = {}

    def render(self, *value_files, extra=(), expect_ok=True):
        key = (value_files, tuple(extra))
        if expect_ok and key in self.cache:
            return self.cache[key]
        tag = str(len(os.listdir(self.tmp)))
        notes = os.path.join(self.tmp, f"notes-{tag}.txt")
        values_out = os.path.join(self.tmp, f"values-{tag}.json")
        cmd = [self.renderer, "--name", "wisp", "--namespace", "wisp", "--notes-out", notes,
               "--values-out", values_out]
        for f in value_files:
            cmd += ["-f", os.path.join(self.values_dir, f)]
        cmd += list(extra) + [self.chart]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if not expect_ok:
            return p
        if p.returncode != 0:
            raise AssertionError(f"render {value_files} failed:\n{p.stderr}")
        out_file = os.path.join(self.tmp, f"out-{tag}.yaml")
        with open(out_file, "w") as f:
            f.write(p.stdout)
        docs = [d for d in yaml.safe_load_all(p.stdout) if d is not None]
        with open(notes) as f:
            notes_text = f.read()
        with open(values_out) as f:
            merged = json.load(f)
        result = {"text": p.stdout, "file": out_file, "docs": docs, "notes": notes_text,
                  "values": merged}
        self.cache[key] = result
        return result


# The value sets every structural check runs over: name -> (files, extra renderer flags).
GOOD_SETS = {
    "default": ((), ()),
    "external": (("external.yaml",), ()),
    "nodeport-docker-monitoring": (("nodeport-docker-monitoring.yaml",),
                                   ("--api-versions", "monitoring.coreos.com/v1")),
    "mixed-arch": (("mixed-arch.yaml",), ()),
}


def find(docs, kind, name=None):
    found = [d for d in docs if d.get("kind") == kind and
             (name is None or d["metadata"]["name"] == name)]
    return found


def one(docs, kind, name):
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(doc):
    if doc["kind"] == "Pod":
        return doc["spec"]
    return doc["spec"]["template"]["spec"]


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --- checks ------------------------------------------------------------------------------------

def test_renders_yaml_with_current_kinds(ctx):
    for name, (files, extra) in GOOD_SETS.items():
        r = ctx.render(*files, extra=extra)
        assert r["docs"], f"{name}: nothing rendered"
        seen = set()
        for d in r["docs"]:
            assert isinstance(d, dict), f"{name}: a document is not a mapping: {d!r:.80}"
            pair = (d.get("apiVersion"), d.get("kind"))
            assert pair in CURRENT_KINDS, f"{name}: {pair} is not a current apiVersion/kind"
            meta = d.get("metadata") or {}
            n = meta.get("name", "")
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n) and len(n) <= 63, \
                f"{name}: bad metadata.name {n!r} of {pair}"
            assert (d["kind"], n) not in seen, f"{name}: {d['kind']} {n} rendered twice"
            metas = [meta]
            if isinstance((d.get("spec") or {}).get("template"), dict):
                metas.append(d["spec"]["template"].get("metadata") or {})
            for m in metas:
                for k in ("labels", "annotations"):
                    assert k not in m or isinstance(m[k], dict), f"{name}: {n}: empty {k}:"
            seen.add((d["kind"], n))
        for line in r["text"].splitlines():
            assert "<no value>" not in line, f"{name}: unrendered value: {line}"
        sources = re.findall(r"^# Source: (\S+)$", r["text"], re.M)
        assert sources and all(s.startswith("wisp/templates/") for s in sources)
        assert not any(os.path.basename(s).startswith("_") for s in sources)


def test_yamllint_clean(ctx):
    files = [os.path.join(ctx.chart, "values.yaml"), os.path.join(ctx.chart, "Chart.yaml")]
    files += [ctx.values_dir + "/" + f for f in sorted(os.listdir(ctx.values_dir))]
    for name, (vf, extra) in GOOD_SETS.items():
        files.append(ctx.render(*vf, extra=extra)["file"])
    p = subprocess.run(["yamllint", "-f", "parsable", "-c", ctx.yamllint] + files,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "yamllint:\n" + p.stdout + p.stderr


def test_chart_yaml(ctx):
    with open(os.path.join(ctx.chart, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    assert chart["apiVersion"] == "v2" and chart["name"] == "wisp"
    assert chart["version"] == "0.1.0" and chart["appVersion"] == "0.1.0"
    assert chart["kubeVersion"].startswith(">=1.19")
    for v in ("v1.19.0", "v1.30.2", "v1.27.3-gke.100"):
        ctx.render(extra=("--kube-version", v))
    old = ctx.render(extra=("--kube-version", "v1.18.0"), expect_ok=False)
    assert old.returncode != 0 and "kubeVersion" in old.stderr, old.stderr


def test_values_validate_against_schema(ctx):
    with open(os.path.join(ctx.chart, "values.schema.json")) as f:
        schema = json.load(f)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    with open(os.path.join(ctx.chart, "values.yaml")) as f:
        defaults = yaml.safe_load(f)
    errors = list(validator.iter_errors(defaults))
    assert not errors, "values.yaml: " + "; ".join(e.message for e in errors)
    for name, (files, extra) in GOOD_SETS.items():
        merged = ctx.render(*files, extra=extra)["values"]
        errors = list(validator.iter_errors(merged))
        assert not errors, f"{name}: " + "; ".join(e.message for e in errors)

    # Every level the chart owns refuses unknown keys.
    def walk(node, path):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path}: additionalProperties"
            for k, v in node["properties"].items():
                walk(v, f"{path}.{k}")
        if "$ref" in node:
            walk(schema["definitions"][node["$ref"].split("/")[-1]], path)
    walk(schema, "")

    # A bad file is rejected, for each of its mistakes.
    with open(os.path.join(ctx.values_dir, "bad-schema.yaml")) as f:
        bad = yaml.safe_load(f)
    merged = json.loads(json.dumps(defaults))

    def merge(dst, src):
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = v
    merge(merged, bad)
    where = {"/".join(str(p) for p in e.absolute_path) or e.message
             for e in validator.iter_errors(merged)}
    messages = " | ".join(e.message for e in validator.iter_errors(merged))
    assert "nginx/service/type" in where, messages
    assert "nginx/service/httpsNodePort" in where, messages
    assert "controller/replicaCount" in where, messages
    assert "secrets/guestKey" in where, messages
    assert "contianerFactory" in messages, messages


def values_paths(node, prefix=""):
    paths = set()
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{prefix}.{k}"
            paths.add(p)
            paths |= values_paths(v, p)
    return paths


def test_every_values_path_exists(ctx):
    with open(os.path.join(ctx.chart, "values.yaml")) as f:
        defaults = yaml.safe_load(f)
    known = values_paths(defaults)
    used = {}
    tdir = os.path.join(ctx.chart, "templates")
    for root, _, names in os.walk(tdir):
        for n in names:
            with open(os.path.join(root, n)) as f:
                text = f.read()
            for m in re.finditer(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text):
                used.setdefault(m.group(1), os.path.relpath(os.path.join(root, n), ctx.chart))
    assert len(used) > 40, f"only {len(used)} .Values paths found: the scan is broken"
    missing = {p: where for p, where in used.items() if p not in known}
    assert not missing, "not in values.yaml: " + ", ".join(
        f".Values{p} ({w})" for p, w in sorted(missing.items()))


def test_every_values_key_is_documented(ctx):
    with open(os.path.join(ctx.chart, "values.yaml")) as f:
        lines = f.read().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9_]*):", line)
        if not m:
            continue
        prev = lines[i - 1].strip() if i > 0 else ""
        if not prev.startswith("#") and "#" not in line.split(":", 1)[1]:
            undocumented.append(f"{i + 1}: {m.group(2)}")
    assert not undocumented, "keys without a comment: " + ", ".join(undocumented)


def test_external_services_switch(ctx):
    default = ctx.render()["docs"]
    external = ctx.render("external.yaml")["docs"]
    for comp in ("couchdb", "kafka"):
        assert find(default, "StatefulSet", f"wisp-{comp}"), f"default: no {comp} StatefulSet"
        assert not find(external, "StatefulSet", f"wisp-{comp}"), f"external: {comp} deployed"
        assert not find(external, "Service", f"wisp-{comp}")
    ctrl = one(external, "StatefulSet", "wisp-controller")["spec"]["template"]["spec"]
    env = env_of(ctrl["containers"][0])
    assert env["WISP_STORE"] == "couchdb:http://couchdb.storage.example.com:6984", env
    assert env["WISP_KAFKA"] == "kafka.bus.example.com:9094", env
    assert env["WISP_TOPIC_PREFIX"] == "prod-"
    assert env["WISP_API_HOST"] == "https://wisp.example.com:443"
    sts = one(default, "StatefulSet", "wisp-couchdb")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    assert one(default, "StatefulSet", "wisp-couchdb")["spec"]["template"]["spec"][
        "containers"][0]["image"] == "couchdb:3"
    kafka = one(default, "StatefulSet", "wisp-kafka")["spec"]["template"]["spec"]["containers"][0]
    assert kafka["image"].startswith("apache/kafka")
    assert env_of(kafka)["KAFKA_PROCESS_ROLES"] == "broker,controller"
    ing = one(external, "Ingress", "wisp")
    assert ing["spec"]["rules"][0]["host"] == "wisp.example.com"
    assert one(external, "Service", "wisp-nginx")["spec"]["type"] == "LoadBalancer"

    p = ctx.render("bad-external-db-without-host.yaml", expect_ok=False)
    assert p.returncode != 0, "an external CouchDB without a host rendered"
    assert "couchdb.external is true: set couchdb.host" in p.stderr, p.stderr
    assert p.stderr.startswith("Error: execution error at (wisp/templates/"), p.stderr


def test_invoker_kubernetes_rbac_is_exactly_the_contract(ctx):
    docs = ctx.render()["docs"]
    roles = find(docs, "Role")
    assert len(roles) == 1 and not find(docs, "ClusterRole")
    got = {}
    for rule in roles[0]["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                got.setdefault((g, r), set()).update(rule["verbs"])
    assert got == CONTRACT_RULES, f"Role grants {got}, the contract says {CONTRACT_RULES}"
    binding = one(docs, "RoleBinding", "wisp-invoker")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": roles[0]["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "wisp-invoker",
                                    "namespace": "wisp"}]
    one(docs, "ServiceAccount", "wisp-invoker")
    sts = one(docs, "StatefulSet", "wisp-invoker")
    spec = sts["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "wisp-invoker"
    c = spec["containers"][0]
    env = env_of(c)
    assert env["WISP_CONTAINER_FACTORY"] == "kubernetes"
    assert env["WISP_KUBE_NAMESPACE"] == "wisp" and env["WISP_KUBE_RELEASE"] == "wisp"
    assert "WISP_ID" not in env and "${POD_NAME##*-}" in " ".join(c["command"])
    assert not find(docs, "DaemonSet")
    # The controllers get their id from the ordinal as well.
    ctrl = one(docs, "StatefulSet", "wisp-controller")["spec"]["template"]["spec"]["containers"][0]
    assert 'WISP_ID="${POD_NAME##*-}"' in " ".join(ctrl["command"])
    assert ctrl["command"][-1] == "wisp-controller" and ctrl["args"], ctrl


def test_invoker_docker_daemonset(ctx):
    docs = ctx.render(*GOOD_SETS["nodeport-docker-monitoring"][0],
                      extra=GOOD_SETS["nodeport-docker-monitoring"][1])["docs"]
    assert not find(docs, "Role") and not find(docs, "ServiceAccount")
    assert not find(docs, "StatefulSet", "wisp-invoker")
    ds = one(docs, "DaemonSet", "wisp-invoker")
    spec = ds["spec"]["template"]["spec"]
    env = env_of(spec["containers"][0])
    assert env["WISP_ID"] == "auto" and env["WISP_CONTAINER_FACTORY"] == "docker"
    assert env["WISP_DOCKER_SOCKET"] == "/var/run/wisp-docker/docker.sock"
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["docker-socket-dir"]["hostPath"] == {"path": "/var/run", "type": "Directory"}
    assert vols["container-sockets"]["hostPath"]["path"] == "/run/wisp/containers"
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["container-sockets"] == "/run/wisp/containers", mounts
    assert mounts["docker-socket-dir"] == "/var/run/wisp-docker", mounts
    assert spec["nodeSelector"] == {"wisp-role": "invoker"}
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["containers"][0]["image"] == "registry.example.com/wisp/invoker:0.1.0-abc1234"
    svc = one(docs, "Service", "wisp-nginx")
    assert svc["spec"]["type"] == "NodePort"
    https = [p for p in svc["spec"]["ports"] if p["name"] == "https"][0]
    assert https["nodePort"] == 31001 and https["port"] == 443


SCHEDULING = ("nodeSelector", "tolerations", "affinity")


def workloads(docs, factory="kubernetes"):
    """component -> the workload whose pod spec it places (values key: the test pod is init's)."""
    return {
        "controller": one(docs, "StatefulSet", "wisp-controller"),
        "invoker": one(docs, "StatefulSet" if factory == "kubernetes" else "DaemonSet",
                       "wisp-invoker"),
        "nginx": one(docs, "Deployment", "wisp-nginx"),
        "couchdb": one(docs, "StatefulSet", "wisp-couchdb"),
        "kafka": one(docs, "StatefulSet", "wisp-kafka"),
        "init": one(docs, "Job", "wisp-init"),
        "test": one(docs, "Pod", "wisp-test-invoke"),
    }


def test_scheduling_values_reach_every_pod_spec(ctx):
    # Mixed amd64/arm64 clusters (issue 18): each component's nodeSelector, tolerations and
    # affinity land in its own pod spec as given, with both invoker factories.
    for files in (("mixed-arch.yaml",), ("nodeport-docker-monitoring.yaml", "mixed-arch.yaml")):
        r = ctx.render(*files, extra=("--api-versions", "monitoring.coreos.com/v1"))
        factory = r["values"]["invoker"]["containerFactory"]
        for comp, doc in workloads(r["docs"], factory).items():
            want = r["values"]["init" if comp == "test" else comp]
            spec = pod_spec(doc)
            for key in SCHEDULING:
                assert want[key], f"{files}: the values set no {comp}.{key}"
                assert spec.get(key) == want[key], \
                    f"{files}: {comp} ({factory}): {key} is {spec.get(key)!r}, " \
                    f"values say {want[key]!r}"
        arch = {c: pod_spec(d)["nodeSelector"]["kubernetes.io/arch"]
                for c, d in workloads(r["docs"], factory).items()}
        assert arch == {"controller": "amd64", "invoker": "arm64", "nginx": "amd64",
                        "couchdb": "amd64", "kafka": "amd64", "init": "amd64",
                        "test": "amd64"}, arch
    # The defaults place nothing, but for the invoker's preferred one-per-node anti-affinity.
    for comp, doc in workloads(ctx.render()["docs"]).items():
        spec = pod_spec(doc)
        assert "nodeSelector" not in spec and "tolerations" not in spec, f"{comp}: {spec}"
        if comp == "invoker":
            assert list(spec["affinity"]) == ["podAntiAffinity"], spec["affinity"]
        else:
            assert "affinity" not in spec, f"{comp}: {spec['affinity']}"


def test_monitoring_is_optional(ctx):
    files, extra = GOOD_SETS["nodeport-docker-monitoring"]
    on = ctx.render(*files, extra=extra)["docs"]
    monitors = find(on, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {"wisp-controller", "wisp-invoker"}
    for m in monitors:
        assert m["metadata"]["labels"]["release"] == "prometheus"
        ep = m["spec"]["endpoints"][0]
        assert ep["bearerTokenSecret"] == {"name": "wisp-secrets", "key": "metricsToken"}
    ctrl = one(on, "StatefulSet", "wisp-controller")["spec"]["template"]["metadata"]
    assert ctrl["annotations"]["prometheus.io/scrape"] == "true"
    inv = one(on, "DaemonSet", "wisp-invoker")["spec"]["template"]
    assert inv["metadata"]["annotations"]["prometheus.io/port"] == "9102"
    assert env_of(inv["spec"]["containers"][0])["WISP_METRICS_LISTEN"] == "0.0.0.0:9102"
    # Without the operator's API: no ServiceMonitor, and NOTES says why.
    without = ctx.render(*files)
    assert not find(without["docs"], "ServiceMonitor")
    assert "no monitoring.coreos.com/v1 API" in without["notes"]
    # The dashboard ConfigMap: the chart's copy of deploy/grafana, labelled for the sidecar.
    # (indented by 1, not 2, so the deepest PromQL line stays inside yamllint's line length)
    with open(os.path.join(ctx.src, "deploy", "grafana", "wisp-dashboard.json")) as a, \
            open(os.path.join(ctx.chart, "files", "grafana-dashboard.json")) as b:
        assert json.load(a) == json.load(b), \
            "helm/wisp/files/grafana-dashboard.json differs from deploy/grafana/wisp-dashboard.json: " \
            "copy it: python3 -c \"import json; print(json.dumps(json.load(open(" \
            "'deploy/grafana/wisp-dashboard.json')), indent=1))\" > helm/wisp/files/grafana-dashboard.json"
    dash = one(on, "ConfigMap", "wisp-grafana-dashboard")
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    panels = json.loads(dash["data"]["wisp-dashboard.json"])["panels"]
    assert len(panels) > 5
    default = ctx.render()["docs"]
    assert not find(default, "ServiceMonitor")
    assert not find(default, "ConfigMap", "wisp-grafana-dashboard")
    assert "prometheus.io/scrape" not in json.dumps(default)


def secret_data(doc):
    import base64
    data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    data.update(doc.get("stringData") or {})
    return data


def test_secrets_generated_once_and_kept(ctx):
    for root, _, names in os.walk(os.path.join(ctx.chart, "templates")):
        for n in names:
            with open(os.path.join(root, n)) as f:
                text = f.read()
            assert "randAlphaNum" not in text or n in ("secrets.yaml", "_helpers.tpl"), n
    with open(os.path.join(ctx.chart, "templates", "_helpers.tpl")) as f:
        assert 'lookup "v1" "Secret"' in f.read()
    first = one(ctx.render()["docs"], "Secret", "wisp-secrets")
    assert first["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    data = secret_data(first)
    assert set(data) == {"guestKey", "systemKey", "storePassword", "controlToken", "metricsToken"}
    key_re = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}:[A-Za-z0-9]{64}"
    assert re.fullmatch(key_re, data["guestKey"]) and re.fullmatch(key_re, data["systemKey"])
    assert data["guestKey"] != data["systemKey"]
    # A second fresh install generates other values (they are random) ...
    again = ctx.render(extra=("--kube-version", "v1.28.0"))
    assert secret_data(one(again["docs"], "Secret", "wisp-secrets"))["guestKey"] != data["guestKey"]
    # ... but an upgrade over the Secrets in the cluster keeps every one of them.
    tls = one(ctx.render()["docs"], "Secret", "wisp-nginx-tls")
    existing = os.path.join(ctx.tmp, "existing.yaml")
    import base64
    tls_in_cluster = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                      "metadata": {"name": "wisp-nginx-tls", "namespace": "wisp"},
                      "data": {k: base64.b64encode(v.encode()).decode()
                               for k, v in tls["stringData"].items()}}
    first_in_cluster = dict(first, metadata=dict(first["metadata"], namespace="wisp"))
    with open(existing, "w") as f:
        yaml.safe_dump_all([first_in_cluster, tls_in_cluster], f)
    up = ctx.render(extra=("--existing", existing, "--upgrade"))
    assert secret_data(one(up["docs"], "Secret", "wisp-secrets")) == data
    assert secret_data(one(up["docs"], "Secret", "wisp-nginx-tls")) == tls["stringData"]
    assert "upgraded" in up["notes"]
    # A key set in the values wins over the stored one.
    given = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + "k" * 64
    vf = os.path.join(ctx.tmp, "given.yaml")
    with open(vf, "w") as f:
        yaml.safe_dump({"secrets": {"guestKey": given}}, f)
    p = subprocess.run([ctx.renderer, "--namespace", "wisp", "--existing", existing, "-f", vf,
                        ctx.chart], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    docs = [d for d in yaml.safe_load_all(p.stdout) if d]
    got = secret_data(one(docs, "Secret", "wisp-secrets"))
    assert got["guestKey"] == given and got["systemKey"] == data["systemKey"]


def test_network_policies_isolate_action_pods(ctx):
    docs = ctx.render()["docs"]
    pols = {p["metadata"]["name"]: p["spec"] for p in find(docs, "NetworkPolicy")}
    actions = pols["wisp-actions"]
    assert actions["podSelector"]["matchLabels"]["user-action-pod"] == "true"
    assert set(actions["policyTypes"]) == {"Ingress", "Egress"}
    invoker_sel = one(docs, "StatefulSet", "wisp-invoker")["spec"]["selector"]["matchLabels"]
    assert actions["ingress"] == [{"from": [{"podSelector": {"matchLabels": invoker_sel}}]}]
    nginx_sel = one(docs, "Deployment", "wisp-nginx")["spec"]["selector"]["matchLabels"]
    pod_targets = [t["podSelector"] for e in actions["egress"] for t in e["to"]
                   if "podSelector" in t and "namespaceSelector" not in t]
    assert pod_targets == [{"matchLabels": nginx_sel}], pod_targets
    for e in actions["egress"]:
        for t in e["to"]:
            if "ipBlock" in t:
                assert "10.0.0.0/8" in t["ipBlock"]["except"]
    platform = pols["wisp-platform-no-actions"]
    assert platform["ingress"][0]["from"][0]["podSelector"]["matchExpressions"] == [
        {"key": "user-action-pod", "operator": "DoesNotExist"}]
    assert pols["wisp-nginx-open"]["podSelector"]["matchLabels"] == nginx_sel
    vf = os.path.join(ctx.tmp, "np-off.yaml")
    with open(vf, "w") as f:
        yaml.safe_dump({"networkPolicy": {"enabled": False}}, f)
    p = subprocess.run([ctx.renderer, "-f", vf, ctx.chart], capture_output=True, text=True)
    assert p.returncode == 0 and "kind: NetworkPolicy" not in p.stdout, p.stderr


def test_probes_resources_and_no_downloads(ctx):
    for name, (files, extra) in GOOD_SETS.items():
        docs = ctx.render(*files, extra=extra)["docs"]
        for d in docs:
            if d["kind"] not in ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"):
                continue
            spec = pod_spec(d)
            assert spec.get("enableServiceLinks") is False, f"{name}: {d['metadata']['name']}"
            for c in spec["containers"] + spec.get("initContainers", []):
                where = f"{name}: {d['kind']} {d['metadata']['name']}/{c['name']}"
                res = c.get("resources") or {}
                assert res.get("requests", {}).get("memory") and res.get("limits", {}).get(
                    "memory"), f"{where}: resources"
                assert res["requests"].get("cpu") and res["limits"].get("cpu"), where
                if d["kind"] not in ("Job", "Pod"):
                    assert c.get("livenessProbe") and c.get("readinessProbe"), f"{where}: probes"
                command = c.get("command", [])
                if command[:2] == ["/bin/sh", "-c"]:
                    syn = subprocess.run(["sh", "-n"], input=command[2], capture_output=True,
                                         text=True, timeout=30)
                    assert syn.returncode == 0, f"{where}: sh -n: {syn.stderr}"
                cmd = " ".join(c.get("command", []) + c.get("args", []))
                assert not FETCHERS.search(cmd), f"{where} downloads at install time: {cmd}"
                image = c["image"]
                assert re.search(r"(^|/)wisp/(controller|invoker|nginx):", image) or \
                    image in ("couchdb:3",) or image.startswith("apache/kafka:"), \
                    f"{where}: unexpected image {image}"


def test_hooks_and_helm_test(ctx):
    docs = ctx.render()["docs"]
    job = one(docs, "Job", "wisp-init")
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook"] == "post-install,post-upgrade"
    script = " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "waiting for the store" in script and "did not answer within" in script
    assert "refuses user" in script
    assert "wisp-admin user create" in script and "wisp-admin user get" in script
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "wisp/controller:0.1.0"
    test = one(docs, "Pod", "wisp-test-invoke")
    assert test["metadata"]["annotations"]["helm.sh/hook"] == "test"
    c = test["spec"]["containers"][0]
    script = " ".join(c["command"])
    assert "wsk -i action create" in script and "action invoke" in script
    assert env_of(c)["API_HOST"] == "https://wisp-nginx.wisp.svc:443"
    assert env_of(c)["AUTH"] == {"secretKeyRef": {"name": "wisp-secrets", "key": "guestKey"}}


def test_notes(ctx):
    notes = ctx.render()["notes"]
    assert "wsk property set --apihost localhost:8443 --auth" in notes, notes
    assert "port-forward svc/wisp-nginx 8443:443" in notes
    assert "get secret wisp-secrets -o jsonpath='{.data.guestKey}' | base64 -d" in notes
    assert "WARNINGS" not in notes, notes
    files, extra = GOOD_SETS["nodeport-docker-monitoring"]
    notes = ctx.render(*files, extra=extra)["notes"]
    assert "wsk property set --apihost localhost:31001 --auth" in notes, notes
    assert "WARNINGS" in notes
    assert "kubectl get nodes -l wisp-role=invoker" in notes, notes
    assert "containerd" in notes
    # Pre-flight over the cluster's nodes (lookup): none matches -> a loud warning; one -> none.
    nodes = os.path.join(ctx.tmp, "nodes.yaml")
    for labels, expect in (({"kubernetes.io/hostname": "n1"}, True), ({"wisp-role": "invoker"}, False)):
        with open(nodes, "w") as f:
            yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Node",
                                 "metadata": {"name": "n1", "labels": labels}},
                                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}}], f)
        notes_out = os.path.join(ctx.tmp, "nodes-notes.txt")
        p = subprocess.run([ctx.renderer, "--namespace", "wisp", "--existing", nodes,
                            "--notes-out", notes_out] + [a for f in files for a in (
                                "-f", os.path.join(ctx.values_dir, f))] + [ctx.chart],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        with open(notes_out) as f:
            text = f.read()
        assert ("NONE of the 2 nodes has wisp-role=invoker" in text) == expect, text
    notes = ctx.render("external.yaml")["notes"]
    assert "wsk property set --apihost wisp.example.com:443 --auth" in notes, notes
    assert "WARNINGS" not in notes, notes
    vf = os.path.join(ctx.tmp, "ingress-http.yaml")
    with open(vf, "w") as f:
        yaml.safe_dump({"nginx": {"ingress": {"enabled": True, "host": "w.example.com"}}}, f)
    notes_out = os.path.join(ctx.tmp, "ingress-notes.txt")
    p = subprocess.run([ctx.renderer, "-f", vf, "--notes-out", notes_out, ctx.chart],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with open(notes_out) as f:
        assert "backend-protocol: HTTPS" in f.read()


def test_nginx_config(ctx):
    with open(os.path.join(ctx.src, "deploy", "nginx", "nginx.conf.template")) as a, \
            open(os.path.join(ctx.chart, "files", "nginx.conf.template")) as b:
        assert a.read() == b.read(), \
            "helm/wisp/files/nginx.conf.template differs from deploy/nginx/nginx.conf.template: " \
            "copy it (cp deploy/nginx/nginx.conf.template helm/wisp/files/)"
    docs = ctx.render()["docs"]
    conf = one(docs, "ConfigMap", "wisp-nginx")["data"]["nginx.conf"]
    assert "${WISP_NGINX_" not in conf.replace("${WISP_NGINX_*}", "")
    assert "server wisp-controller.wisp.svc:8080 max_fails=1 fail_timeout=10s;" in conf
    assert "listen *:8443 ssl;" in conf
    # The web console reaches the controllers (issue 16).
    assert re.search(r"location /console/ \{\s*proxy_pass http://wisp_controllers;", conf), conf
    assert re.search(r"location = /console \{\s*proxy_pass http://wisp_controllers;", conf), conf
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        print("  (nginx not installed: nginx -t skipped)")
        return
    # nginx -t on the rendered file, with local paths and a resolvable upstream.
    d = os.path.join(ctx.tmp, "nginx")
    os.makedirs(os.path.join(d, "logs"))
    os.makedirs(os.path.join(d, "tmp"))
    subprocess.run([os.path.join(ctx.src, "deploy", "nginx", "make-cert.sh"),
                    os.path.join(d, "tls")], check=True, capture_output=True, timeout=60)
    local = conf.replace("/etc/wisp-nginx/tls/", d + "/tls/").replace("/var/wisp-nginx", d)
    local = local.replace("wisp-controller.wisp.svc:8080", "127.0.0.1:1")
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(local)
    p = subprocess.run([nginx, "-t", "-p", d, "-c", os.path.join(d, "nginx.conf"),
                        "-e", os.path.join(d, "logs", "error.log")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "nginx -t:\n" + p.stderr


def test_bad_values_fail_loudly(ctx):
    vf = os.path.join(ctx.tmp, "bad-factory.yaml")
    with open(vf, "w") as f:
        yaml.safe_dump({"invoker": {"containerFactory": "containerd"}}, f)
    p = subprocess.run([ctx.renderer, "-f", vf, ctx.chart], capture_output=True, text=True)
    assert p.returncode != 0 and 'invoker.containerFactory is "containerd"' in p.stderr, p.stderr
    vf = os.path.join(ctx.tmp, "bad-ingress.yaml")
    with open(vf, "w") as f:
        yaml.safe_dump({"nginx": {"ingress": {"enabled": True}}}, f)
    p = subprocess.run([ctx.renderer, "-f", vf, ctx.chart], capture_output=True, text=True)
    assert p.returncode != 0 and "set nginx.ingress.host" in p.stderr, p.stderr


def test_renderer_follows_helm_semantics(ctx):
    """tools/helm-render itself, on a small chart: what the chart checks rely on."""
    chart = os.path.join(ctx.tmp, "fixture")
    os.makedirs(os.path.join(chart, "templates", "sub"))
    os.makedirs(os.path.join(chart, "files"))
    files = {
        "Chart.yaml": "apiVersion: v2\nname: fx\nversion: 1.2.3\nappVersion: '9'\n"
                      "kubeVersion: '>=1.19.0-0'\n",
        "values.yaml": "a: {b: 1, c: keep, d: drop}\nbig: 1000000\nt: '{{ .Release.Name }}-t'\n"
                       "m: {z: 1, a: 2}\nempty: ''\n",
        "files/f.txt": "file body",
        "templates/_h.tpl": '{{- define "fx.x" -}}x={{ .Values.a.b }}{{- end -}}',
        "templates/one.yaml": "---\nk1: {{ include \"fx.x\" . }}\n---\nk2: '{{ .Values.nope }}'\n"
                              "big: '{{ .Values.big }}'\ntpl: {{ tpl .Values.t . }}\n"
                              "m:\n  {{- toYaml .Values.m | nindent 2 }}\n"
                              "file: {{ .Files.Get \"files/f.txt\" }}\n"
                              "apps: {{ .Capabilities.APIVersions.Has \"apps/v1\" }}\n"
                              "mon: {{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" }}\n"
                              "c: {{ .Values.a.c }}\nd: '{{ .Values.a.d }}'\n"
                              "chart: {{ .Chart.Name }}-{{ .Chart.Version }}-{{ .Chart.AppVersion }}\n"
                              "rel: {{ .Release.Name }}/{{ .Release.Namespace }}/{{ .Release.Service }}"
                              "/{{ .Release.IsInstall }}/{{ .Release.Revision }}\n"
                              "lk: '{{ lookup \"v1\" \"Secret\" \"ns\" \"s\" }}'\n",
        "templates/sub/empty.yaml": "{{- if false }}\nx: 1\n{{- end }}\n",
        "templates/NOTES.txt": "notes for {{ .Release.Name }}",
        "templates/_skipped.yaml": "skipped: true\n",
    }
    for rel, text in files.items():
        with open(os.path.join(chart, rel), "w") as f:
            f.write(text)
    over = os.path.join(ctx.tmp, "fx-over.yaml")
    with open(over, "w") as f:
        f.write("a: {b: 2, d: null}\n")
    notes = os.path.join(ctx.tmp, "fx-notes.txt")
    p = subprocess.run([ctx.renderer, "--name", "r1", "--namespace", "n1", "-f", over,
                        "--notes-out", notes, chart], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.count("# Source: fx/templates/one.yaml") == 2, out
    assert "_h.tpl" not in out and "skipped" not in out and "empty.yaml" not in out, out
    docs = list(yaml.safe_load_all(out))
    assert docs[0] == {"k1": "x=2"}, docs[0]
    d = docs[1]
    assert d["k2"] == "" and d["big"] == "1e+06", d  # missingkey=zero; numbers are float64
    assert d["tpl"] == "r1-t" and d["m"] == {"a": 2, "z": 1} and d["file"] == "file body"
    assert "m:\n  a: 2\n  z: 1\n" in out, out  # toYaml sorts keys
    assert d["apps"] is True and d["mon"] is False
    assert d["c"] == "keep" and d["d"] == "", d  # maps merge, null deletes
    assert d["chart"] == "fx-1.2.3-9" and d["rel"] == "r1/n1/Helm/true/1", d
    assert d["lk"] == "map[]", d
    with open(notes) as f:
        assert f.read() == "notes for r1"
    with open(os.path.join(chart, "templates", "bad.yaml"), "w") as f:
        f.write("x: {{ required \"say what to set\" .Values.empty }}\n")
    p = subprocess.run([ctx.renderer, chart], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.strip() == \
        "Error: execution error at (fx/templates/bad.yaml:1:6): say what to set", p.stderr
    with open(os.path.join(chart, "templates", "bad.yaml"), "w") as f:
        f.write("x: {{ .Values.nope.deeper }}\n")
    p = subprocess.run([ctx.renderer, chart], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "nil pointer evaluating interface {}.deeper" in p.stderr, p.stderr
    with open(os.path.join(chart, "templates", "bad.yaml"), "w") as f:
        f.write("x: {{ env \"HOME\" }}\n")
    p = subprocess.run([ctx.renderer, chart], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and 'function "env" not defined' in p.stderr, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--renderer", required=True)
    ap.add_argument("-k", default="", help="run only the checks whose name contains this")
    args = ap.parse_args()
    if not os.access(args.renderer, os.X_OK):
        print(f"{args.renderer} is missing: build the helm-render target "
              "(needs golang-go and golang-github-masterminds-sprig-dev; tools/install-deps.sh)")
        return 1
    ctx = Ctx(args)
    tests = [(n, f) for n, f in sorted(globals().items())
             if n.startswith("test_") and callable(f) and args.k in n]
    failed = 0
    try:
        for name, fn in tests:
            try:
                fn(ctx)
                print(f"ok   {name}")
            except Exception:  # noqa: BLE001 - report every check
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc(file=sys.stdout)
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    print(f"{len(tests) - failed}/{len(tests)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
