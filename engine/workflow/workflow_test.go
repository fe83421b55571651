package workflow_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/platformtest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func runConfig(t testing.TB, cfgFile string) *pipeline.Result {
	return platformtest.RunConfig(t, cfgFile)
}

func tree(t testing.TB, files map[string]string) string { return platformtest.Tree(t, files) }

func yamlOf(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// golden compares with testdata/NAME.golden.yaml (go test -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./engine/workflow -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s:\n%s", name, p, got)
	}
}

func target(t *testing.T, d *workflow.Desired, typ string) *workflow.Target {
	t.Helper()
	for _, tg := range d.Targets {
		if tg.TargetType == typ {
			return tg
		}
	}
	t.Fatalf("no %s target", typ)
	return nil
}

func plain(t testing.TB, o workflow.Ordered) map[string]any {
	t.Helper()
	raw, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// The golden files are the examples rendered: one per workflow.
func TestGoldenExamples(t *testing.T) {
	plainRun := workflow.Render(runConfig(t, "../../examples/laiki.yaml"))
	dataRun := workflow.Render(runConfig(t, "../../examples/laiki-with-data.yaml"))
	golden(t, "shinyproxy", yamlOf(t, target(t, plainRun, "ShinyProxy")))
	golden(t, "prepuller", yamlOf(t, target(t, plainRun, "PrePuller")))
	golden(t, "ecr", yamlOf(t, plainRun.External))
	golden(t, "crane", yamlOf(t, target(t, dataRun, "Crane")))
	golden(t, "shinyproxy-with-data", yamlOf(t, target(t, dataRun, "ShinyProxy")))
}

func TestExamplesDoneMeans(t *testing.T) {
	d := workflow.Render(runConfig(t, "../../examples/laiki-with-data.yaml"))
	sp := plain(t, target(t, d, "ShinyProxy").Config)
	app := dig(sp, "proxy", "specs", 0).(map[string]any)
	for k, v := range map[string]any{"container-cpu-request": 0.25, "container-cpu-limit": 1.0, "container-memory-request": "256Mi",
		"container-memory-limit": "512Mi", "container-privileged": false} {
		if app[k] != v {
			t.Errorf("%s = %v, want %v", k, app[k], v)
		}
	}
	if dig(app, "container-env", "PLATFORM_VERSION") != "v1.2" {
		t.Error("PLATFORM_VERSION not appended")
	}
	if _, ok := app["crane-data-repository"]; ok {
		t.Error("a Laiki-only key reached ShinyProxy")
	}
	var patches []map[string]any
	if err := yaml.Unmarshal([]byte(app["kubernetes-pod-patches"].(string)), &patches); err != nil {
		t.Fatal(err)
	}
	mount := dig(patches[1], "value", 0).(map[string]any)
	if mount["mountPath"] != "/mnt/data" || mount["readOnly"] != true {
		t.Errorf("mount = %v", mount)
	}
	crane := plain(t, target(t, d, "Crane").Config)
	if got := fmt.Sprint(dig(crane, "app", "repositories", "shinyproxy-demo", "write-access", "users")); got != "[jack jeff]" {
		t.Errorf("write-access users = %s", got)
	}
	if _, ok := crane["laiki-storage"]; ok {
		t.Error("laiki-storage must not reach Crane")
	}
	pp := plain(t, target(t, d, "PrePuller").Objects[0])
	if dig(pp, "spec", "template", "spec", "containers", 0, "image") != "openanalytics/shinyproxy-demo" {
		t.Errorf("the PrePuller must pull the demo image: %v", dig(pp, "spec", "template", "spec", "containers"))
	}
}

const platformFiles = `laiki-metadata: {target-type: ShinyProxy, name: one, namespace: apps}
laiki-spec:
  server: {port: 8080}
  zeta-unknown: kept
  proxy:
    title: One
    container-backend: kubernetes
    kubernetes:
      image-pull-secret: regcred
      node-selector: pool=apps,zone=a
  image: openanalytics/shinyproxy:3.2.0
  fqdn: one.example.com
---
laiki-metadata: {target-type: ShinyProxy, name: two, namespace: apps}
laiki-spec:
  proxy: {title: Two, container-backend: docker}
---
laiki-metadata: {target-type: ShinyProxy, name: three, namespace: other}
laiki-spec:
  proxy: {title: Three}
---
laiki-metadata: {target-type: PrePuller, name: pull, namespace: apps}
laiki-spec:
---
laiki-metadata: {target-type: Crane, name: crane, namespace: apps}
laiki-spec:
  app: {storage-location: /srv/crane}
  laiki-storage:
    kubernetes: {persistent-volume-claim: crane-rwx}
`

func app(target, ns, id, image string, extra ...string) string {
	return fmt.Sprintf("laiki-metadata: {resource-type: ShinyProxyApp, target-name: %s, target-namespace: %s}\nlaiki-spec:\n  id: %s\n  container-image: %s\n%s---\n",
		target, ns, id, image, strings.Join(extra, ""))
}

func platform(t *testing.T, apps string) (*pipeline.Result, *workflow.Desired) {
	t.Helper()
	dir := tree(t, map[string]string{
		"laiki.yaml":         "sources:\n  - {name: platform, path: platform, role: platform}\n",
		"platform/p.yaml":    platformFiles,
		"platform/apps.yaml": apps,
	})
	res := runConfig(t, filepath.Join(dir, "laiki.yaml"))
	return res, workflow.RenderAndJudge(res)
}

func byName(t *testing.T, d *workflow.Desired, ns, name string) *workflow.Target {
	t.Helper()
	for _, tg := range d.Targets {
		if tg.Namespace == ns && tg.Name == name {
			return tg
		}
	}
	t.Fatalf("no target %s/%s", ns, name)
	return nil
}

func ids(t *testing.T, tg *workflow.Target) string {
	var out []string
	for _, s := range dig(plain(t, tg.Config), "proxy", "specs").([]any) {
		out = append(out, s.(map[string]any)["id"].(string))
	}
	return strings.Join(out, ",")
}

func TestShinyProxy(t *testing.T) {
	res, d := platform(t, app("one", "apps", "b", "nginx:1")+app("one", "apps", "a", "nginx:2")+app("two", "apps", "c", "nginx:1")+
		app("three", "other", "a", "redis:7")+app("one", "apps", "bad", "nginx:1", "  container-memory-limit: lots\n"))
	if res.Failed() == false {
		t.Error("the bad app must make the run fail")
	}
	one, two, three := byName(t, d, "apps", "one"), byName(t, d, "apps", "two"), byName(t, d, "other", "three")
	if got := ids(t, one); got != "a,b" {
		t.Errorf("one: %s (apps by id, the rejected one left out)", got)
	}
	if got := ids(t, two); got != "c" {
		t.Errorf("two: %s", got)
	}
	if got := ids(t, three); got != "a" {
		t.Errorf("three: %s", got)
	}
	// The configuration keeps the platform's order and unknown keys, less the operator's keys.
	var keys []string
	cfg := one.Config.Node
	for i := 0; i < len(cfg.Content); i += 2 {
		keys = append(keys, cfg.Content[i].Value)
	}
	if strings.Join(keys, ",") != "server,zeta-unknown,proxy" {
		t.Errorf("application.yml keys: %v", keys)
	}
	cr := plain(t, one.Objects[0])
	if cr["apiVersion"] != "openanalytics.eu/v1" || cr["kind"] != "ShinyProxy" || dig(cr, "spec", "fqdn") != "one.example.com" ||
		dig(cr, "spec", "image") != "openanalytics/shinyproxy:3.2.0" || dig(cr, "spec", "proxy", "specs", 1, "id") != "b" {
		t.Errorf("custom resource: %v", cr)
	}
}

func TestPrePuller(t *testing.T) {
	_, d := platform(t, app("one", "apps", "a", "nginx:1")+app("two", "apps", "b", "nginx:1")+app("one", "apps", "c", "Team/App")+
		app("one", "apps", "d", "bad image")+app("three", "other", "e", "redis:7"))
	ds := plain(t, byName(t, d, "apps", "pull").Objects[0])
	pod := dig(ds, "spec", "template", "spec")
	var images []string
	for _, c := range dig(pod, "containers").([]any) {
		images = append(images, c.(map[string]any)["image"].(string))
		if fmt.Sprint(c.(map[string]any)["command"]) != "[/laiki-bin/busybox sleep 2147483647]" {
			t.Errorf("containers must not need a shell: %v", c.(map[string]any)["command"])
		}
	}
	if strings.Join(images, ",") != "nginx:1,team/app" {
		t.Errorf("images: %v (distinct, this namespace only, invalid left out)", images)
	}
	if fmt.Sprint(dig(pod, "imagePullSecrets")) != "[map[name:regcred]]" || fmt.Sprint(dig(pod, "nodeSelector")) != "map[pool:apps zone:a]" {
		t.Errorf("pull settings from ShinyProxy: %v %v", dig(pod, "imagePullSecrets"), dig(pod, "nodeSelector"))
	}
	hash := dig(ds, "spec", "template", "metadata", "annotations", "laiki.io/images-sha256")

	_, d2 := platform(t, app("one", "apps", "a", "nginx:1")+app("one", "apps", "z", "nginx:3"))
	ds2 := plain(t, byName(t, d2, "apps", "pull").Objects[0])
	if dig(ds2, "spec", "template", "metadata", "annotations", "laiki.io/images-sha256") == hash {
		t.Error("a changed image set must change the pod template")
	}
	_, d3 := platform(t, app("three", "other", "a", "nginx:1"))
	if n := len(byName(t, d3, "apps", "pull").Objects); n != 0 {
		t.Errorf("no images, no DaemonSet: %d objects", n)
	}
}

func TestCrane(t *testing.T) {
	data := func(extra string) string {
		return "  crane-data-repository:\n    mount-read-only: false\n    read-access: {groups: [readers]}\n" + extra
	}
	res, d := platform(t, app("one", "apps", "a", "nginx:1", data(""))+app("two", "apps", "b", "nginx:1", data("    name: shared\n"))+
		app("one", "apps", "c", "nginx:1", data("    name: shared\n"))+app("three", "other", "x", "nginx:1", data(""))+app("one", "apps", "plain", "nginx:1"))
	if !res.Failed() {
		t.Error("the apps with no Crane data must not pass quietly")
	}
	crane := plain(t, byName(t, d, "apps", "crane").Config)
	repos := dig(crane, "app", "repositories").(map[string]any)
	if _, ok := repos["a"]; !ok || len(repos) != 2 {
		t.Errorf("repositories: %v", repos)
	}
	one := plain(t, byName(t, d, "apps", "one").Config)
	for _, s := range dig(one, "proxy", "specs").([]any) {
		m := s.(map[string]any)
		switch m["id"] {
		case "a":
			if !strings.Contains(m["kubernetes-pod-patches"].(string), "claimName: crane-rwx") {
				t.Errorf("a: %v", m["kubernetes-pod-patches"])
			}
		case "plain":
			if m["kubernetes-pod-patches"] != nil {
				t.Error("no other app gets the volume")
			}
		case "c":
			t.Error("c's repository name is taken by b: it must be left out, not run without its data")
		}
	}
	two := plain(t, byName(t, d, "apps", "two").Config)
	if got := fmt.Sprint(dig(two, "proxy", "specs", 0, "container-volumes")); got != "[/srv/crane/shared:/mnt/data]" {
		t.Errorf("docker backend bind mount: %s", got)
	}
	if got := ids(t, byName(t, d, "other", "three")); got != "" {
		t.Errorf("an app with no Crane in its namespace is left out: %q", got)
	}
	var msgs []string
	for _, f := range d.Findings {
		msgs = append(msgs, f.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"Crane repository shared already belongs to", "namespace other has no Crane target"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing finding %q in:\n%s", want, all)
		}
	}
}

// A large generated platform renders the same, byte for byte, every time.
func TestLargePlatformDeterministic(t *testing.T) {
	var apps strings.Builder
	for i := range 1000 {
		extra := ""
		if i%7 == 0 {
			extra = "  crane-data-repository: {read-access: {users: [u" + fmt.Sprint(i) + "]}}\n"
		}
		apps.WriteString(app([]string{"one", "two"}[i%2], "apps", fmt.Sprintf("app-%04d", (i*7919)%1000), fmt.Sprintf("registry.example.com/app-%d:1", i%50), extra))
	}
	var first []byte
	for range 3 {
		_, d := platform(t, apps.String())
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = out
			if n := len(dig(plain(t, byName(t, d, "apps", "one").Config), "proxy", "specs").([]any)); n != 500 {
				t.Fatalf("want 500 apps in target one, got %d", n)
			}
			continue
		}
		if !bytes.Equal(first, out) {
			t.Fatal("render is not deterministic")
		}
	}
}

func TestExplain(t *testing.T) {
	res := runConfig(t, "../../examples/laiki-with-data.yaml")
	exps := workflow.Explain(res, workflow.Render(res), "shinyproxy", "shinyproxy-demo")
	if len(exps) != 1 || !exps[0].Accepted {
		t.Fatalf("explanations: %+v", exps)
	}
	from := map[string]string{}
	for _, o := range exps[0].Fields {
		from[o.Field] = o.By + " " + o.From
	}
	want := map[string]string{
		"id":                             "file ../../examples/apps-with-data/shinyproxy-demo.yaml:6:3",
		"container-cpu-limit":            "pre-processor ShinyProxyAppDefaultsPreProcessor shinyproxy/app-defaults (../../examples/platform/app-defaults.yaml:1), fallback",
		"container-env.PLATFORM_VERSION": "pre-processor ShinyProxyAppDefaultsPreProcessor shinyproxy/app-defaults (../../examples/platform/app-defaults.yaml:1), append",
		"container-privileged":           "pre-processor ShinyProxyAppDefaultsPreProcessor shinyproxy/app-defaults (../../examples/platform/app-defaults.yaml:1), override",
		"kubernetes-pod-patches":         "workflow ShinyProxyAppToCraneWorkflow (crane-data-repository, ../../examples/apps-with-data/shinyproxy-demo.yaml:8:3)",
	}
	for k, v := range want {
		if from[k] != v {
			t.Errorf("%s: %q, want %q", k, from[k], v)
		}
	}

	// An app's own value that an override replaced is the pre-processor's;
	// an app's own env entry next to an appended one stays the app's.
	dir := tree(t, map[string]string{
		"laiki.yaml":      "sources:\n  - {name: platform, path: platform, role: platform}\n",
		"platform/p.yaml": platformFiles,
		"platform/d.yaml": "laiki-metadata: {pre-processor-name: ShinyProxyAppDefaultsPreProcessor, name: d, target-namespace: apps}\nlaiki-spec:\n  append: {container-env: {V: '1'}}\n  override: {max-instances: 2}\n",
		"platform/a.yaml": app("one", "apps", "a", "nginx:1", "  max-instances: 5\n  container-env: {MINE: x}\n"),
	})
	res = runConfig(t, filepath.Join(dir, "laiki.yaml"))
	exps = workflow.Explain(res, workflow.Render(res), "apps", "a")
	from = map[string]string{}
	for _, o := range exps[0].Fields {
		from[o.Field] = o.By
	}
	if from["max-instances"] != "pre-processor" || from["container-env.MINE"] != "file" || from["container-env.V"] != "pre-processor" {
		t.Errorf("origins: %v", from)
	}
}

// A Crane target whose laiki-storage asks for a claim gets one
// (ReadWriteMany, its class and size), named as the apps' mounts name it;
// one that names an existing claim gets none.
func TestCraneClaim(t *testing.T) {
	_, d := platform(t, "laiki-metadata: {target-type: Crane, name: store, namespace: data}\nlaiki-spec:\n  app: {storage-location: /srv/crane/}\n"+
		"  laiki-storage:\n    kubernetes:\n      claim: {storage-class-name: efs, size: 10Gi}\n---\n")
	var pvc map[string]any
	for _, o := range byName(t, d, "data", "store").Objects {
		if m := plain(t, o); m["kind"] == "PersistentVolumeClaim" {
			pvc = m
		}
	}
	if pvc == nil {
		t.Fatal("no PersistentVolumeClaim for the Crane target's storage")
	}
	if dig(pvc, "metadata", "name") != "store-storage" || dig(pvc, "spec", "storageClassName") != "efs" ||
		dig(pvc, "spec", "resources", "requests", "storage") != "10Gi" || fmt.Sprint(dig(pvc, "spec", "accessModes")) != "[ReadWriteMany]" {
		t.Errorf("claim: %v", pvc)
	}
	for _, o := range byName(t, d, "apps", "crane").Objects {
		if plain(t, o)["kind"] == "PersistentVolumeClaim" {
			t.Error("a Crane target that names an existing claim must not get one made")
		}
	}
}

// lateRejections writes a platform whose render takes acceptances back
// (an image written in upper case, a data repository that cannot be
// had), for renders that must come to the same verdicts; it returns its
// laiki.yaml.
func lateRejections(t *testing.T) string {
	t.Helper()
	apps := app("sp", "apps", "upper", "Team/App:1") + app("sp", "apps", "fine", "nginx:1") +
		app("sp", "apps", "nodata", "nginx:1", "  crane-data-repository: {name: missing, crane: nowhere}\n")
	return filepath.Join(tree(t, map[string]string{
		"laiki.yaml":         "sources:\n  - {name: platform, path: platform, role: platform}\n",
		"platform/p.yaml":    platformFiles,
		"platform/apps.yaml": apps,
	}), "laiki.yaml")
}

// renderVerdicts runs and renders the platform of config with o: every
// finding and every resource's verdict as text, and the desired state.
func renderVerdicts(t *testing.T, config string, o workflow.Options) (string, *workflow.Desired) {
	t.Helper()
	res := runConfig(t, config)
	d := workflow.RenderAndJudgeWith(res, o)
	var b strings.Builder
	for _, f := range res.Findings {
		fmt.Fprintf(&b, "%s %s %s\n", f.Location, f.Severity, f.Message)
	}
	for _, r := range res.Resources {
		fmt.Fprintf(&b, "%s accepted=%v\n", r.Key(), r.Accepted)
	}
	return b.String(), d
}

// A render for the verdict only (laiki check) finds what a full one finds,
// taking back the same acceptances, and keeps no target's desired state.
func TestFindingsOnlyRender(t *testing.T) {
	config := lateRejections(t)
	full, _ := renderVerdicts(t, config, workflow.Options{})
	only, d := renderVerdicts(t, config, workflow.Options{FindingsOnly: true})
	if full != only {
		t.Errorf("verdicts differ:\nfull render:\n%s\nfindings only:\n%s", full, only)
	}
	if !strings.Contains(full, "upper") || !strings.Contains(full, "accepted=false") {
		t.Errorf("the platform draws no workflow finding to compare:\n%s", full)
	}
	for _, tg := range d.Targets {
		if tg.Config.Node != nil || len(tg.Objects) > 0 {
			t.Errorf("target %s/%s kept its desired state", tg.Namespace, tg.Name)
		}
	}
}

// A render that keeps its objects as JSON (the reconcile loop's) gives,
// object for object, the JSON of a full render's trees, with the same
// verdicts, and keeps of each tree only the object's identity.
func TestEncodedRender(t *testing.T) {
	config := lateRejections(t)
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	fullVerdicts, full := renderVerdicts(t, config, workflow.Options{Now: now})
	encodedVerdicts, encoded := renderVerdicts(t, config, workflow.Options{Now: now, Encoded: true})
	if fullVerdicts != encodedVerdicts {
		t.Errorf("verdicts differ:\nfull render:\n%s\nencoded:\n%s", fullVerdicts, encodedVerdicts)
	}
	objects := 0
	for i, tg := range encoded.Targets {
		ft := full.Targets[i]
		if tg.Config.Node != nil || len(tg.Objects) != len(ft.Objects) {
			t.Fatalf("target %s/%s: kept its configuration, or %d objects where a full render has %d", tg.Namespace, tg.Name, len(tg.Objects), len(ft.Objects))
		}
		for j := range tg.Objects {
			want, err := ft.Objects[j].MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if got := tg.JSON[j]; string(got) != string(want) {
				t.Errorf("target %s/%s object %d:\nencoded %s\nfull    %s", tg.Namespace, tg.Name, j, got, want)
			}
			if identity(tg.Objects[j]) != identity(ft.Objects[j]) || len(tg.Objects[j].Content) > 6 { // apiVersion, kind, metadata
				t.Errorf("target %s/%s object %d: kept %d keys of its tree, or not its identity", tg.Namespace, tg.Name, j, len(tg.Objects[j].Content)/2)
			}
			objects++
		}
	}
	if objects < 3 {
		t.Errorf("only %d objects rendered: nothing to compare", objects)
	}
}

// Shed keeps which objects each target has, not their content.
func TestShedKeepsIdentities(t *testing.T) {
	_, d := platform(t, app("sp", "apps", "one", "nginx:1"))
	var before []string
	for _, tg := range d.Targets {
		for _, o := range tg.Objects {
			before = append(before, identity(o))
		}
	}
	d.Shed()
	var after []string
	for _, tg := range d.Targets {
		if tg.Config.Node != nil {
			t.Errorf("%s kept its configuration", tg.Name)
		}
		for _, o := range tg.Objects {
			after = append(after, identity(o))
			if len(o.Content) > 6 {
				t.Errorf("%s kept more than its identity: %s", tg.Name, yamlOf(t, o))
			}
		}
	}
	if len(before) == 0 || strings.Join(before, ",") != strings.Join(after, ",") {
		t.Errorf("identities %v, then %v", before, after)
	}
}

func identity(o workflow.Ordered) string {
	var m struct {
		APIVersion, Kind string
		Metadata         struct{ Name, Namespace string }
	}
	raw, _ := o.MarshalJSON()
	_ = json.Unmarshal(raw, &m)
	return m.APIVersion + " " + m.Kind + " " + m.Metadata.Namespace + "/" + m.Metadata.Name
}
