package workflow_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// prePullerAt renders platformFiles with the PrePuller's laiki-spec given
// (indented keys) and the apps, at a given time, with laiki.yaml's extra
// lines (policy-data, say).
func prePullerAt(t *testing.T, spec, apps string, now time.Time, laikiExtra string) (*pipeline.Result, *workflow.Desired) {
	t.Helper()
	files := strings.Replace(platformFiles, "laiki-metadata: {target-type: PrePuller, name: pull, namespace: apps}\nlaiki-spec:\n",
		"laiki-metadata: {target-type: PrePuller, name: pull, namespace: apps}\nlaiki-spec:\n"+spec, 1)
	dir := tree(t, map[string]string{
		"laiki.yaml":         "sources:\n  - {name: platform, path: platform, role: platform}\n" + laikiExtra,
		"platform/p.yaml":    files,
		"platform/apps.yaml": apps,
	})
	res := runConfig(t, filepath.Join(dir, "laiki.yaml"))
	return res, workflow.RenderAndJudgeWith(res, workflow.Options{Now: now})
}

// daemonSet is the PrePuller's DaemonSet as plain values (nil when none).
func daemonSet(t *testing.T, d *workflow.Desired) map[string]any {
	t.Helper()
	objs := byName(t, d, "apps", "pull").Objects
	if len(objs) == 0 {
		return nil
	}
	return plain(t, objs[0])
}

// pulled lists the images of the DaemonSet's containers, with their pull
// policy after a space.
func pulled(ds map[string]any) []string {
	var out []string
	list, _ := dig(ds, "spec", "template", "spec", "containers").([]any)
	for _, c := range list {
		m := c.(map[string]any)
		out = append(out, fmt.Sprintf("%s %s", m["image"], m["imagePullPolicy"]))
	}
	return out
}

// appSpec is the app with that id in ShinyProxy target one's configuration.
func appSpec(t *testing.T, d *workflow.Desired, id string) map[string]any {
	t.Helper()
	for _, s := range dig(plain(t, byName(t, d, "apps", "one").Config), "proxy", "specs").([]any) {
		if m := s.(map[string]any); m["id"] == id {
			return m
		}
	}
	return nil
}

// findingWith is the first finding of res whose message has all of parts.
func findingWith(res *pipeline.Result, parts ...string) *finding.Finding {
	for i, f := range res.Findings {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(f.Message, p)
		}
		if all {
			return &res.Findings[i]
		}
	}
	return nil
}

func messages(res *pipeline.Result) string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, string(f.Severity)+": "+f.Message)
	}
	return strings.Join(out, "\n")
}

var noon = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// What runs is what is pulled: an image with upper case in its repository
// is lower-cased (its tag kept) in ShinyProxy's configuration and in the
// DaemonSet alike, and the warning says so.
func TestPrePullerPullsWhatRuns(t *testing.T) {
	res, d := prePullerAt(t, "", app("one", "apps", "c", "Registry.Example.com/Team/App:V1"), noon, "")
	if got := appSpec(t, d, "c")["container-image"]; got != "registry.example.com/team/app:V1" {
		t.Errorf("ShinyProxy runs %v, want registry.example.com/team/app:V1 (the repository lower-cased, the tag as written)", got)
	}
	if got := pulled(daemonSet(t, d)); fmt.Sprint(got) != "[registry.example.com/team/app:V1 IfNotPresent]" {
		t.Errorf("the PrePuller pulls %v", got)
	}
	if f := findingWith(res, "Registry.Example.com/Team/App:V1", "runs and pre-pulls registry.example.com/team/app:V1"); f == nil || f.Severity != finding.Warn {
		t.Errorf("no warning saying what runs and is pulled:\n%s", messages(res))
	}

	exps := workflow.Explain(res, d, "apps", "c")
	for _, o := range exps[0].Fields {
		if o.Field == "container-image" && (o.By != "workflow" || !strings.Contains(o.From, "lower case")) {
			t.Errorf("explain: container-image from %s %s, want the workflow that lower-cased it", o.By, o.From)
		}
	}

	// The same, with the baseline off: the workflow's own warning says it.
	res, _ = prePullerAt(t, "", app("one", "apps", "c", "Team/App"), noon, "policy-data:\n  baseline: {enabled: false}\n")
	if f := findingWith(res, "Team/App", "runs and pre-pulls team/app"); f == nil || f.Severity != finding.Warn || f.Field != "laiki-spec.container-image" {
		t.Errorf("no workflow warning at the app's container-image:\n%s", messages(res))
	}
}

// An image no mapping makes valid is an error at the app, which is left
// out of ShinyProxy and of the DaemonSet; an image ShinyProxy chooses when
// the app starts (a Spring expression) runs as written and is not pulled.
func TestPrePullerImageNoNodeCanPull(t *testing.T) {
	apps := app("one", "apps", "a", "nginx:1") + app("one", "apps", "bad", "'bad image'") + app("one", "apps", "expr", "'#{proxy.userId}/app:1'")
	res, d := prePullerAt(t, "", apps, noon, "policy-data:\n  baseline: {enabled: false}\n")
	if f := findingWith(res, "bad image", "not a valid image reference"); f == nil || f.Severity != finding.Error || f.Resource == "" {
		t.Errorf("no error at the app with an invalid image:\n%s", messages(res))
	}
	if !res.Failed() {
		t.Error("an app no node can run must fail the run")
	}
	if appSpec(t, d, "bad") != nil {
		t.Error("the app with an invalid image must be left out of ShinyProxy")
	}
	if appSpec(t, d, "expr")["container-image"] != "#{proxy.userId}/app:1" {
		t.Errorf("an expression image runs as written: %v", appSpec(t, d, "expr"))
	}
	if got := pulled(daemonSet(t, d)); fmt.Sprint(got) != "[nginx:1 IfNotPresent]" {
		t.Errorf("the PrePuller pulls %v, want nginx:1 alone", got)
	}
	if f := findingWith(res, "#{proxy.userId}/app:1", "chooses the image when the app starts"); f == nil || f.Severity != finding.Notice {
		t.Errorf("no notice for the image the PrePuller cannot know:\n%s", messages(res))
	}
}

// With refresh set, images whose tag can move (latest, or none) are pulled
// with Always and the pod template carries the interval it was rendered
// in: the DaemonSet rolls, and pulls them again, once an interval. Within
// an interval the render is the same.
func TestPrePullerRefresh(t *testing.T) {
	apps := app("one", "apps", "a", "nginx:1") + app("one", "apps", "b", "redis") + app("one", "apps", "c", "busybox:latest") +
		app("one", "apps", "d", "alpine@sha256:"+strings.Repeat("ab", 32))
	_, d := prePullerAt(t, "  refresh: 24h\n", apps, noon, "")
	ds := daemonSet(t, d)
	want := "[alpine@sha256:" + strings.Repeat("ab", 32) + " IfNotPresent busybox:latest Always nginx:1 IfNotPresent redis Always]"
	if got := fmt.Sprint(pulled(ds)); got != want {
		t.Errorf("pull policies %s, want %s", got, want)
	}
	bucket := dig(ds, "spec", "template", "metadata", "annotations", "laiki.io/refreshed")
	if bucket != "2030-01-01T00:00:00Z" {
		t.Errorf("refresh annotation %v, want the start of the interval", bucket)
	}
	same := func(at time.Time) bool {
		_, d2 := prePullerAt(t, "  refresh: 24h\n", apps, at, "")
		a, _ := json.Marshal(ds)
		b, _ := json.Marshal(daemonSet(t, d2))
		return string(a) == string(b)
	}
	if !same(noon.Add(11 * time.Hour)) {
		t.Error("within the interval the DaemonSet must render the same")
	}
	if same(noon.Add(12 * time.Hour)) {
		t.Error("once the interval passes the pod template must change")
	}

	// Nothing whose tag can move: nothing to refresh, no roll.
	_, d = prePullerAt(t, "  refresh: 24h\n", app("one", "apps", "a", "nginx:1"), noon, "")
	if a := dig(daemonSet(t, d), "spec", "template", "metadata", "annotations", "laiki.io/refreshed"); a != nil {
		t.Errorf("no image to refresh, yet annotation %v", a)
	}
	// No refresh (the default): pulled once, as before.
	_, d = prePullerAt(t, "", apps, noon, "")
	ds = daemonSet(t, d)
	if a := dig(ds, "spec", "template", "metadata", "annotations", "laiki.io/refreshed"); a != nil || strings.Contains(fmt.Sprint(pulled(ds)), "Always") {
		t.Errorf("without refresh, no roll and no Always: %v %v", a, pulled(ds))
	}
}

// An app with pre-pull: false is not pulled (its image is, when another
// app runs it), and the key never reaches ShinyProxy.
func TestPrePullerOptOut(t *testing.T) {
	apps := app("one", "apps", "a", "nginx:1", "  pre-pull: false\n") + app("one", "apps", "b", "redis:7", "  pre-pull: false\n") +
		app("two", "apps", "c", "redis:7") + app("one", "apps", "d", "httpd:2", "  pre-pull: true\n")
	res, d := prePullerAt(t, "", apps, noon, "")
	if res.Failed() {
		t.Fatalf("pre-pull is an app key:\n%s", messages(res))
	}
	if got := fmt.Sprint(pulled(daemonSet(t, d))); got != "[httpd:2 IfNotPresent redis:7 IfNotPresent]" {
		t.Errorf("pulled %s", got)
	}
	if _, ok := appSpec(t, d, "a")["pre-pull"]; ok {
		t.Error("pre-pull is Laiki's: it must not reach ShinyProxy")
	}
	_, d = prePullerAt(t, "", app("one", "apps", "a", "nginx:1", "  pre-pull: false\n"), noon, "")
	if ds := daemonSet(t, d); ds != nil {
		t.Errorf("no image to pull, no DaemonSet: %v", pulled(ds))
	}
}

// The DaemonSet tolerates what the platform says and what the apps' pod
// patches make their pods tolerate (not an opted-out app's), once each, so
// that images land on the nodes the apps run on; a toleration that is not
// one is left out with a warning; an app whose patch moves it off the
// nodes the PrePuller selects is warned.
func TestPrePullerTolerations(t *testing.T) {
	patch := func(ops string) string { return "  kubernetes-pod-patches: |\n" + ops }
	gpu := "    - {op: add, path: /spec/tolerations, value: [{key: gpu, operator: Exists, effect: NoSchedule}]}\n"
	apps := app("one", "apps", "a", "nginx:1", patch(gpu)) +
		app("one", "apps", "b", "nginx:2", patch(gpu+"    - {op: add, path: /spec/tolerations/-, value: {key: spot, operator: Equal, value: 'true', effect: NoExecute, tolerationSeconds: 60}}\n")) +
		app("one", "apps", "c", "nginx:3", "  pre-pull: false\n", patch("    - {op: add, path: /spec/tolerations, value: [{key: hidden, operator: Exists}]}\n")) +
		app("one", "apps", "d", "nginx:4", patch("    - {op: add, path: /spec/tolerations/-, value: {key: odd, operator: Sometimes}}\n")) +
		app("one", "apps", "e", "nginx:5", patch("    - {op: add, path: /spec/nodeSelector/disk, value: ssd}\n"+
			"    - {op: add, path: /spec/tolerations, value: [{key: user, operator: Equal, value: '#{proxy.userId}'}]}\n")) +
		app("one", "apps", "f", "nginx:6", patch("    - {op: replace, path: /spec/nodeSelector, value: {pool: gpu}}\n"))
	res, d := prePullerAt(t, "  tolerations: [{key: dedicated, operator: Equal, value: apps, effect: NoSchedule}]\n", apps, noon, "")
	tol, _ := json.Marshal(dig(daemonSet(t, d), "spec", "template", "spec", "tolerations"))
	want := `[{"effect":"NoSchedule","key":"dedicated","operator":"Equal","value":"apps"},` +
		`{"effect":"NoSchedule","key":"gpu","operator":"Exists"},` +
		`{"effect":"NoExecute","key":"spot","operator":"Equal","tolerationSeconds":60,"value":"true"}]`
	if string(tol) != want {
		t.Errorf("tolerations\n %s\nwant\n %s", tol, want)
	}
	if f := findingWith(res, "odd", "not a toleration"); f == nil || f.Severity != finding.Warn {
		t.Errorf("no warning for the invalid toleration:\n%s", messages(res))
	}
	if f := findingWith(res, "proxy.userId", "fills it in as the app starts"); f == nil || f.Severity != finding.Notice {
		t.Errorf("no notice for the toleration ShinyProxy fills in:\n%s", messages(res))
	}
	if f := findingWith(res, "pool=gpu"); f == nil || f.Severity != finding.Warn || !strings.Contains(f.Resource, "/f") {
		t.Errorf("no warning at app f, which runs where the PrePuller does not pull:\n%s", messages(res))
	}
	if f := findingWith(res, "disk"); f != nil {
		t.Errorf("app e runs on a subset of the PrePuller's nodes: %s", f.Message)
	}
}

// A toleration of the PrePuller's own that the API server would refuse
// (it would refuse the whole DaemonSet) is left out with a warning at the
// PrePuller; the others are kept as written.
func TestPrePullerOwnTolerations(t *testing.T) {
	res, d := prePullerAt(t, "  tolerations: [{key: a, operator: Exists}, {key: y, operator: Bogus}, notamap, {key: a, operator: Exists}]\n",
		app("one", "apps", "a", "nginx:1"), noon, "")
	tol, _ := json.Marshal(dig(daemonSet(t, d), "spec", "template", "spec", "tolerations"))
	if want := `[{"key":"a","operator":"Exists"}]`; string(tol) != want {
		t.Errorf("tolerations\n %s\nwant\n %s", tol, want)
	}
	for _, why := range []string{"operator Bogus", "not a mapping"} {
		if f := findingWith(res, "PrePuller apps/pull leaves out its toleration", why); f == nil || f.Severity != finding.Warn || f.Field != "laiki-spec.tolerations" {
			t.Errorf("no warning at the PrePuller for its toleration (%s):\n%s", why, messages(res))
		}
	}
}

// max-images keeps the images most apps run (then by name) and names the
// ones it leaves out.
func TestPrePullerMaxImages(t *testing.T) {
	apps := app("one", "apps", "a1", "a:1") + app("two", "apps", "a2", "a:1") + app("one", "apps", "a3", "a:1") +
		app("one", "apps", "z1", "z:1") + app("two", "apps", "z2", "z:1") +
		app("one", "apps", "m", "m:1") + app("one", "apps", "b", "b:1")
	res, d := prePullerAt(t, "  max-images: 2\n", apps, noon, "")
	if got := fmt.Sprint(pulled(daemonSet(t, d))); got != "[a:1 IfNotPresent z:1 IfNotPresent]" {
		t.Errorf("pulled %s, want the two images most apps run", got)
	}
	if f := findingWith(res, "max-images", "b:1, m:1"); f == nil || f.Severity != finding.Warn {
		t.Errorf("no warning naming the images left out:\n%s", messages(res))
	}
}
