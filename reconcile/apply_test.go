package reconcile

import (
	"context"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// Two targets that render one object (the same Kubernetes namespace and
// name) would each write it over the other on every run, and with objects
// applied concurrently, in no set order: the first target's stands, every
// run, and the other's is an error that names both.
func TestOneObjectTwoTargets(t *testing.T) {
	ns := &corev1.Namespace{}
	ns.Name = "apps"
	c := fake.NewClientBuilder().WithScheme(cluster.Scheme()).WithObjects(ns).Build()
	a := &Applier{Client: c, Reader: c, Instance: "twice"}
	configMap := func(value string) workflow.Ordered {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: apps}\ndata: {from: "+value+"}\n"), &n); err != nil {
			t.Fatal(err)
		}
		return workflow.Ordered{Node: n.Content[0]}
	}
	d := &workflow.Desired{Targets: []*workflow.Target{
		{Name: "a", Namespace: "team-a", Objects: []workflow.Ordered{configMap("a")}},
		{Name: "b", Namespace: "team-b", Objects: []workflow.Ordered{configMap("b")}},
	}}
	for run := range 3 {
		objs, err := a.Objects(d)
		if err != nil {
			t.Fatal(err)
		}
		out := a.Apply(context.Background(), objs)
		errs := out.Errors()
		if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "target team-b/b renders this object too, and target team-a/a first") {
			t.Fatalf("run %d: errors %v, want one naming both targets", run, errs)
		}
		got := &unstructured.Unstructured{}
		got.SetAPIVersion("v1")
		got.SetKind("ConfigMap")
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "apps", Name: "shared"}, got); err != nil {
			t.Fatal(err)
		}
		if from, _, _ := unstructured.NestedString(got.Object, "data", "from"); from != "a" {
			t.Errorf("run %d: the object holds target %s's, want the first target's", run, from)
		}
	}
}
