package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// The PrePuller's pods pull with the secrets its DaemonSet names (its own
// image-pull-secrets and the ShinyProxy targets'), which must be in the
// DaemonSet's namespace: a missing one makes a private image fail on every
// node, where no one looks. Only the cluster knows, so `laiki check` says
// nothing and a run with a cluster warns at the PrePuller target. Secrets
// are read as metadata only; where Laiki may not read them (the chart's
// operator may not), nothing is said: nothing is known.

var secretGVK = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}

// now is the time a run renders for.
func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// checkPullSecrets adds to the run's result a warning for each pull secret
// a PrePuller's DaemonSet names that its namespace does not have.
func (r *Reconciler) checkPullSecrets(ctx context.Context, run *Run) {
	if r.Cluster == nil || run.Desired == nil {
		return
	}
	var fs []finding.Finding
	for _, tg := range run.Desired.Targets {
		if tg.TargetType != "PrePuller" {
			continue
		}
		doc := prePullerDoc(run, tg)
		for i, o := range tg.Objects {
			_, kind, ns, name := objectID(o)
			if kind != "DaemonSet" || doc == nil {
				continue
			}
			raw, err := tg.ObjectJSON(i)
			if err != nil {
				continue
			}
			for _, secret := range pullSecrets(raw) {
				if r.secretMissing(ctx, ns, secret) {
					fs = append(fs, missingSecret(doc, ns, name, secret))
				}
			}
		}
	}
	if len(fs) > 0 {
		run.Result.AddWorkflowFindings(fs)
	}
}

// prePullerDoc is the document of a rendered target.
func prePullerDoc(run *Run, tg *workflow.Target) *document.Document {
	for _, d := range run.Result.Targets {
		if d.Type == tg.TargetType && d.Namespace == tg.Namespace && d.Name == tg.Name {
			return d
		}
	}
	return nil
}

// pullSecrets are the names under a rendered DaemonSet's
// spec.template.spec.imagePullSecrets (raw: its JSON).
func pullSecrets(raw []byte) []string {
	var ds struct {
		Spec struct {
			Template struct {
				Spec struct {
					ImagePullSecrets []struct {
						Name string `json:"name"`
					} `json:"imagePullSecrets"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if json.Unmarshal(raw, &ds) != nil {
		return nil
	}
	var out []string
	for _, s := range ds.Spec.Template.Spec.ImagePullSecrets {
		out = append(out, s.Name)
	}
	return out
}

// secretMissing says whether the API server answers that the secret is not
// there; any other answer (forbidden, unreachable) says nothing.
func (r *Reconciler) secretMissing(ctx context.Context, namespace, name string) bool {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(secretGVK)
	err := r.Cluster.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, meta)
	return apierrors.IsNotFound(err)
}

func missingSecret(doc *document.Document, namespace, daemonSet, secret string) finding.Finding {
	return finding.Finding{Severity: finding.Warn, Location: doc.Location(), Policy: workflow.CheckWorkflow, Source: doc.Source.Name,
		Resource: fmt.Sprintf("%s %s/%s", doc.Type, doc.Namespace, doc.Name),
		Message: fmt.Sprintf("the PrePuller's DaemonSet %s/%s pulls with the secret %s, which does not exist in namespace %s: its pods cannot pull the images of a registry that needs it; create it there (kubectl -n %s create secret docker-registry %s ...), or take it out of the PrePuller's image-pull-secrets or the ShinyProxy targets' proxy.kubernetes.image-pull-secret(s)",
			namespace, daemonSet, secret, namespace, namespace, secret)}
}
