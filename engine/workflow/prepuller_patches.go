package workflow

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

// Where the apps' pods run, read from their kubernetes-pod-patches (JSON
// patches ShinyProxy applies to each app pod), so that their images are
// pulled there. Tolerations only widen where a pod may go: the DaemonSet
// takes every toleration an app's pods have, and its images then land on
// every node an app may run on (on a node that only some app tolerates, the
// other images too: disk, not harm). A node selector narrows: one
// DaemonSet cannot have one per app, so the DaemonSet keeps the platform's
// (pullSettings), and an app whose patches take it off those nodes is
// warned, since its image would not be there.

// tolerationKeys are the fields of a Kubernetes toleration.
var tolerationKeys = map[string]bool{"key": true, "operator": true, "value": true, "effect": true, "tolerationSeconds": true}

// tolerationsFor gives the DaemonSet's tolerations, typed: the PrePuller's
// own in their order, then those the apps' patches give their pods that it
// has not, by key, each once. A toleration the API server would refuse (it
// would refuse the whole DaemonSet; nor could a typed toleration hold it)
// is left out with a warning: at the PrePuller's tolerations, or at its
// app.
func tolerationsFor(t *document.Document, spec map[string]any, apps []*pipeline.Resource) ([]corev1.Toleration, []finding.Finding) {
	var out []corev1.Toleration
	var fs []finding.Finding
	seen := map[string]bool{}
	if own, ok := spec["tolerations"].([]any); ok {
		for _, tol := range own {
			if why := badToleration(tol); why != "" {
				fs = append(fs, finding.Finding{Severity: finding.Warn, Location: t.PosOf("laiki-spec.tolerations"), Policy: CheckWorkflow,
					Source: t.Source.Name, Field: "laiki-spec.tolerations",
					Message: fmt.Sprintf("PrePuller %s/%s leaves out its toleration %s: not a toleration the API server takes (%s), and it would refuse the whole DaemonSet",
						t.Namespace, t.Name, canonical(tol), why)})
				continue
			}
			if k := canonical(tol); !seen[k] {
				seen[k] = true
				out = append(out, toleration(tol.(map[string]any)))
			}
		}
	}
	more, afs := appTolerationsFor(t, apps, seen)
	fs = append(fs, afs...)
	for _, m := range more {
		out = append(out, toleration(m))
	}
	return out, fs
}

// appTolerationsFor gives the tolerations the apps' patches give their
// pods that are not seen yet, each once, by key then as JSON.
func appTolerationsFor(t *document.Document, apps []*pipeline.Resource, seen map[string]bool) ([]map[string]any, []finding.Finding) {
	var fs []finding.Finding
	var more []map[string]any
	for _, app := range apps {
		for _, tol := range appTolerations(podPatches(app)) {
			if isExpression(canonical(tol)) {
				fs = append(fs, prePullFinding(app, finding.Notice, "laiki-spec.kubernetes-pod-patches",
					"PrePuller %s/%s leaves out the toleration %s of the app's kubernetes-pod-patches: ShinyProxy fills it in as the app starts",
					t.Namespace, t.Name, canonical(tol)))
				continue
			}
			if why := badToleration(tol); why != "" {
				fs = append(fs, prePullFinding(app, finding.Warn, "laiki-spec.kubernetes-pod-patches",
					"PrePuller %s/%s leaves out the toleration %s of the app's kubernetes-pod-patches: not a toleration the API server takes (%s), so the app's pods would not start either",
					t.Namespace, t.Name, canonical(tol), why))
				continue
			}
			m := tol.(map[string]any)
			if k := canonical(m); !seen[k] {
				seen[k] = true
				more = append(more, m)
			}
		}
	}
	sort.Slice(more, func(i, j int) bool {
		ki, _ := more[i]["key"].(string)
		kj, _ := more[j]["key"].(string)
		if ki != kj {
			return ki < kj
		}
		return canonical(more[i]) < canonical(more[j])
	})
	return more, fs
}

// toleration is one badToleration takes, typed.
func toleration(m map[string]any) corev1.Toleration {
	key, _ := stringOr(m["key"])
	op, _ := stringOr(m["operator"])
	value, _ := stringOr(m["value"])
	effect, _ := stringOr(m["effect"])
	tol := corev1.Toleration{Key: key, Operator: corev1.TolerationOperator(op), Value: value, Effect: corev1.TaintEffect(effect)}
	switch secs := m["tolerationSeconds"].(type) {
	case int:
		tol.TolerationSeconds = ptr.To(int64(secs))
	case int64:
		tol.TolerationSeconds = &secs
	}
	return tol
}

// podPatches reads an app's kubernetes-pod-patches (YAML in a string, as
// ShinyProxy reads it); patches that do not read are the app's own
// problem, and give nothing here.
func podPatches(app *pipeline.Resource) []map[string]any {
	text, _ := app.Spec.(map[string]any)["kubernetes-pod-patches"].(string)
	if text == "" {
		return nil
	}
	var raw []any
	if yaml.Unmarshal([]byte(text), &raw) != nil {
		return nil
	}
	var ops []map[string]any
	for _, o := range raw {
		if m, ok := o.(map[string]any); ok {
			ops = append(ops, m)
		}
	}
	return ops
}

// appTolerations follows the ops on /spec/tolerations: a list set whole,
// entries added, the list removed. ShinyProxy gives an app pod none of its
// own.
func appTolerations(ops []map[string]any) []any {
	var list []any
	for _, op := range ops {
		kind, _ := op["op"].(string)
		path, _ := op["path"].(string)
		switch {
		case path == "/spec/tolerations" && (kind == "add" || kind == "replace"):
			list, _ = op["value"].([]any)
			list = slices.Clone(list)
		case path == "/spec/tolerations" && kind == "remove":
			list = nil
		case strings.HasPrefix(path, "/spec/tolerations/") && (kind == "add" || kind == "replace"):
			list = append(list, op["value"]) // its place in the list does not matter to the scheduler
		}
	}
	return list
}

// badToleration says what the API server would refuse in a toleration
// ("" when nothing), after its validation of a pod's tolerations.
func badToleration(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return "not a mapping"
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !tolerationKeys[k] {
			return "unknown field " + k
		}
	}
	key, keyOK := stringOr(m["key"])
	op, opOK := stringOr(m["operator"])
	value, valueOK := stringOr(m["value"])
	effect, effectOK := stringOr(m["effect"])
	switch {
	case !keyOK || !opOK || !valueOK || !effectOK:
		return "key, operator, value and effect are strings"
	case op != "" && op != "Exists" && op != "Equal":
		return fmt.Sprintf("operator %s is neither Exists nor Equal", op)
	case key == "" && op != "Exists":
		return "a toleration without a key must have operator Exists"
	case op == "Exists" && value != "":
		return "operator Exists takes no value"
	case effect != "" && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute":
		return fmt.Sprintf("effect %s is none of NoSchedule, PreferNoSchedule, NoExecute", effect)
	}
	if secs, ok := m["tolerationSeconds"]; ok {
		switch secs.(type) {
		case int, int64:
		default:
			return "tolerationSeconds is a whole number of seconds"
		}
		if effect != "NoExecute" {
			return "tolerationSeconds goes with effect NoExecute"
		}
	}
	return ""
}

// stringOr reads an optional string field.
func stringOr(v any) (string, bool) {
	if v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// canonical is a value as JSON with sorted keys: what makes two tolerations
// the same one.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// offTheNodes warns at each app whose patches set its node selector so that
// it runs on nodes the DaemonSet's selector does not take: its image is not
// pulled there. Apps whose patches leave the selector alone run where
// their ShinyProxy target says: the DaemonSet's selector is the targets'
// (pullSettings warns where they differ), or the PrePuller's own, which the
// platform chose knowing it.
func offTheNodes(t *document.Document, apps []*pipeline.Resource, daemonSet map[string]any) []finding.Finding {
	var fs []finding.Finding
	for _, app := range apps {
		sel, touched := appNodeSelector(app)
		if !touched {
			continue
		}
		var missing []string
		for _, k := range slices.Sorted(maps.Keys(daemonSet)) {
			if sel[k] != daemonSet[k] {
				missing = append(missing, fmt.Sprintf("%s=%v", k, daemonSet[k]))
			}
		}
		if len(missing) == 0 {
			continue
		}
		fs = append(fs, prePullFinding(app, finding.Warn, "laiki-spec.kubernetes-pod-patches",
			"the app's kubernetes-pod-patches run it on nodes with %s, but PrePuller %s/%s pulls only onto nodes with %s: its image is not pre-pulled where it runs; give the PrePuller a node-selector that takes both (or none)",
			selectorText(sel), t.Namespace, t.Name, strings.Join(missing, ", ")))
	}
	return fs
}

// appNodeSelector is an app pod's node selector after its patches: its
// ShinyProxy target's proxy.kubernetes.node-selector, then the ops on
// /spec/nodeSelector. touched says whether any op is there.
func appNodeSelector(app *pipeline.Resource) (map[string]any, bool) {
	sel := map[string]any{}
	if app.Target != nil {
		maps.Copy(sel, parseNodeSelector(targetNodeSelector(app.Target)))
	}
	touched := false
	for _, op := range podPatches(app) {
		kind, _ := op["op"].(string)
		path, _ := op["path"].(string)
		switch {
		case path == "/spec/nodeSelector":
			touched = true
			sel = map[string]any{}
			if m, ok := op["value"].(map[string]any); ok && kind != "remove" {
				for k, v := range m {
					sel[k] = fmt.Sprint(v)
				}
			}
		case strings.HasPrefix(path, "/spec/nodeSelector/"):
			touched = true
			key := unescapePointer(strings.TrimPrefix(path, "/spec/nodeSelector/"))
			if kind == "remove" {
				delete(sel, key)
			} else if kind == "add" || kind == "replace" {
				sel[key] = fmt.Sprint(op["value"])
			}
		}
	}
	return sel, touched
}

// targetNodeSelector is a ShinyProxy target's proxy.kubernetes.node-selector.
func targetNodeSelector(t *document.Document) string {
	spec, _ := t.Spec.(map[string]any)
	proxy, _ := spec["proxy"].(map[string]any)
	k8s, _ := proxy["kubernetes"].(map[string]any)
	s, _ := k8s["node-selector"].(string)
	return s
}

// parseNodeSelector reads ShinyProxy's "key=value,key2=value2".
func parseNodeSelector(s string) map[string]any {
	out := map[string]any{}
	for _, pair := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}

func selectorText(sel map[string]any) string {
	if len(sel) == 0 {
		return "no node selector"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, sel[k]))
	}
	return strings.Join(parts, ", ")
}

// unescapePointer reads one token of a JSON pointer (RFC 6901).
func unescapePointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
}
