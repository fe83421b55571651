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

// spellings are other ways to write a key that ShinyProxy (Spring's relaxed
// binding) reads as the key: camelCase, snake_case, odd case, upper case.
func spellings(key string) []string {
	parts := strings.Split(key, "-")
	camel, odd := parts[0], ""
	for _, p := range parts[1:] {
		camel += strings.ToUpper(p[:1]) + p[1:]
	}
	for i, p := range parts {
		if i > 0 {
			odd += "-"
		}
		odd += strings.ToUpper(p[:1]) + p[1:]
	}
	return []string{camel, strings.ReplaceAll(key, "-", "_"), odd, strings.ToUpper(key)}
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
	keys := map[string]string{
		"container-volumes": "[\"/:/host\"]", "kubernetes-pod-patches": "\"- {op: add, path: /spec/hostNetwork, value: true}\"",
		"kubernetes-additional-manifests": "[x]", "kubernetes-additional-persistent-manifests": "[x]",
		"kubernetes-authorized-pod-patches": "[{patches: x}]", "kubernetes-authorized-additional-manifests": "[{manifests: [x]}]",
		"kubernetes-authorized-additional-persistent-manifests": "[{manifests: [x]}]", "docker-ipc": "host",
		"docker-device-requests": "[{driver: nvidia}]", "docker-runtime": "runc", "docker-group-add": "[root]", "docker-user": "root",
		"container-network": "host", "container-network-connections": "[host]",
	}
	type tcase struct{ id, extra, want string }
	var cases []tcase
	n := 0
	for key, value := range keys {
		for _, spelt := range spellings(key) {
			n++
			cases = append(cases, tcase{fmt.Sprintf("k%d", n), "  " + spelt + ": " + value + "\n", "platform"})
		}
	}
	for _, kv := range [][2]string{
		{"container-env", "{X: \"#{T(java.lang.Runtime).getRuntime().exec('id')}\"}"}, {"containerEnv", "{X: \"${AWS_SECRET_ACCESS_KEY}\"}"},
		{"container-cmd", "[R, \"#{1}\"]"}, {"labels", "{a: \"#{1}\"}"}, {"max-instances", "\"#{999}\""}, {"display-name", "\"#{1}\""},
		{"access-expression", "\"#{true}\""}, {"container-volumes", "[\"#{'/'}:/host\"]"}, {"http-headers", "{A: \"${X}\"}"},
		{"container-memory-limit", "\"#{'64Gi'}\""}, {"custom-app-details", "[{name: a, value: \"#{1}\"}]"},
	} {
		n++
		cases = append(cases, tcase{fmt.Sprintf("e%d", n), "  " + kv[0] + ": " + kv[1] + "\n", "which ShinyProxy's server evaluates"})
	}
	for _, c := range cases {
		err := team.Create(ctx, object(t, app(c.id, c.extra)))
		if err == nil || !strings.Contains(err.Error(), c.want) && !strings.Contains(err.Error(), "mounts a directory") {
			t.Errorf("team: %s: want a refusal containing %q, got %v", strings.TrimSpace(c.extra), c.want, err)
		}
		create(t, platform, object(t, strings.Replace(app("p"+c.id, c.extra), "resource-type", "resource-type", 1)))
	}
	for i, spelt := range spellings("container-privileged") {
		obj := object(t, app(fmt.Sprintf("priv%d", i), "  "+spelt+": true\n"))
		create(t, team, obj)
		spec := get(t, team, obj)
		if spec["container-privileged"] != false || spec[spelt] != nil {
			t.Errorf("%s: stored %v; the override makes container-privileged false, under its own name", spelt, spec)
		}
	}
}
