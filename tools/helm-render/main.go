// helm-render renders a Helm chart the way `helm template` does, for checking a chart on a
// machine without helm: Go's text/template, Debian's sprig (github.com/Masterminds/sprig) and
// helm's own built-ins (include, tpl, required, fail, toYaml, fromYaml, toJson, fromJson,
// lookup, .Files.Get, .Capabilities.APIVersions.Has).
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o BUILD/tools/helm-render tools/helm-render/main.go
//	helm-render [-f values.yaml]... [--name wisp] [--namespace wisp] [--kube-version v1.27.0]
//	            [--api-versions monitoring.coreos.com/v1]... [--upgrade] [--values-out FILE]
//	            [--notes-out FILE] [--existing FILE] CHART_DIR
//
// The manifests go to stdout, each document after "---" and a "# Source: <chart>/templates/..."
// line, as helm prints them. NOTES.txt is rendered on its own (--notes-out). Errors are printed
// as helm prints them ("Error: execution error at (...): message") with exit status 1.
//
// Semantics kept from helm 3: values are read through JSON (so every number is a float64, as in
// helm), merged chart values.yaml < each -f file in order (maps merge, null deletes a key); every
// template under templates/ is parsed into one set so defines are shared; files whose base name
// begins with "_" and NOTES.txt are not emitted; a missing map key renders as "" (missingkey=zero
// and "<no value>" removed); the chart's kubeVersion constraint is checked; lookup returns an
// empty map, as `helm template` does without a cluster, unless --existing names a YAML file of
// objects standing for the cluster's (then lookup finds them by apiVersion, kind, namespace and
// name, or lists them with an empty name: an upgrade's render, e.g. to check that generated
// Secrets are kept).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// readYAMLAsJSON reads YAML into plain JSON types (map[string]interface{}, []interface{},
// float64, string, bool, nil), as helm's sigs.k8s.io/yaml does.
func readYAMLAsJSON(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	conv, err := toJSONTypes(raw)
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(conv)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if string(j) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("the top level must be a map: %v", err)
	}
	return out, nil
}

// toJSONTypes turns yaml.v2's map[interface{}]interface{} into map[string]interface{}.
func toJSONTypes(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, val := range t {
			c, err := toJSONTypes(val)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, val := range t {
			c, err := toJSONTypes(val)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	default:
		return v, nil
	}
}

// mergeValues merges src over dst as helm coalesces -f files: maps merge recursively, any other
// value replaces, and a null in src deletes the key.
func mergeValues(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sIsMap := v.(map[string]interface{})
		dm, dIsMap := dst[k].(map[string]interface{})
		if sIsMap && dIsMap {
			dst[k] = mergeValues(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// toYAML is helm's toYaml: JSON first (so struct tags and key order follow JSON), then YAML,
// without the trailing newline.
func toYAML(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return ""
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m, err := readYAMLAsJSON([]byte(s))
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	var raw interface{}
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
		return []interface{}{err.Error()}
	}
	c, _ := toJSONTypes(raw)
	if a, ok := c.([]interface{}); ok {
		return a
	}
	return []interface{}{}
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// Files is .Files: the chart's files outside templates/.
type Files struct{ dir string }

func (f Files) Get(name string) string {
	clean := filepath.Clean(name)
	if strings.HasPrefix(clean, "..") || filepath.IsAbs(clean) || strings.HasPrefix(clean, "templates/") {
		return ""
	}
	b, err := ioutil.ReadFile(filepath.Join(f.dir, clean))
	if err != nil {
		return ""
	}
	return string(b)
}

func (f Files) GetBytes(name string) []byte { return []byte(f.Get(name)) }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type KubeVersion struct{ Version, Major, Minor, GitVersion string }

func (k KubeVersion) String() string { return k.Version }

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

type Release struct {
	Name, Namespace, Service string
	IsInstall, IsUpgrade     bool
	Revision                 int
}

type ChartMeta struct {
	Name, Version, AppVersion, Description, Type, KubeVersion, APIVersion, Home, Icon string
	Keywords                                                                          []string
}

type TemplateInfo struct{ Name, BasePath string }

// builtinAPIVersions is the set `helm template` assumes without a cluster (helm 3's
// DefaultVersionSet: the built-in groups of the Kubernetes version it was built with).
var builtinAPIVersions = []string{
	"v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1",
	"apps/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1", "autoscaling/v1",
	"autoscaling/v2", "batch/v1", "certificates.k8s.io/v1", "coordination.k8s.io/v1",
	"discovery.k8s.io/v1", "events.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1",
	"policy/v1", "rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
}

// helm-style error text: "execution error at (wisp/templates/x.yaml:3:5): message".
var execErrRe = regexp.MustCompile(`^template: (.*?): executing ".*?" at <.*?>: error calling (?:required|fail): (.*)$`)

func cleanError(err error) string {
	msg := err.Error()
	if m := execErrRe.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("execution error at (%s): %s", m[1], m[2])
	}
	return msg
}

func main() {
	var valueFiles, apiVersions multiFlag
	name := flag.String("name", "wisp", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.27.0", "Kubernetes version for .Capabilities")
	upgrade := flag.Bool("upgrade", false, "render as an upgrade (IsUpgrade, revision 2)")
	valuesOut := flag.String("values-out", "", "write the merged values as JSON to this file")
	notesOut := flag.String("notes-out", "", "write the rendered NOTES.txt to this file")
	existing := flag.String("existing", "", "YAML documents lookup finds (objects already in the cluster)")
	flag.Var(&valueFiles, "f", "values file (repeatable; later files win)")
	flag.Var(&apiVersions, "api-versions", "extra API version for .Capabilities.APIVersions.Has (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render [-f values.yaml]... [flags] CHART_DIR")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *name, *namespace, *kubeVersion, *upgrade, valueFiles, apiVersions,
		*valuesOut, *notesOut, *existing); err != nil {
		fmt.Fprintln(os.Stderr, "Error: "+cleanError(err))
		os.Exit(1)
	}
}

func run(chartDir, name, namespace, kubeVersion string, upgrade bool, valueFiles, extraAPIs []string,
	valuesOut, notesOut, existingFile string) error {
	var cluster []map[string]interface{}
	if existingFile != "" {
		b, err := ioutil.ReadFile(existingFile)
		if err != nil {
			return err
		}
		for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(b), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			obj, err := readYAMLAsJSON([]byte(doc))
			if err != nil {
				return fmt.Errorf("%s: %v", existingFile, err)
			}
			cluster = append(cluster, obj)
		}
	}
	chartYAML, err := ioutil.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return fmt.Errorf("%s is not a chart: %v", chartDir, err)
	}
	chartMap, err := readYAMLAsJSON(chartYAML)
	if err != nil {
		return fmt.Errorf("Chart.yaml: %v", err)
	}
	str := func(k string) string { s, _ := chartMap[k].(string); return s }
	chart := ChartMeta{Name: str("name"), Version: str("version"), AppVersion: str("appVersion"),
		Description: str("description"), Type: str("type"), KubeVersion: str("kubeVersion"),
		APIVersion: str("apiVersion"), Home: str("home"), Icon: str("icon")}
	if chart.APIVersion != "v2" || chart.Name == "" || chart.Version == "" {
		return errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}

	values := map[string]interface{}{}
	if b, err := ioutil.ReadFile(filepath.Join(chartDir, "values.yaml")); err == nil {
		if values, err = readYAMLAsJSON(b); err != nil {
			return fmt.Errorf("values.yaml: %v", err)
		}
	}
	for _, f := range valueFiles {
		b, err := ioutil.ReadFile(f)
		if err != nil {
			return err
		}
		v, err := readYAMLAsJSON(b)
		if err != nil {
			return fmt.Errorf("%s: %v", f, err)
		}
		values = mergeValues(values, v)
	}
	if valuesOut != "" {
		j, _ := json.MarshalIndent(values, "", "  ")
		if err := ioutil.WriteFile(valuesOut, j, 0o644); err != nil {
			return err
		}
	}

	kv := strings.TrimPrefix(kubeVersion, "v")
	parts := strings.SplitN(kv, ".", 3)
	if len(parts) < 2 {
		return fmt.Errorf("--kube-version %q: want vMAJOR.MINOR.PATCH", kubeVersion)
	}
	funcs := sprig.TxtFuncMap()
	if chart.KubeVersion != "" {
		check := funcs["semverCompare"].(func(string, string) (bool, error))
		ok, err := check(chart.KubeVersion, kv)
		if err != nil {
			return fmt.Errorf("Chart.yaml kubeVersion %q: %v", chart.KubeVersion, err)
		}
		if !ok {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
				chart.KubeVersion, kubeVersion)
		}
	}
	caps := Capabilities{
		KubeVersion: KubeVersion{Version: "v" + kv, Major: parts[0], Minor: parts[1], GitVersion: "v" + kv},
		APIVersions: append(append(VersionSet{}, builtinAPIVersions...), extraAPIs...),
		HelmVersion: map[string]string{"version": "v3.12.0"},
	}
	revision := 1
	if upgrade {
		revision = 2
	}
	release := Release{Name: name, Namespace: namespace, Service: "Helm", IsInstall: !upgrade,
		IsUpgrade: upgrade, Revision: revision}

	// helm removes env/expandenv from sprig: templates must not read the renderer's environment.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	root := template.New("gotpl")
	includedNames := map[string]int{}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	funcs["lookup"] = func(apiVersion, kind, ns, name string) (map[string]interface{}, error) {
		if name == "" && len(cluster) > 0 {
			// A list, as helm returns it: {"kind": "<Kind>List", "items": [...]}.
			items := []interface{}{}
			for _, obj := range cluster {
				meta, _ := obj["metadata"].(map[string]interface{})
				objNs, _ := meta["namespace"].(string)
				if obj["apiVersion"] == apiVersion && obj["kind"] == kind && (ns == "" || objNs == ns) {
					items = append(items, obj)
				}
			}
			return map[string]interface{}{"apiVersion": apiVersion, "kind": kind + "List",
				"items": items}, nil
		}
		for _, obj := range cluster {
			meta, _ := obj["metadata"].(map[string]interface{})
			objNs, _ := meta["namespace"].(string)
			if obj["apiVersion"] == apiVersion && obj["kind"] == kind && meta["name"] == name &&
				(ns == "" || objNs == ns) {
				return obj, nil
			}
		}
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(tname string, data interface{}) (string, error) {
		if includedNames[tname] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", tname)
		}
		includedNames[tname]++
		defer func() { includedNames[tname]-- }()
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Option("missingkey=zero").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	root.Funcs(funcs).Option("missingkey=zero")

	tdir := filepath.Join(chartDir, "templates")
	var names []string
	err = filepath.Walk(tdir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(chartDir, p)
		tname := chart.Name + "/" + filepath.ToSlash(rel)
		b, err := ioutil.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := root.New(tname).Parse(string(b)); err != nil {
			return fmt.Errorf("parse error in %s: %v", tname, err)
		}
		names = append(names, tname)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)

	top := func(tname string) map[string]interface{} {
		return map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        chart,
			"Capabilities": caps,
			"Files":        Files{dir: chartDir},
			"Template":     TemplateInfo{Name: tname, BasePath: chart.Name + "/templates"},
		}
	}
	var out bytes.Buffer
	docSep := regexp.MustCompile(`(?m)^---[ \t]*$`)
	for _, tname := range names {
		base := filepath.Base(tname)
		if strings.HasPrefix(base, "_") {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, top(tname)); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			if notesOut != "" {
				if err := ioutil.WriteFile(notesOut, []byte(text), 0o644); err != nil {
					return err
				}
			}
			continue
		}
		for _, doc := range docSep.Split(text, -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", tname, strings.Trim(doc, "\n"))
		}
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}
