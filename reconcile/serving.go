package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/image"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// Ready means serving, not applied (as kstatus has it): an app is
// Progressing until the ShinyProxy operator reports a latest instance
// running the configuration Laiki applied and the PrePuller's DaemonSet has
// rolled out on every node; an image its nodes cannot pull shows on the app,
// with the image and the node.

// Serving is what the components of the targets report after a run.
type Serving struct {
	// Waiting says, by Laiki namespace, why the apps bound there are not
	// served yet ("" or missing: served). Not by Kubernetes namespace: the
	// targets of one Laiki namespace may deploy to different ones.
	Waiting map[string][]string
	// PullFailed says, by image, which nodes cannot pull it and why.
	PullFailed map[string][]string
}

var shinyProxyGVK = schema.GroupVersionKind{Group: "openanalytics.eu", Version: "v1", Kind: "ShinyProxy"}

// serving reads the ShinyProxy operator's status of each ShinyProxy resource
// and the rollout and pods of each PrePuller DaemonSet Laiki applied.
func (r *Reconciler) serving(ctx context.Context, run *Run) *Serving {
	s := &Serving{Waiting: map[string][]string{}, PullFailed: map[string][]string{}}
	if r.Cluster == nil || run.Outcome == nil {
		return s
	}
	written := map[string]bool{}
	for _, c := range run.Outcome.Changes {
		if c.Err == nil && (c.Op == OpCreate || c.Op == OpUpdate) {
			written[c.Kind+"/"+c.Namespace+"/"+c.Name] = true
		}
	}
	for _, tg := range run.Desired.Targets {
		for _, o := range tg.Objects {
			// The object is looked for where the workflow put it
			// (workflow.KubeNamespace of its target).
			_, kind, ns, name := objectID(o)
			switch kind {
			case "ShinyProxy":
				if why := r.shinyProxyServing(ctx, ns, name, written["ShinyProxy/"+ns+"/"+name]); why != "" {
					s.Waiting[tg.Namespace] = append(s.Waiting[tg.Namespace], why)
				}
			case "DaemonSet":
				if why := r.prePullerServing(ctx, ns, name, s); why != "" {
					s.Waiting[tg.Namespace] = append(s.Waiting[tg.Namespace], why)
				}
			}
		}
	}
	return s
}

// objectID reads the apiVersion, kind, namespace and name of a rendered
// object from its tree (all a target keeps of it once encoded).
func objectID(o workflow.Ordered) (apiVersion, kind, namespace, name string) {
	value := func(n *yaml.Node, key string) *yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	if v := value(o.Node, "apiVersion"); v != nil {
		apiVersion = v.Value
	}
	if k := value(o.Node, "kind"); k != nil {
		kind = k.Value
	}
	if n := value(value(o.Node, "metadata"), "namespace"); n != nil {
		namespace = n.Value
	}
	if n := value(value(o.Node, "metadata"), "name"); n != nil {
		name = n.Value
	}
	return apiVersion, kind, namespace, name
}

// shinyProxyServing says why a ShinyProxy resource does not serve the
// configuration Laiki applied yet ("" when it does): written this run (the
// operator has not answered), no latest instance, or a newer instance
// still starting.
func (r *Reconciler) shinyProxyServing(ctx context.Context, ns, name string, written bool) string {
	if written {
		return fmt.Sprintf("ShinyProxy %s/%s: the configuration was just applied; the ShinyProxy operator has not reported an instance running it", ns, name)
	}
	u := r.Applier.Live(shinyProxyGVK.GroupVersion().String(), "ShinyProxy", ns, name)
	if u == nil {
		return fmt.Sprintf("ShinyProxy %s/%s: not found", ns, name)
	}
	instances, _, _ := unstructured.NestedSlice(u.Object, "status", "instances")
	latest, newest := int64(-1), int64(-1)
	for _, i := range instances {
		m, _ := i.(map[string]any)
		rev, _ := m["revision"].(int64)
		if is, _ := m["isLatestInstance"].(bool); is && rev > latest {
			latest = rev
		}
		newest = max(newest, rev)
	}
	switch {
	case latest < 0:
		return fmt.Sprintf("ShinyProxy %s/%s: the ShinyProxy operator reports no running instance yet", ns, name)
	case newest > latest:
		return fmt.Sprintf("ShinyProxy %s/%s: the ShinyProxy operator is starting the instance with the new configuration", ns, name)
	}
	return ""
}

// prePullerServing says why a PrePuller DaemonSet has not rolled out ("" when
// it has), and records the images its pods cannot pull.
func (r *Reconciler) prePullerServing(ctx context.Context, ns, name string, s *Serving) string {
	u := r.Applier.Live("apps/v1", "DaemonSet", ns, name)
	ds := &appsv1.DaemonSet{}
	if u == nil || runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, ds) != nil {
		return fmt.Sprintf("PrePuller %s/%s: just applied; its images are being pulled", ns, name)
	}
	st := ds.Status
	rolledOut := st.ObservedGeneration >= ds.Generation && st.UpdatedNumberScheduled >= st.DesiredNumberScheduled && st.NumberReady >= st.DesiredNumberScheduled
	// A pod that cannot pull keeps the DaemonSet from being ready: its
	// pods are read only then.
	pods := &corev1.PodList{}
	if sel := ds.Spec.Selector; sel != nil && !rolledOut {
		if err := r.Cluster.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(sel.MatchLabels)); err == nil {
			for _, p := range pods.Items {
				for _, cs := range p.Status.ContainerStatuses {
					if w := cs.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName") {
						s.PullFailed[cs.Image] = append(s.PullFailed[cs.Image], fmt.Sprintf("node %s: %s %s", p.Spec.NodeName, w.Reason, w.Message))
					}
				}
			}
		}
	}
	if !rolledOut {
		return fmt.Sprintf("PrePuller %s/%s: its images are pulled on %d of %d nodes", ns, name, st.NumberReady, st.DesiredNumberScheduled)
	}
	return ""
}

// progress turns an accepted app's verdict into Progressing or
// ImagePullFailed when the components of its Laiki namespace ns do not
// serve it yet.
func (s *Serving) progress(ns, ref string, v verdict) verdict {
	if s == nil || !v.ready {
		return v
	}
	// Keyed by the image the PrePuller pulls: the one that runs, mapped as
	// the workflows map it (the tag kept as written).
	pulled, _ := image.Runnable(ref)
	if fails := s.PullFailed[pulled]; len(fails) > 0 {
		sort.Strings(fails)
		return verdict{reason: v1alpha1.ImagePullFailedReason, progressing: true,
			message: fmt.Sprintf("image %s cannot be pulled: %s", ref, strings.Join(fails, "; "))}
	}
	if waits := s.Waiting[ns]; len(waits) > 0 {
		return verdict{reason: v1alpha1.ProgressingReason, progressing: true, message: "applied; " + strings.Join(waits, "; ")}
	}
	return v
}
