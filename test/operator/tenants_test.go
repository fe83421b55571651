package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/test/ecrserver"
	"github.com/laiki-platform/laiki/test/gittest"
)

// An object made with kubectl is judged as its creator's source, not as the
// platform's: a rule for team apps holds for team-b's kubectl object as for
// its Git file, and an object that names no source (written before Laiki
// stamped owners) is judged as a team's; an object of a platform source
// keeps the platform's power.
func TestClusterObjectsJudgedAsTheirSource(t *testing.T) {
	ctx := context.Background()
	ns := "tenants-role"
	namespace(t, kube.Name(ns))
	dir := t.TempDir()
	files := platformFiles(ns)
	files["registry.rego"] = "package laiki.governance.registry\n\ndeny contains \"team images come from registry.example.com\" if {\n" +
		"\tinput[\"laiki-source\"].role != \"platform\"\n\tnot startswith(input[\"laiki-spec\"][\"container-image\"], \"registry.example.com/\")\n}\n"
	gittest.Write(t, filepath.Join(dir, "platform"), files)
	gittest.Write(t, filepath.Join(dir, "team-b"), map[string]string{"git.yaml": appFile(ns, "from-git", "docker.io/evil/x:1")})
	cfg := "sources:\n  - name: platform\n    path: platform\n    role: platform\n" +
		"  - name: team-b\n    path: team-b\n    allow:\n      target-namespaces: [" + ns + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "laiki.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, owner := range map[string]string{"by-team-b": "team-b", "unstamped": "", "by-platform": "platform"} {
		obj := clusterApp(ns, name, name, "docker.io/evil/x:1")
		if owner != "" {
			obj.SetAnnotations(map[string]string{kube.AnnotationSource: owner})
		}
		if err := admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Delete(ctx, obj) })
	}
	r := runLaiki(t, "apply", "--config", filepath.Join(dir, "laiki.yaml"), "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(),
		"--instance", "tenants-role", "--dry-run")
	for _, want := range []string{"team-b/git.yaml", "ShinyProxyApp/" + kube.Name(ns) + "/by-team-b", "ShinyProxyApp/" + kube.Name(ns) + "/unstamped"} {
		found := false
		for _, line := range strings.Split(r.stderr, "\n") {
			if strings.Contains(line, want) && strings.Contains(line, "team images come from registry.example.com") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s must be denied as a team's:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "ShinyProxyApp/"+kube.Name(ns)+"/by-platform:") {
		t.Errorf("the platform's object keeps the platform's power:\n%s", r.stderr)
	}
}

// Team B declares an app and an ECR repository with the id team A uses, on
// a platform whose ECR repositories are force-deleted with their resource:
// on the real API server and the ECR wire-protocol server, `laiki apply`
// (with its memory in the cluster) keeps team A's app running unchanged and
// its repository with its images, and refuses team B's claims at their own
// lines, naming team A.
func TestDuplicateIdFromAnotherTeam(t *testing.T) {
	srv := startECR(t)
	env := awsEnv(srv, ecrserver.SecretKey)
	ns := "tenants-dup"
	namespace(t, kube.Name(ns))
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), map[string]string{"shinyproxy.yaml": "laiki-metadata:\n  target-type: ShinyProxy\n  name: apps\n  namespace: " + ns +
		"\nlaiki-spec:\n  fqdn: apps.example.com\n  proxy:\n    title: Apps\n  laiki-ecr:\n    name-prefix: shiny/\n    on-delete: force\n"})
	gittest.Write(t, filepath.Join(dir, "team-a"), map[string]string{"zeta.yaml": appFile(ns, "zeta", "registry.example.com/a/zeta:1"), "zeta-ecr.yaml": ecrFile(ns, "zeta")})
	gittest.Write(t, filepath.Join(dir, "team-b"), map[string]string{".keep": ""})
	teams(t, dir, ns, "team-a", "team-b")
	apply := func() result {
		return runWithEnv(t, env, "apply", "--config", filepath.Join(dir, "laiki.yaml"), "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(),
			"--instance", "tenants-dup", "--status-namespace", kube.Name(ns), "--aws-max-backoff", "100ms")
	}
	// (Other tests' Laiki objects share this API server: exit codes speak
	// of them too, so what is checked is what happened to these teams.)
	if r := apply(); srv.Repo(ecrRegion, "shiny/zeta") == nil || ids(t, kube.Name(ns), "apps") != "zeta" {
		t.Fatalf("team A's apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	gittest.Write(t, filepath.Join(dir, "team-b"), map[string]string{"zeta.yaml": appFile(ns, "zeta", "registry.example.com/b/evil:1"), "zeta-ecr.yaml": ecrFile(ns, "zeta")})
	r := apply()
	if r.code == 0 {
		t.Errorf("team B's claims must be refused (exit 1)\n%s%s", r.stdout, r.stderr)
	}
	for _, file := range []string{"team-b/zeta.yaml", "team-b/zeta-ecr.yaml"} {
		if !strings.Contains(r.stderr, file) || !strings.Contains(r.stderr, "belongs to source team-a") {
			t.Errorf("%s: no refusal naming team-a:\n%s", file, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "team-a/zeta") && strings.Contains(r.stderr, "declared more than once") {
		t.Errorf("nothing is said against team A:\n%s", r.stderr)
	}
	u, err := shinyProxy(t, kube.Name(ns), "apps")
	if err != nil {
		t.Fatal(err)
	}
	if got := apps(u)["zeta"]["container-image"]; got != "registry.example.com/a/zeta:1" {
		t.Errorf("zeta runs %v, want team A's image", got)
	}
	if srv.Repo(ecrRegion, "shiny/zeta") == nil {
		t.Error("team A's ECR repository was deleted")
	}
	// Without the memory (apply from CI with no status namespace) no owner
	// is known and both claims are refused: a contested resource is not a
	// removed one, so its repository is neither deleted nor orphaned.
	r = runWithEnv(t, env, "apply", "--config", filepath.Join(dir, "laiki.yaml"), "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(),
		"--instance", "tenants-dup", "--aws-max-backoff", "100ms")
	if repo := srv.Repo(ecrRegion, "shiny/zeta"); repo == nil || repo.Tags["laiki.io/orphaned"] != "" {
		t.Errorf("a contested repository must stay as it is: %+v\n%s%s", repo, r.stdout, r.stderr)
	}
}

// Team B brings app files that together would grow the ShinyProxy resource
// past what the API server takes (each file within the file budget): on
// the real API server, its apps over its budget are refused at their files,
// and team A's change still deploys.
func TestOversizedContributionDoesNotStopOthers(t *testing.T) {
	ns := "tenants-size"
	namespace(t, kube.Name(ns))
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), platformFiles(ns))
	gittest.Write(t, filepath.Join(dir, "team-a"), map[string]string{"a.yaml": appFile(ns, "a", "registry.example.com/a/a:1")})
	gittest.Write(t, filepath.Join(dir, "team-b"), map[string]string{".keep": ""})
	teams(t, dir, ns, "team-a", "team-b")
	apply := func() result {
		return runLaiki(t, "apply", "--config", filepath.Join(dir, "laiki.yaml"), "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(),
			"--instance", "tenants-size", "--status-namespace", kube.Name(ns))
	}
	if r := apply(); ids(t, kube.Name(ns), "apps") != "a" {
		t.Fatalf("first apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// 14 files of about 200 KB: 2.8 MB of container-env in one resource.
	files := map[string]string{}
	for f := 0; f < 14; f++ {
		var b strings.Builder
		b.WriteString(appFile(ns, "big"+strconv.Itoa(f), "registry.example.com/b/big:1"))
		b.WriteString("  container-env:\n")
		for i := 0; i < 4000; i++ {
			fmt.Fprintf(&b, "    VARIABLE_%05d: %s\n", i, strings.Repeat("v", 30))
		}
		files[fmt.Sprintf("big%02d.yaml", f)] = b.String()
	}
	gittest.Write(t, filepath.Join(dir, "team-b"), files)
	gittest.Write(t, filepath.Join(dir, "team-a"), map[string]string{"a.yaml": appFile(ns, "a", "registry.example.com/a/a:2")})
	r := apply()
	if r.code == 0 || !strings.Contains(r.stderr, "over the budget") || !strings.Contains(r.stderr, "team-b/big01.yaml") {
		t.Errorf("team B's apps over its budget must be refused at their files (exit 1), got %d\n%s", r.code, tail(r.stderr, 2000))
	}
	u, err := shinyProxy(t, kube.Name(ns), "apps")
	if err != nil {
		t.Fatal(err)
	}
	if got := apps(u)["a"]["container-image"]; got != "registry.example.com/a/a:2" {
		t.Errorf("team A's change must deploy: a runs %v\n%s", got, tail(r.stdout, 2000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Team B names its app's Crane data repository after team A's app, asking
// for read-write access for itself: on the real API server, `laiki apply`
// keeps team A's repository and its access in Crane's configuration, leaves
// team B's app out with an error at its file, and team A's app mounts its
// data as before.
func TestCraneRepositoryNotTakenFromAnotherTeam(t *testing.T) {
	ns := "tenants-crane"
	namespace(t, kube.Name(ns))
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), platformFiles(ns))
	gittest.Write(t, filepath.Join(dir, "team-a"), map[string]string{"zeta.yaml": appFile(ns, "zeta", "registry.example.com/a/zeta:1") +
		"  crane-data-repository:\n    mount-read-only: true\n    read-access: {groups: [team-a]}\n"})
	gittest.Write(t, filepath.Join(dir, "team-b"), map[string]string{"aaa.yaml": appFile(ns, "aaa", "registry.example.com/b/aaa:1") +
		"  crane-data-repository:\n    name: zeta\n    mount-read-only: false\n    read-access: {groups: [team-b]}\n    write-access: {groups: [team-b]}\n"})
	teams(t, dir, ns, "team-a", "team-b")
	r := runLaiki(t, "apply", "--config", filepath.Join(dir, "laiki.yaml"), "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(),
		"--instance", "tenants-crane", "--status-namespace", kube.Name(ns))
	if r.code == 0 || !strings.Contains(r.stderr, "team-b/aaa.yaml") || !strings.Contains(r.stderr, "Crane repository zeta already belongs to") {
		t.Errorf("team B's claim must be refused at its file (exit 1), got %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cm := &corev1.ConfigMap{}
	if err := admin.Get(context.Background(), client.ObjectKey{Namespace: kube.Name(ns), Name: "crane-config"}, cm); err != nil {
		t.Fatal(err)
	}
	if text := cm.Data["application.yml"]; !strings.Contains(text, "team-a") || strings.Contains(text, "team-b") {
		t.Errorf("Crane's configuration must grant team-a only:\n%s", text)
	}
	u, err := shinyProxy(t, kube.Name(ns), "apps")
	if err != nil {
		t.Fatal(err)
	}
	running := apps(u)
	if _, ok := running["aaa"]; ok {
		t.Error("team B's app must be left out")
	}
	if _, ok := running["zeta"]; !ok {
		t.Errorf("team A's app must run: %v", ids(t, kube.Name(ns), "apps"))
	}
}

// teams writes dir/laiki.yaml: the platform source (dir/platform) and a
// team source of each name (dir/<name>), each allowed namespace ns.
func teams(t *testing.T, dir, ns string, names ...string) string {
	t.Helper()
	cfg := "sources:\n  - {name: platform, path: platform, role: platform}\n"
	for _, n := range names {
		cfg += "  - {name: " + n + ", path: " + n + ", allow: {target-namespaces: [" + ns + "]}}\n"
	}
	file := filepath.Join(dir, "laiki.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
