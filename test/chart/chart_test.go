package chart

import (
	"reflect"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/webhook"
)

const ciValues = "charts/laiki/ci/test-values.yaml"

func TestLint(t *testing.T) {
	if out, err := helmRun(t, "lint", "--strict", "charts/laiki", "-f", ciValues); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// Without sources it installs too (objects from kubectl alone): see
	// TestInstallsEmptyWithPushSecret.
	if out, err := helmRun(t, "lint", "--strict", "charts/laiki"); err != nil {
		t.Errorf("lint without values: %v\n%s", err, out)
	}
}

// values.schema.json: a wrong value fails at install, naming it.
func TestWrongValuesFail(t *testing.T) {
	for name, tc := range map[string]struct{ set, want string }{
		"typo at the top":      {"webhok.enabled=false", "webhok"},
		"replicas not a count": {"replicas=two", "/replicas"},
		"bad failure policy":   {"webhook.failurePolicy=Maybe", "failurePolicy"},
		"bad interval":         {"interval=often", "/interval"},
		"bad source name":      {"sources[0].name=Platform Repo", "name"},
		"source without place": {"sources[2].name=nowhere", "sources/2"},
		"unknown source key":   {"sources[0].colour=red", "colour"},
		"bad log level":        {"logLevel=verbose", "logLevel"},
		"policy not .rego":     {"policies.readme\\.md=x", "readme.md"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := helmRun(t, "template", "laiki", "charts/laiki", "-f", ciValues, "--set", tc.set)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("--set %s: %v\n%s", tc.set, err, out)
			}
		})
	}
}

// The Deployment follows the conventions the issue sets: two replicas with
// leader election, probes, requests, a restricted security context.
func TestDeployment(t *testing.T) {
	objs := render(t, "laiki-system", "-f", ciValues)
	var d appsv1.Deployment
	into(t, find(objs, "Deployment", "laiki"), &d)
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d", *d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", psc)
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", sc)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("probes and requests are needed")
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"operator ", "--leader-elect=true", "--cert-secret=laiki-webhook-tls", "--webhook-configuration=laiki", "--push-secret-env=LAIKI_PUSH_SECRET"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %s: %s", want, args)
		}
	}
	var sa corev1.ServiceAccount
	into(t, find(objs, "ServiceAccount", "laiki"), &sa)
	if sa.Annotations["eks.amazonaws.com/role-arn"] == "" || pod.ServiceAccountName != sa.Name {
		t.Errorf("service account %+v, pod uses %s", sa.ObjectMeta, pod.ServiceAccountName)
	}
	if find(objs, "PodDisruptionBudget", "laiki") == nil || find(objs, "NetworkPolicy", "laiki") == nil || find(objs, "ServiceMonitor", "laiki") == nil {
		t.Error("PDB, NetworkPolicy and ServiceMonitor are asked for")
	}
}

// The chart's webhook configurations are the ones the code registers
// (webhook.Configurations): same paths, rules, policies.
func TestWebhookConfigurationsMatchCode(t *testing.T) {
	objs := render(t, "laiki-system", "-f", ciValues)
	wantM, wantV := webhook.Configurations("laiki-system", "laiki-webhook", nil)
	var m admissionregistrationv1.MutatingWebhookConfiguration
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	into(t, find(objs, "MutatingWebhookConfiguration", "laiki"), &m)
	into(t, find(objs, "ValidatingWebhookConfiguration", "laiki"), &v)
	strip := func(cc *admissionregistrationv1.WebhookClientConfig) { cc.CABundle = nil }
	for i := range m.Webhooks {
		strip(&m.Webhooks[i].ClientConfig)
	}
	for i := range v.Webhooks {
		strip(&v.Webhooks[i].ClientConfig)
	}
	if !reflect.DeepEqual(m.Webhooks, wantM.Webhooks) {
		t.Errorf("mutating webhooks differ from the code:\nchart %+v\ncode  %+v", m.Webhooks, wantM.Webhooks)
	}
	if !reflect.DeepEqual(v.Webhooks, wantV.Webhooks) {
		t.Errorf("validating webhooks differ from the code:\nchart %+v\ncode  %+v", v.Webhooks, wantV.Webhooks)
	}
}

// With cert-manager installed (auto), it makes the certificate and injects
// its CA; Laiki makes none and needs no Secret rights.
func TestCertManagerMode(t *testing.T) {
	const ns = "laiki-cm-mode"
	objs := render(t, ns, "-f", ciValues, "--api-versions", "cert-manager.io/v1")
	cert := find(objs, "Certificate", "laiki-webhook")
	if cert == nil || find(objs, "Issuer", "laiki-selfsigned") == nil {
		t.Fatal("no Certificate and Issuer with cert-manager's API present")
	}
	names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if len(names) == 0 || names[0] != "laiki-webhook."+ns+".svc" {
		t.Errorf("dnsNames %v", names)
	}
	if got := find(objs, "ValidatingWebhookConfiguration", "laiki").GetAnnotations()["cert-manager.io/inject-ca-from"]; got != ns+"/laiki-webhook" {
		t.Errorf("inject-ca-from %q", got)
	}
	var d appsv1.Deployment
	into(t, find(objs, "Deployment", "laiki"), &d)
	if strings.Contains(strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "), "--cert-secret") {
		t.Error("with cert-manager, Laiki must not make a certificate")
	}
	if strings.Contains(yamlOf(t, find(objs, "Role", "laiki")), "secrets") {
		t.Error("with cert-manager, no Secret rights")
	}
	// Both modes' objects are taken by the API server.
	applyAll(t, objs, ns)
}

func yamlOf(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	if u == nil {
		t.Fatal("missing object")
	}
	b, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// allowed asks the API server whether the chart's ServiceAccount may do
// something.
func allowed(t *testing.T, sa, namespace, verb string, gvr schema.GroupVersionResource, sub string) bool {
	t.Helper()
	return ask(t, sa, &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Group: gvr.Group, Version: gvr.Version,
		Resource: gvr.Resource, Subresource: sub})
}

// allowedName asks about one object by name (rules with resourceNames).
func allowedName(t *testing.T, sa, namespace, verb string, gvr schema.GroupVersionResource, name string) bool {
	t.Helper()
	return ask(t, sa, &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Group: gvr.Group, Version: gvr.Version,
		Resource: gvr.Resource, Name: name})
}

func ask(t *testing.T, sa string, attrs *authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               sa,
		Groups:             []string{"system:serviceaccounts", "system:authenticated"},
		ResourceAttributes: attrs,
	}}
	if err := admin.Create(ctx, sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// The chart's RBAC covers what the code does: every kind a workflow makes
// (a new workflow's kind fails here until the chart allows it), every
// Laiki kind and its status, the status ConfigMaps, events, the lease and
// the certificate's Secret; and nothing it does not need (Secrets outside
// its own, deleting claims).
func TestRBACCoversTheCode(t *testing.T) {
	const ns = "laiki-rbac"
	objs := render(t, ns, "-f", ciValues)
	applyAll(t, objs, ns)
	sa := "system:serviceaccount:" + ns + ":laiki"
	mapper := admin.RESTMapper()
	gvrOf := func(apiVersion, kind string) schema.GroupVersionResource {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: kind}, gv.Version)
		if err != nil {
			t.Fatalf("%s %s: %v", apiVersion, kind, err)
		}
		return m.Resource
	}
	for _, made := range workflow.Kinds() {
		apiVersion, kind, _ := strings.Cut(made, " ")
		gvr := gvrOf(apiVersion, kind)
		for _, verb := range []string{"get", "list", "watch", "create", "patch", "delete"} {
			if !allowed(t, sa, "any-team", verb, gvr, "") {
				t.Errorf("the operator cannot %s %s (a workflow makes them)", verb, gvr.Resource)
			}
		}
	}
	for _, kind := range cluster.Kinds() {
		gvr := gvrOf("laiki.io/v1alpha1", kind)
		for _, verb := range []string{"get", "list", "watch"} {
			if !allowed(t, sa, "any-team", verb, gvr, "") {
				t.Errorf("cannot %s %s", verb, gvr.Resource)
			}
		}
		if !allowed(t, sa, "any-team", "update", gvr, "status") {
			t.Errorf("cannot write the status of %s", gvr.Resource)
		}
	}
	core := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: r}
	}
	checks := []struct {
		verb, namespace string
		gvr             schema.GroupVersionResource
		want            bool
	}{
		{"create", "any-team", core("persistentvolumeclaims"), true},  // Crane's claims
		{"delete", "any-team", core("persistentvolumeclaims"), false}, // never pruned: they hold data
		{"create", "", core("namespaces"), true},
		{"create", "any-team", core("events"), true},
		{"update", ns, core("configmaps"), true}, // laiki-status, laiki-accepted
		{"create", ns, schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, true},
		{"update", ns, schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, true},
		{"get", "any-team", core("secrets"), false},
		{"create", ns, core("secrets"), true},
		{"delete", "", core("namespaces"), false},
		// Nothing it does not do: no pods, no RBAC, no CRDs, no service accounts' tokens.
		{"create", "any-team", core("pods"), false},
		{"create", "", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, false},
		{"create", "", schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, false},
		{"create", "any-team", core("serviceaccounts"), false},
		{"list", "", core("secrets"), false},
	}
	for _, c := range checks {
		if got := allowed(t, sa, c.namespace, c.verb, c.gvr, ""); got != c.want {
			t.Errorf("%s %s in %q: allowed %v, want %v", c.verb, c.gvr.Resource, c.namespace, got, c.want)
		}
	}
	// The webhook certificate's Secret and configurations, by name only.
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: sa,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "update", Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations", Name: "laiki"}}}
	if err := admin.Create(ctx, sar); err != nil || !sar.Status.Allowed {
		t.Errorf("cannot update its ValidatingWebhookConfiguration: %v %+v", err, sar.Status)
	}
	sar.Spec.ResourceAttributes.Name = "someone-elses"
	sar.Status = authorizationv1.SubjectAccessReviewStatus{}
	if err := admin.Create(ctx, sar); err != nil || sar.Status.Allowed {
		t.Errorf("may update another webhook configuration: %v %+v", err, sar.Status)
	}
}

// applyAll server-side applies every object (CRDs first) as helm would, in
// a namespace of the test's, and fails on any the API server refuses.
func applyAll(t *testing.T, objs []*unstructured.Unstructured, namespace string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := admin.Create(ctx, ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	var later []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			later = append(later, o)
			continue
		}
		apply(t, o)
	}
	for _, o := range later {
		if o.GetNamespace() == "" && namespaced(t, o) {
			o.SetNamespace(namespace)
		}
		apply(t, o)
	}
}

func namespaced(t *testing.T, o *unstructured.Unstructured) bool {
	t.Helper()
	var ok bool
	eventually(t, 10e9, func() bool {
		var err error
		ok, err = admin.IsObjectNamespaced(o)
		return err == nil
	}, func() string { return "no mapping for " + o.GetKind() })
	return ok
}

func apply(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	var err error
	eventually(t, 10e9, func() bool {
		// A CRD applied a moment ago may not be served yet.
		err = admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("helm"), client.ForceOwnership)
		return err == nil || !strings.Contains(err.Error(), "no matches for kind")
	}, func() string { return err.Error() })
	if err != nil {
		t.Errorf("%s %s/%s refused: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
}
