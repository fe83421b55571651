package workflow_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// fabric8Pod is the pod ShinyProxy (containerproxy 1.2) hands to an app's
// kubernetes-pod-patches, as fabric8 7.1 serialises it: volumes and
// volumeMounts are NON_EMPTY, so with no container-volumes neither key is
// there at all. Each container volume "host:path" is a hostPath volume
// named shinyproxy-volume-<i>, mounted at path.
func fabric8Pod(t *testing.T, containerVolumes []string) []byte {
	t.Helper()
	container := map[string]any{"name": "sp-container-1", "image": "nginx:1", "securityContext": map[string]any{"privileged": false}}
	spec := map[string]any{"containers": []any{container}}
	var volumes, mounts []any
	for i, v := range containerVolumes {
		host, path, _ := strings.Cut(v, ":")
		name := fmt.Sprintf("shinyproxy-volume-%d", i)
		volumes = append(volumes, map[string]any{"name": name, "hostPath": map[string]any{"path": host}})
		mounts = append(mounts, map[string]any{"name": name, "mountPath": path})
	}
	if len(volumes) > 0 {
		spec["volumes"] = volumes
		container["volumeMounts"] = mounts
	}
	pod, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "sp-pod-1"}, "spec": spec})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// applyPodPatches applies an app's kubernetes-pod-patches (YAML, as
// ShinyProxy reads them) to a pod as RFC 6902 JSON Patch.
func applyPodPatches(t *testing.T, patches string, pod []byte) (map[string]any, error) {
	t.Helper()
	var ops []any
	if err := yaml.Unmarshal([]byte(patches), &ops); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := patch.Apply(pod)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

// names lists the values of key in a list of objects.
func names(list any, key string) []string {
	var out []string
	l, _ := list.([]any)
	for _, e := range l {
		m, _ := e.(map[string]any)
		out = append(out, fmt.Sprint(m[key]))
	}
	slices.Sort(out)
	return out
}

// renderedApp renders one app of target apps/one (the Kubernetes backend)
// with the platform's files and the extra platform documents given, and
// gives the app as ShinyProxy gets it.
func renderedApp(t *testing.T, platformDocs, appDoc string) map[string]any {
	t.Helper()
	dir := tree(t, map[string]string{
		"laiki.yaml":         "sources:\n  - {name: platform, path: platform, role: platform}\n",
		"platform/p.yaml":    platformFiles,
		"platform/more.yaml": platformDocs,
		"platform/app.yaml":  appDoc,
	})
	res := runConfig(t, filepath.Join(dir, "laiki.yaml"))
	d := workflow.RenderAndJudge(res)
	for _, f := range d.Findings {
		if f.Severity.Blocking() {
			t.Fatalf("%s: %s", f.Location, f.Message)
		}
	}
	spec, _ := dig(plain(t, byName(t, d, "apps", "one").Config), "proxy", "specs", 0).(map[string]any)
	if spec == nil {
		t.Fatal("the app was not rendered")
	}
	return spec
}

// The data volume and its mount are added to what the pod has, never in
// place of it, and never fail on a pod that has none: Laiki's patch is
// applied, as ShinyProxy applies it, to the pod as fabric8 serialises it,
// whatever container-volumes and earlier pod patches (the app's or a
// pre-processor's) made of its volume lists.
func TestCranePodPatchKeepsOtherVolumes(t *testing.T) {
	const data = "  crane-data-repository: {read-access: {users: [jack]}}\n"
	const cache = "- {op: add, path: /spec/volumes, value: [{name: cache, emptyDir: {}}]}\n"
	const cacheMount = "- {op: add, path: /spec/containers/0/volumeMounts, value: [{name: cache, mountPath: /cache}]}\n"
	patches := func(ops ...string) string {
		return "  kubernetes-pod-patches: |\n" + indentLines(strings.Join(ops, ""), "    ")
	}
	preProcessor := func(spec string) string {
		return "laiki-metadata: {pre-processor-name: ShinyProxyAppDefaultsPreProcessor, name: d, target-namespace: apps, target-name: one}\nlaiki-spec:\n" + spec
	}
	for _, tc := range []struct {
		name             string
		platform, app    string
		containerVolumes []string // what the pod has from container-volumes
		volumes, mounts  []string // what it must have after the patches
	}{
		{name: "no volumes at all", app: data,
			volumes: []string{"laiki-crane-data"}, mounts: []string{"/mnt/data"}},
		{name: "container-volumes", app: data + "  container-volumes: ['/srv/x:/x']\n", containerVolumes: []string{"/srv/x:/x"},
			volumes: []string{"laiki-crane-data", "shinyproxy-volume-0"}, mounts: []string{"/mnt/data", "/x"}},
		{name: "a pre-processor's container-volumes", platform: preProcessor("  append: {container-volumes: ['/srv/p:/p']}\n"), app: data,
			containerVolumes: []string{"/srv/p:/p"},
			volumes:          []string{"laiki-crane-data", "shinyproxy-volume-0"}, mounts: []string{"/mnt/data", "/p"}},
		{name: "an earlier patch makes both lists", app: data + patches(cache, cacheMount),
			volumes: []string{"cache", "laiki-crane-data"}, mounts: []string{"/cache", "/mnt/data"}},
		{name: "an earlier patch makes the volumes only", app: data + patches(cache),
			volumes: []string{"cache", "laiki-crane-data"}, mounts: []string{"/mnt/data"}},
		{name: "a pre-processor's patch", platform: preProcessor("  fallback:\n" + indentLines(patches(cache, cacheMount), "  ")), app: data,
			volumes: []string{"cache", "laiki-crane-data"}, mounts: []string{"/cache", "/mnt/data"}},
		{name: "container-volumes and an earlier patch appending", containerVolumes: []string{"/srv/x:/x"},
			app:     data + "  container-volumes: ['/srv/x:/x']\n" + patches("- {op: add, path: /spec/volumes/-, value: {name: cache, emptyDir: {}}}\n"),
			volumes: []string{"cache", "laiki-crane-data", "shinyproxy-volume-0"}, mounts: []string{"/mnt/data", "/x"}},
		{name: "an earlier patch removes the volumes", containerVolumes: []string{"/srv/x:/x"},
			app:     data + "  container-volumes: ['/srv/x:/x']\n" + patches("- {op: remove, path: /spec/volumes}\n", "- {op: remove, path: /spec/containers/0/volumeMounts}\n"),
			volumes: []string{"laiki-crane-data"}, mounts: []string{"/mnt/data"}},
		{name: "an earlier patch replaces the container", app: data + patches(
			"- {op: replace, path: /spec/containers/0, value: {name: c, image: 'nginx:2', volumeMounts: [{name: cache, mountPath: /cache}]}}\n", cache),
			volumes: []string{"cache", "laiki-crane-data"}, mounts: []string{"/cache", "/mnt/data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := renderedApp(t, tc.platform, "laiki-metadata: {resource-type: ShinyProxyApp, target-name: one, target-namespace: apps}\nlaiki-spec:\n  id: a\n  container-image: nginx:1\n"+tc.app)
			text, _ := app["kubernetes-pod-patches"].(string)
			pod, err := applyPodPatches(t, text, fabric8Pod(t, tc.containerVolumes))
			if err != nil {
				t.Fatalf("ShinyProxy could not start the app: %v\npatches:\n%s", err, text)
			}
			if got := names(dig(pod, "spec", "volumes"), "name"); !slices.Equal(got, tc.volumes) {
				t.Errorf("volumes %v, want %v\npatches:\n%s", got, tc.volumes, text)
			}
			if got := names(dig(pod, "spec", "containers", 0, "volumeMounts"), "mountPath"); !slices.Equal(got, tc.mounts) {
				t.Errorf("mounts %v, want %v\npatches:\n%s", got, tc.mounts, text)
			}
		})
	}
}

func indentLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

// On Docker the data is a bind mount added to the app's container-volumes.
func TestCraneDockerBindKeepsContainerVolumes(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":      "sources:\n  - {name: platform, path: platform, role: platform}\n",
		"platform/p.yaml": platformFiles,
		"platform/a.yaml": app("two", "apps", "a", "nginx:1", "  container-volumes: ['/srv/x:/x']\n  crane-data-repository: {read-access: {users: [jack]}}\n"),
	})
	d := workflow.RenderAndJudge(runConfig(t, filepath.Join(dir, "laiki.yaml")))
	got := fmt.Sprint(dig(plain(t, byName(t, d, "apps", "two").Config), "proxy", "specs", 0, "container-volumes"))
	if got != "[/srv/x:/x /srv/crane/a:/mnt/data]" {
		t.Errorf("container-volumes: %s", got)
	}
}

// teamApp runs the platform's files and one team's app file, app.yaml,
// with the laiki.yaml policy-data given, and renders the platform.
func teamApp(t *testing.T, policyData, spec string) (*pipeline.Result, *workflow.Desired) {
	t.Helper()
	cfg := "sources:\n  - {name: platform, path: platform, role: platform}\n" +
		"  - {name: team-a, path: team-a, allow: {resource-types: [ShinyProxyApp], target-namespaces: [apps]}}\n" + policyData
	dir := tree(t, map[string]string{
		"laiki.yaml":      cfg,
		"platform/p.yaml": platformFiles,
		"team-a/app.yaml": "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: one\n  target-namespace: apps\nlaiki-spec:\n  id: demo\n  container-image: nginx:1\n" + spec,
	})
	res := runConfig(t, filepath.Join(dir, "laiki.yaml"))
	return res, workflow.RenderAndJudge(res)
}

// dataAccess lists the data access rule's findings as "severity line: message".
func dataAccess(res *pipeline.Result) []string {
	var out []string
	for _, f := range res.Findings {
		if f.Policy == "laiki.governance.data_access" {
			out = append(out, fmt.Sprintf("%s %s:%d: %s", f.Severity, filepath.Base(f.File), f.Line, f.Message))
		}
	}
	return out
}

// jacksData is the design's repository: jack and jeff read and write it,
// and "the volume is not visible to any other user".
const jacksData = "  crane-data-repository:\n    mount-read-only: true\n    write-access: {users: [jack, jeff]}\n    read-access:\n      users: [jack, jeff]\n"

// An app shows its data to everyone who may open it: an app open to more
// people than read its Crane repository is a warning at its access line
// (or, open to all, at the repository's readers), a denial where the
// platform says so, and nothing when its users are readers.
func TestDataAccessGovernance(t *testing.T) {
	for _, tc := range []struct {
		name, policyData, access string
		want                     []string // the rule's findings
		accepted                 bool
	}{
		{name: "open to every user", access: "",
			want:     []string{"warn app.yaml:11: every ShinyProxy user may open this app and so see its data at /mnt/data, while Crane repository demo may be read only by users jack, jeff"},
			accepted: true},
		{name: "a user beyond the readers", access: "  access-users: [jack, bob]\n",
			want:     []string{"warn app.yaml:13: access-users: bob may open this app and so see its data at /mnt/data, but Crane repository demo may be read only by users jack, jeff"},
			accepted: true},
		{name: "a user beyond the readers, denied by the platform", policyData: "policy-data:\n  data-access: {enforce: deny}\n", access: "  access-users: [jack, bob]\n",
			want: []string{"deny app.yaml:13: access-users: bob may open this app and so see its data at /mnt/data, but Crane repository demo may be read only by users jack, jeff"}},
		{name: "an access-expression", access: "  access-expression: \"#{oidcUser.attributes.team == 'a'}\"\n",
			want:     []string{"warn app.yaml:13: access-expression: Laiki cannot tell whether everyone"},
			accepted: false}, // a team may not write a Spring expression at all: the baseline denies it
		{name: "readers only", access: "  access-users: [jeff, jack]\n", accepted: true},
		{name: "readers only, with the platform denying", policyData: "policy-data:\n  data-access: {enforce: deny}\n", access: "  access-users: jack\n", accepted: true},
		{name: "turned off", policyData: "policy-data:\n  data-access: {enforce: 'off'}\n", access: "", accepted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, d := teamApp(t, tc.policyData, jacksData+tc.access)
			got := dataAccess(res)
			if len(got) != len(tc.want) {
				t.Fatalf("findings %q, want %q", got, tc.want)
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("finding %q, want it to start %q", got[i], want)
				}
			}
			rendered := ids(t, byName(t, d, "apps", "one")) == "demo"
			if rendered != tc.accepted {
				t.Errorf("rendered %v, want %v", rendered, tc.accepted)
			}
			_, hasRepo := dig(plain(t, byName(t, d, "apps", "crane").Config), "app", "repositories").(map[string]any)["demo"]
			if hasRepo != tc.accepted {
				t.Errorf("Crane repository rendered %v, want %v", hasRepo, tc.accepted)
			}
		})
	}
}
