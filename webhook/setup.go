package webhook

import (
	"context"
	"maps"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/cluster"
)

// Setup registers the two webhooks on a manager's webhook server, reading
// the cluster's Laiki objects through the manager's cache and rebuilding the
// state when one changes.
func Setup(ctx context.Context, mgr ctrl.Manager, a *Admission) error {
	a.Reader = mgr.GetCache()
	if a.Options.Load.ConfigMaps == nil {
		a.Options.Load.ConfigMaps = cluster.ConfigMaps(mgr.GetAPIReader())
	}
	a.MarkDirty()
	for _, kind := range cluster.Kinds() {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Kind: kind})
		inf, err := mgr.GetCache().GetInformer(ctx, u)
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { a.MarkDirty() },
			// A status write (the reconciler's own, on every run) changes
			// nothing the webhook judges against: only a new generation or
			// new metadata (names, owner) does.
			UpdateFunc: func(old, obj any) {
				o, ok1 := old.(*unstructured.Unstructured)
				n, ok2 := obj.(*unstructured.Unstructured)
				if !ok1 || !ok2 || o.GetGeneration() != n.GetGeneration() || !maps.Equal(o.GetAnnotations(), n.GetAnnotations()) || !maps.Equal(o.GetLabels(), n.GetLabels()) {
					a.MarkDirty()
				}
			},
			DeleteFunc: func(any) { a.MarkDirty() },
		}); err != nil {
			return err
		}
	}
	if err := mgr.Add(everyReplica(a.refresh)); err != nil {
		return err
	}
	srv := mgr.GetWebhookServer()
	srv.Register(MutatePath, &admission.Webhook{Handler: Mutator{a}})
	srv.Register(ValidatePath, &admission.Webhook{Handler: Validator{a}})
	return nil
}

// everyReplica is a manager runnable that runs without the leader lease:
// every replica serves the webhook, so every replica re-reads the sources.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

// Configurations returns the mutating and validating webhook configurations
// for a webhook served by a Service (namespace/name) whose CA is caBundle:
// every Laiki kind, on create and update (and, to validate, delete), with no
// side effects, so that server-side dry-run takes the same path.
func Configurations(namespace, service string, caBundle []byte) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	timeout := int32(10)
	rules := func(ops ...admissionregistrationv1.OperationType) []admissionregistrationv1.RuleWithOperations {
		return []admissionregistrationv1.RuleWithOperations{{
			Operations: ops,
			Rule: admissionregistrationv1.Rule{
				APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{v1alpha1.GroupVersion.Version}, Resources: []string{"*"},
			},
		}}
	}
	create, update, del := admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete
	client := func(path string) admissionregistrationv1.WebhookClientConfig {
		p := path
		return admissionregistrationv1.WebhookClientConfig{
			Service:  &admissionregistrationv1.ServiceReference{Namespace: namespace, Name: service, Path: &p},
			CABundle: caBundle,
		}
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: "laiki"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.laiki.io", ClientConfig: client(MutatePath), Rules: rules(create, update), FailurePolicy: &fail, SideEffects: &none,
			MatchPolicy: &equivalent, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: "laiki"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			// Deletes too: a team may not delete another team's objects.
			Name: "validate.laiki.io", ClientConfig: client(ValidatePath), Rules: rules(create, update, del), FailurePolicy: &fail, SideEffects: &none,
			MatchPolicy: &equivalent, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	return mutating, validating
}
