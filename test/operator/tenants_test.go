package operator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/kube"
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
