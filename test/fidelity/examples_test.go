package fidelity

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sjson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// render runs a laiki.yaml as `laiki render --config` does, and returns
// the result and every object it renders, by target.
func render(t *testing.T, cfgFile string) (*pipeline.Result, map[*workflow.Target][]*unstructured.Unstructured) {
	t.Helper()
	cfg, err := source.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	d := workflow.RenderAndJudge(res)
	out := map[*workflow.Target][]*unstructured.Unstructured{}
	for _, tg := range d.Targets {
		for _, o := range tg.Objects {
			raw, err := o.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{}
			if err := k8sjson.Unmarshal(raw, &u.Object); err != nil {
				t.Fatal(err)
			}
			out[tg] = append(out[tg], u)
		}
	}
	return res, out
}

// ensureNamespace makes a namespace, as laiki apply makes a target's
// namespace when it is missing: an object cannot be created, even in a
// dry run, in a namespace that does not exist.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := admin.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// createDryRun asks the API server to create obj, and to apply it as
// Laiki's field manager does, without storing anything.
func createDryRun(obj *unstructured.Unstructured) error {
	ctx := context.Background()
	if err := admin.Create(ctx, obj.DeepCopy(), client.DryRunAll); err != nil {
		return err
	}
	return admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner("laiki"), client.ForceOwnership, client.DryRunAll)
}

func objectName(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// The README's main job and the other bundled example deploy as written:
// nothing to warn about, and every object they render is one the API
// server takes, in the namespace its target's objects go to.
func TestExamplesDeployAsWritten(t *testing.T) {
	for _, cfg := range []string{"laiki.yaml", "laiki-with-data.yaml"} {
		t.Run(cfg, func(t *testing.T) {
			res, objects := render(t, filepath.Join(repo, "examples", cfg))
			if len(res.Findings) > 0 {
				for _, f := range res.Findings {
					t.Errorf("%s: %s: %s", f.Location, f.Severity, f.Message)
				}
			}
			kinds := map[string]bool{}
			for tg, objs := range objects {
				for _, u := range objs {
					if u.GetNamespace() != "shinyproxy" {
						t.Errorf("%s of target %s/%s: not in the namespace shinyproxy", objectName(u), tg.Namespace, tg.Name)
					}
					ensureNamespace(t, u.GetNamespace())
					if err := createDryRun(u); err != nil {
						t.Errorf("the API server refuses %s: %v", objectName(u), err)
					}
					kinds[u.GetKind()] = true
				}
			}
			for _, kind := range []string{"ShinyProxy", "DaemonSet", "ConfigMap", "PersistentVolumeClaim"} {
				if !kinds[kind] {
					t.Errorf("no %s rendered: %v", kind, kinds)
				}
			}
		})
	}
}

// App pods mount the Crane claim by its name alone, so they must run where
// it is: the ShinyProxy resource says so, for the claim the render makes.
func TestAppPodsWhereTheCraneClaimIs(t *testing.T) {
	_, objects := render(t, filepath.Join(repo, "examples", "laiki-with-data.yaml"))
	var pods, claim string
	var patches []string
	for _, objs := range objects {
		for _, u := range objs {
			switch u.GetKind() {
			case "ShinyProxy":
				pods, _, _ = unstructured.NestedString(u.Object, "spec", "proxy", "kubernetes", "namespace")
				specs, _, _ := unstructured.NestedSlice(u.Object, "spec", "proxy", "specs")
				for _, s := range specs {
					p, _ := s.(map[string]any)["kubernetes-pod-patches"].(string)
					patches = append(patches, p)
				}
			case "PersistentVolumeClaim":
				claim = u.GetNamespace() + "/" + u.GetName()
			}
		}
	}
	if claim == "" || pods == "" || !strings.HasPrefix(claim, pods+"/") {
		t.Errorf("app pods run in %q (proxy.kubernetes.namespace), and the Crane claim is %q", pods, claim)
	}
	if name := strings.TrimPrefix(claim, pods+"/"); len(patches) != 1 || !strings.Contains(patches[0], "claimName: "+name) {
		t.Errorf("the app does not mount the claim %s: %q", name, patches)
	}
}

// The design document's example, as it has it, draws a warning that its
// ShinyProxy target has no fqdn: the API server refuses its ShinyProxy
// resource for exactly that, and takes every other object it renders, in
// the namespace its Laiki namespace maps to.
func TestDesignExampleNeedsFqdn(t *testing.T) {
	res, objects := render(t, filepath.Join(repo, "test", "fixtures", "design", "laiki.yaml"))
	warned := false
	for _, f := range res.Findings {
		warned = warned || strings.Contains(f.Message, "no fqdn")
	}
	if !warned || res.Failed() {
		t.Errorf("want the design's example accepted with a warning for its fqdn: %v", res.Findings)
	}
	for tg, objs := range objects {
		for _, u := range objs {
			if want := workflow.KubeName(tg.Namespace); u.GetNamespace() != want {
				t.Errorf("%s: want the namespace %s", objectName(u), want)
			}
			ensureNamespace(t, u.GetNamespace())
			err := createDryRun(u)
			switch {
			case u.GetKind() == "ShinyProxy" && (err == nil || !strings.Contains(err.Error(), "fqdn")):
				t.Errorf("the API server must refuse %s for its fqdn: %v", objectName(u), err)
			case u.GetKind() != "ShinyProxy" && err != nil:
				t.Errorf("the API server refuses %s: %v", objectName(u), err)
			}
		}
	}
}
