package webhook

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
)

// During a Git outage (a server that accepts and never answers), an
// admission request after a change in the cluster is answered within a
// second, from the sources as last read: Git is read by the refresher, off
// the path of requests.
func TestAnsweredDuringGitOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // accepted, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	dir := t.TempDir()
	write := func(name, text string) { writeFile(t, dir, name, text) }
	write("laiki.yaml", "sources:\n  - name: platform\n    path: platform\n    role: platform\n"+
		"  - name: team-a\n    git: {url: 'http://"+ln.Addr().String()+"/team.git', ref: main}\n    timeout: 3s\n    allow: {target-namespaces: [apps]}\n    subjects: {users: [alice]}\n")
	write("platform/sp.yaml", "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec: {proxy: {title: Apps}}\n")
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Admission{Config: cfg, Options: pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}}}
	ctx := context.Background()
	if _, err := a.State(ctx); err != nil { // the first state reads the sources (and waits out the timeout)
		t.Fatal(err)
	}
	obj := map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": "ShinyProxyApp",
		"metadata": map[string]any{"name": "demo", "namespace": "apps"},
		"spec":     map[string]any{"targetName": "sp", "id": "demo", "container-image": "registry.example.com/t/demo:1"}}
	raw, _ := json.Marshal(obj)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: raw}, UserInfo: authenticationv1.UserInfo{Username: "alice"}}}

	a.MarkDirty() // an object changed in the cluster
	start := time.Now()
	resp := (Validator{a}).Handle(ctx, req)
	if took := time.Since(start); took > time.Second {
		t.Errorf("the request took %s during the Git outage, want under 1s", took)
	}
	if !resp.Allowed {
		t.Errorf("refused: %+v", resp.Result)
	}
}
