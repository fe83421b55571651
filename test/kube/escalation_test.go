package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/test/attack"
)

func admin(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(restCfg, client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every way a team could reach platform power through `kubectl apply`,
// each refused by the webhook on a real API server (RBAC here lets the team
// write any Laiki object: the webhook is what stands in the way).
func TestEscalationThroughWebhook(t *testing.T) {
	ctx := context.Background()
	c, _ := as(t, "alice", "team-a")
	// The other namespace exists (another team's): only the webhook refuses.
	if err := admin(t).Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kube.Name("Other")}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	other := strings.ReplaceAll(app("elsewhere", ""), "target-namespace: ShinyProxy", "target-namespace: Other")
	for name, tc := range map[string]struct {
		text string
		// edit changes the object before it is sent.
		edit func(map[string]any)
		want string
	}{
		"pod patches":              {text: app("patch", "  kubernetes-pod-patches: \"- op: add\"\n"), want: "kubernetes-pod-patches is a platform-level setting"},
		"extra manifests":          {text: app("manifests", "  kubernetes-additional-manifests: [\"kind: ClusterRoleBinding\"]\n"), want: "platform-level setting"},
		"host path":                {text: app("hostpath", "  container-volumes: [\"/:/host\"]\n"), want: "mounts a directory of the node"},
		"another team's namespace": {text: other, want: "may not bind resources to namespace Other"},
		"an annotation naming another namespace": {text: app("sneaky", ""), edit: func(o map[string]any) {
			o["metadata"].(map[string]any)["annotations"] = map[string]any{kube.AnnotationNamespace: "Other"}
		}, want: "annotation laiki.io/namespace"},
		"a target of its own": {text: strings.Replace(exampleText(t, "platform/shinyproxy.yaml"), "name: ShinyProxy", "name: mine", 1) + "  fqdn: mine.example.com\n",
			want: "may not declare a target"},
		"a pre-processor of its own": {text: strings.Replace(exampleText(t, "platform/app-defaults.yaml"), "name: ShinyProxyAppDefaults", "name: mine", 1),
			want: "may not declare a pre-processor"},
	} {
		t.Run(name, func(t *testing.T) {
			obj := object(t, tc.text)
			if tc.edit != nil {
				tc.edit(obj.Object)
			}
			err := c.Create(ctx, obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want a refusal containing %q, got %v", tc.want, err)
			}
		})
	}
	// Privileged is not refused but taken away: the platform's override.
	obj := object(t, app("privileged", "  container-privileged: true\n"))
	create(t, c, obj)
	if got := get(t, c, obj)["container-privileged"]; got != false {
		t.Errorf("container-privileged stored as %v; the platform's override makes it false", got)
	}
}

// Through kubectl as through a pull request: every platform-only key and
// host-path volumes in every spelling ShinyProxy binds, and a Spring
// expression or property placeholder in every string-valued key, are
// refused from a team and admitted from the platform; privileged in any
// spelling is stored as the platform's override, under its own name.
func TestEscalationBySpellingThroughWebhook(t *testing.T) {
	ctx := context.Background()
	team, _ := as(t, "alice", "team-a")
	platform, _ := as(t, "pat", "platform-admins")
	type tcase struct{ id, extra, want string }
	var cases []tcase
	n := 0
	for key, value := range attack.PlatformKeys {
		if key == "container-privileged" {
			continue // the platform's override takes it away: below
		}
		for _, spelt := range attack.Spellings(key) {
			n++
			cases = append(cases, tcase{fmt.Sprintf("k%d", n), "  " + spelt + ": " + value + "\n", "platform"})
		}
	}
	for _, e := range attack.Expressions() {
		n++
		if e.Key == "container-image" {
			cases = append(cases, tcase{fmt.Sprintf("e%d", n), "", attack.ExpressionRefused}) // see image below
			continue
		}
		cases = append(cases, tcase{fmt.Sprintf("e%d", n), "  " + e.Key + ": " + e.Value + "\n", attack.ExpressionRefused})
	}
	// The app's text, with its image replaced by an expression when extra is empty.
	text := func(id, extra string) string {
		if extra == "" {
			return strings.Replace(app(id, ""), "registry.example.com/team/"+id+":1", "\"#{'registry.evil.com/x:1'}\"", 1)
		}
		return app(id, extra)
	}
	for _, c := range cases {
		err := team.Create(ctx, object(t, text(c.id, c.extra)))
		if err == nil || !strings.Contains(err.Error(), c.want) && !strings.Contains(err.Error(), "mounts a directory") {
			t.Errorf("team: %s: want a refusal containing %q, got %v", strings.TrimSpace(c.extra), c.want, err)
		}
		create(t, platform, object(t, text("p"+c.id, c.extra)))
	}
	for i, spelt := range attack.Spellings("container-privileged") {
		obj := object(t, app(fmt.Sprintf("priv%d", i), "  "+spelt+": true\n"))
		create(t, team, obj)
		spec := get(t, team, obj)
		if spec["container-privileged"] != false || spec[spelt] != nil {
			t.Errorf("%s: stored %v; the override makes container-privileged false, under its own name", spelt, spec)
		}
	}
}
