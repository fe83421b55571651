package kube

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/webhook"
)

// corpus: the shared examples' team files, and a denial for each built-in
// rule, with the documents that are fine next to them.
func corpus(t *testing.T) map[string]string {
	files := map[string]string{
		"demo.yaml":         exampleText(t, "apps/shinyproxy-demo.yaml"),
		"ecr.yaml":          exampleText(t, "apps/ecr-repository.yaml"),
		"privileged.yaml":   app("p-privileged", "  container-privileged: true\n"),
		"own-env.yaml":      app("p-env", "  container-env: {PLATFORM_VERSION: mine, OWN: x}\n  container-memory-limit: 2Gi\n"),
		"image-upper.yaml":  strings.Replace(app("p-upper", ""), "registry.example.com/team/p-upper:1", "Team/Upper", 1),
		"image-bad.yaml":    strings.Replace(app("p-image", ""), "registry.example.com/team/p-image:1", "not an image", 1),
		"hostpath.yaml":     app("p-hostpath", "  container-volumes: [\"/etc:/host\"]\n"),
		"bad-quantity.yaml": app("p-quantity", "  container-cpu-limit: lots\n"),
		"typo.yaml":         app("p-typo", "  contaner-cmd: [R]\n"),
	}
	for i, key := range []string{"kubernetes-pod-patches: x", "kubernetes-additional-manifests: [x]", "kubernetes-additional-persistent-manifests: [x]",
		"docker-ipc: host", "docker-device-requests: [{}]", "docker-runtime: nvidia", "docker-group-add: [docker]", "docker-user: root",
		"container-network: host", "container-network-connections: [host]"} {
		files["platform-key-"+string(rune('a'+i))+".yaml"] = app("p-key-"+string(rune('a'+i)), "  "+key+"\n")
	}
	return files
}

// TestParity runs one corpus through `laiki check` (the engine on files) and
// through the webhook on the real API server (server-side dry run), and fails
// on any difference in verdict, mutation or message.
func TestParity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files := corpus(t)
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := *config
	cfg.Sources = append([]*source.Source(nil), config.Sources...)
	team := *cfg.Sources[1]
	team.Path = dir
	cfg.Sources[1] = &team
	res, err := pipeline.Run(ctx, pipeline.Options{Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	c, w := as(t, "alice", "team-a")
	checked := 0
	for _, r := range res.Resources {
		if r.Doc.Source.Name != "team-a" {
			continue
		}
		checked++
		name := filepath.Base(r.Doc.File)
		var wantMsgs, wantWarn []string
		for _, f := range res.FindingsFor(r.Doc) {
			if f.Severity.Blocking() {
				wantMsgs = append(wantMsgs, webhook.Message(f))
			} else if f.Severity == finding.Warn {
				wantWarn = append(wantWarn, webhook.Message(f))
			}
		}
		obj := object(t, files[name])
		w.take()
		err := c.Create(ctx, obj, client.DryRunAll)
		gotWarn := w.take()
		sort.Strings(wantWarn)
		sort.Strings(gotWarn)
		if !reflect.DeepEqual(wantWarn, gotWarn) && !(len(wantWarn) == 0 && len(gotWarn) == 0) {
			t.Errorf("%s: warnings differ\ncheck:   %q\nwebhook: %q", name, wantWarn, gotWarn)
		}
		if r.Accepted != (err == nil) {
			t.Errorf("%s: check accepted=%v, webhook error=%v", name, r.Accepted, err)
			continue
		}
		if err != nil {
			for _, m := range wantMsgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%s: the webhook's denial lacks %q: %v", name, m, err)
				}
			}
			continue
		}
		// The mutation: the object the API server would store carries the
		// spec the engine gave.
		d := *r.Doc
		d.Spec = r.Spec
		want, err := kube.ToObject(&d)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(want["spec"], obj.Object["spec"]) {
			t.Errorf("%s: mutation differs\ncheck:   %v\nwebhook: %v", name, want["spec"], obj.Object["spec"])
		}
	}
	if checked != len(files) {
		t.Errorf("checked %d of %d documents", checked, len(files))
	}
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}
