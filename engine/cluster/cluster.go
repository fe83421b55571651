// Package cluster reads the Laiki objects in a Kubernetes cluster as Laiki
// documents: what the admission webhook judges against and what the
// reconcile loop deploys besides its Git sources.
package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/types"
)

// Source is the name under which objects read from the cluster take part
// in a run when they name no source of their own (laiki.io/source, which
// the webhook sets to the creator's source).
const Source = "kubernetes"

// Owner gives the source an object read from the cluster is judged as: the
// source its laiki.io/source annotation names, with that source's role (a
// source laiki.yaml no longer has is a team's: it has no platform power).
// An object without one was written before Laiki stamped owners: a target
// or pre-processor only the platform could have written (the webhook
// refuses them from teams), a resource anyone could, so it is judged as a
// team's.
func Owner(cfg *source.Config, obj *unstructured.Unstructured) document.SourceRef {
	if name := obj.GetAnnotations()[kube.AnnotationSource]; name != "" {
		if cfg != nil {
			if s := cfg.Named(name); s != nil {
				return s.Ref()
			}
		}
		return document.SourceRef{Name: name, Role: source.RoleTeam}
	}
	// Fail closed: only the kinds only the platform may write are the
	// platform's; any other (a resource, or a kind this program does not
	// know) is judged as a team's.
	if platformKinds()[obj.GetKind()] {
		return document.SourceRef{Name: Source, Role: source.RolePlatform}
	}
	return document.SourceRef{Name: Source, Role: source.RoleTeam}
}

// platformKinds are the kinds of pre-processors and targets.
func platformKinds() map[string]bool {
	out := map[string]bool{kube.PreProcessorKind: true}
	for _, n := range types.TargetNames() {
		t, _ := types.Target(n)
		out[t.Kind] = true
	}
	return out
}

// Kinds lists the Laiki kinds: pre-processors, then every registered target
// and resource type.
func Kinds() []string {
	kinds := []string{kube.PreProcessorKind}
	for _, n := range types.TargetNames() {
		t, _ := types.Target(n)
		kinds = append(kinds, t.Kind)
	}
	for _, n := range types.ResourceNames() {
		r, _ := types.Resource(n)
		kinds = append(kinds, r.Kind)
	}
	return kinds
}

// GVK of a Laiki kind.
func GVK(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Kind: kind}
}

// Documents lists every Laiki object (none of a kind whose CRD is not
// installed) and reads each as a document of its Owner; objects
// maps each document back to its object (for its generation and status). An object that does not read as one Laiki
// document is left out: the webhook refuses such objects, so only one
// written while the webhook was down can be one.
func Documents(ctx context.Context, r client.Reader, cfg *source.Config) (docs []*document.Document, objects map[*document.Document]*unstructured.Unstructured, err error) {
	objects = map[*document.Document]*unstructured.Unstructured{}
	for _, kind := range Kinds() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(GVK(kind + "List"))
		err := r.List(ctx, list)
		if meta.IsNoMatchError(err) {
			continue // Laiki's CRDs are not installed: no objects of the kind
		}
		if err != nil {
			return nil, nil, fmt.Errorf("listing %s: %w", kind, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			d, _, err := ObjectDocument(item.Object, Owner(cfg, item))
			if err == nil && d != nil {
				docs = append(docs, d)
				objects[d] = item
			}
		}
	}
	return docs, objects, nil
}

// ObjectDocument reads an object as a Laiki document. Its File names the
// object (Kind/namespace/name), so that an update is recognised as the same
// document and a finding says which object it is about.
func ObjectDocument(obj map[string]any, src document.SourceRef) (*document.Document, []finding.Finding, error) {
	// Read as a tree, not written out as YAML and read back: the webhook
	// does this for every request.
	top, err := kube.ObjectNode(obj)
	if err != nil {
		return nil, nil, err
	}
	u := unstructured.Unstructured{Object: obj}
	file := fmt.Sprintf("%s/%s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
	parsed := document.ParseNode(src, file, top, document.DefaultLimits)
	if len(parsed.Documents) != 1 {
		return nil, parsed.Findings, fmt.Errorf("%s: not one Laiki document", file)
	}
	d := parsed.Documents[0]
	return d, append(parsed.Findings, parsed.ByDocument[d]...), nil
}

// Scheme knows the built-in kinds and Laiki's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}

// ConfigMaps reads ConfigMaps for sources of laiki.yaml that name one
// (source.Options.ConfigMaps). Give it a reader that goes to the API server:
// a cached one would watch every ConfigMap of the cluster.
func ConfigMaps(r client.Reader) func(ctx context.Context, namespace, name string) (map[string]string, string, error) {
	return func(ctx context.Context, namespace, name string) (map[string]string, string, error) {
		cm := &corev1.ConfigMap{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm); err != nil {
			return nil, "", err
		}
		return cm.Data, cm.ResourceVersion, nil
	}
}
