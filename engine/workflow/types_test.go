package workflow_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
)

func TestSchemasFromGoTypes(t *testing.T) {
	app, _ := types.Resource("ShinyProxyApp")
	f := app.Schema.Fields
	for key, want := range map[string]schema.ValueType{
		"id": schema.String, "container-cpu-limit": schema.Quantity, "container-env": schema.StringMap, "container-cmd": schema.StringList,
		"access-groups": schema.StringOrList, "container-privileged": schema.Bool, "max-instances": schema.Int, "parameters": schema.Map,
		"container-specs": schema.Any, "crane-data-repository": schema.Object, "labels": schema.StringMap, "access-strict-expression": schema.String,
	} {
		if f[key].Type != want {
			t.Errorf("%s: %v, want %v", key, f[key].Type, want)
		}
	}
	if _, ok := f["targetName"]; ok {
		t.Error("object-only fields are not spec keys")
	}
	if !f["id"].Required || f["crane-data-repository"].Unknown != finding.Error || app.Schema.Unknown != finding.Error || !app.Schema.Bound ||
		!f["max-instances"].Expression || !f["container-memory-limit"].Expression || f["container-privileged"].Expression {
		t.Error("tags not read")
	}
}

func TestSchemaCheck(t *testing.T) {
	app, _ := types.Resource("ShinyProxyApp")
	ps := app.Schema.Check(map[string]any{
		"id": "../x", "container-cpu-limit": "lots", "access-groups": []any{"a", int64(1)},
		"crane-data-repository": map[string]any{"mount-read-only": "yes", "colour": "red"},
		"container-imag":        "x",
	})
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, strings.Join(p.Path, ".")+": "+p.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`id: id: "../x" is not a valid app id`,
		`container-cpu-limit: container-cpu-limit: "lots" is not a Kubernetes quantity`,
		`access-groups.1: access-groups[1] must be a string`,
		`crane-data-repository.mount-read-only: crane-data-repository.mount-read-only must be true or false`,
		`crane-data-repository.colour: unknown key crane-data-repository.colour`,
		`container-imag: unknown key container-imag for a ShinyProxy app (did you mean container-image?)`,
		`: the spec needs container-image`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
}

// The keys ShinyProxy 3.2.0 binds for an app in its flat notation (the
// setters of ShinyProxySpecProvider.ShinyProxySpec, and the fields of
// ShinyProxySpecExtension, ExternalAppSpecExtension, and containerproxy
// 1.2's KubernetesSpecExtension, EcsSpecExtension and
// ProxySharingSpecExtension), and which of them ShinyProxy evaluates as a
// Spring expression of a number or boolean (SpelField.Integer, .Long,
// .Boolean, or a quantity in SpelField.String). The schema must know every
// one of them: a key it does not know is refused from a team.
var shinyProxyKeys = map[string]bool{
	// ShinyProxySpec -> ProxySpec, ContainerSpec, AccessControl, PortMapping
	"id": false, "display-name": false, "description": false, "logo-url": false, "logo-width": false, "logo-height": false,
	"logo-style": false, "logo-classes": false, "favicon-path": false,
	"container-image": false, "container-cmd": false, "container-env": false, "container-env-file": false,
	"container-network": false, "container-network-connections": false, "container-dns": false, "container-volumes": false,
	"container-memory-request": true, "container-memory-limit": true, "container-cpu-request": true, "container-cpu-limit": true,
	"container-privileged": false, "labels": false, "port": false, "target-path": false, "additional-port-mappings": false,
	"access-groups": false, "access-users": false, "access-expression": false, "access-strict-expression": false,
	"docker-swarm-secrets": false, "docker-registry-domain": false, "docker-registry-username": false, "docker-registry-password": false,
	"docker-runtime": false, "docker-device-requests": false, "docker-user": false, "docker-ipc": false, "docker-group-add": false,
	"resource-name": false, "parameters": false, "max-lifetime": true, "stop-on-logout": false, "heartbeat-timeout": true,
	"add-default-http-headers": false, "http-headers": false, "cache-headers-mode": false, "max-total-instances": false,
	// ShinyProxySpecExtension
	"websocket-reconnection-mode": false, "shiny-force-full-reload": false, "max-instances": true, "hide-navbar-on-main-page-link": false,
	"always-show-switch-instance": false, "track-app-url": false, "template-group": false, "template-properties": false,
	"support-mail-to-address": false, "support-mail-subject": false, "custom-app-details": false,
	// ExternalAppSpecExtension
	"external-url": false,
	// KubernetesSpecExtension
	"kubernetes-pod-patches": false, "kubernetes-authorized-pod-patches": false, "kubernetes-additional-manifests": false,
	"kubernetes-authorized-additional-manifests": false, "kubernetes-additional-persistent-manifests": false,
	"kubernetes-authorized-additional-persistent-manifests": false,
	// EcsSpecExtension
	"ecs-task-role": false, "ecs-execution-role": false, "ecs-cpu-architecture": false, "ecs-operation-system-family": false,
	"ecs-ephemeral-storage-size": true, "ecs-efs-volumes": false, "ecs-managed-secrets": false, "ecs-enable-execute-command": true,
	"ecs-repository-credentials-parameter": false,
	// ProxySharingSpecExtension
	"minimum-seats-available": false, "allow-container-re-use": false, "scale-down-delay": false, "seats-per-container": false,
}

// laikiAppKeys are the app keys that are Laiki's own: ShinyProxy never sees them.
var laikiAppKeys = map[string]bool{"crane-data-repository": true, "pre-pull": true}

func TestSchemaIsShinyProxys(t *testing.T) {
	app, _ := types.Resource("ShinyProxyApp")
	for key, expression := range shinyProxyKeys {
		f, ok := app.Schema.Fields[key]
		switch {
		case !ok:
			t.Errorf("ShinyProxy binds %s; the schema does not know it", key)
		case f.Ignored != "":
			t.Errorf("ShinyProxy reads %s; the schema says it does not", key)
		case expression && !f.Expression && f.Type != schema.String:
			t.Errorf("ShinyProxy evaluates %s as a Spring expression; the schema takes no \"#{...}\" for it", key)
		}
	}
	for key, f := range app.Schema.Fields {
		if _, bound := shinyProxyKeys[key]; !bound && f.Ignored == "" && !laikiAppKeys[key] {
			t.Errorf("%s: ShinyProxy 3.2 does not bind it for an app, and the schema does not say so", key)
		}
	}
	// A number field ShinyProxy evaluates takes an expression; one it does not, does not.
	ps := app.Schema.Check(map[string]any{"id": "a", "container-image": "a", "max-instances": "#{groups.size()}",
		"container-memory-limit": "#{'1Gi'}", "port": "#{3838}", "container-labels": map[string]any{"a": "b"}})
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, strings.Join(p.Path, ".")+": "+string(p.Severity)+": "+p.Message)
	}
	if len(ps) != 2 || !strings.Contains(strings.Join(msgs, "\n"), "port: error: port must be a whole number") ||
		!strings.Contains(strings.Join(msgs, "\n"), "container-labels: warn: container-labels: ShinyProxy does not read container-labels") {
		t.Errorf("expressions and ignored keys:\n%s", strings.Join(msgs, "\n"))
	}
}

// Every spelling Spring binds to a key is read as the key; data (the names
// of container-env) never is; two spellings of one key are refused.
func TestCanonicalize(t *testing.T) {
	app, _ := types.Resource("ShinyProxyApp")
	spec := map[string]any{
		"ID": "a", "containerPrivileged": true, "container_volumes": []any{"/:/host"}, "Kubernetes-Pod-Patches": "x",
		"CONTAINER-IMAGE": "img", "container-env": map[string]any{"containerPrivileged": "data", "My_Var": "1"},
		"crane-data-repository": map[string]any{"mountReadOnly": false, "read_access": map[string]any{"Groups": []any{"g"}}},
		"container-env.X":       "y", "container-volumes[0]": "/:/h", "logoURL": "u",
	}
	rs, ps := app.Schema.Canonicalize(spec)
	if len(ps) != 0 {
		t.Errorf("problems: %+v", ps)
	}
	for _, k := range []string{"id", "container-privileged", "container-volumes", "kubernetes-pod-patches", "container-image", "logo-url"} {
		if _, ok := spec[k]; !ok {
			t.Errorf("%s not canonical: %v", k, spec)
		}
	}
	env := spec["container-env"].(map[string]any)
	if env["containerPrivileged"] != "data" || env["My_Var"] != "1" {
		t.Errorf("data keys must stay as written: %v", env)
	}
	repo := spec["crane-data-repository"].(map[string]any)
	if _, ok := repo["mount-read-only"]; !ok {
		t.Errorf("nested object keys are canonical too: %v", repo)
	}
	if ra, _ := repo["read-access"].(map[string]any); ra == nil || ra["groups"] == nil {
		t.Errorf("nested object keys are canonical too: %v", repo)
	}
	if _, ok := spec["container-env.X"]; !ok {
		t.Error("a property path is not a spelling of a key; it stays (and is unknown)")
	}
	if len(rs) != 9 {
		t.Errorf("renames: %+v", rs)
	}
	_, ps = app.Schema.Canonicalize(map[string]any{"container-privileged": false, "containerPrivileged": true})
	if len(ps) != 1 || ps[0].Severity != finding.Error || !strings.Contains(ps[0].Message, `"container-privileged" and "containerPrivileged" are one key`) {
		t.Errorf("two spellings: %+v", ps)
	}
}

// Every target type takes laiki-kubernetes-namespace, and only a name
// Kubernetes takes for a namespace, at the key itself.
func TestKubernetesNamespaceKey(t *testing.T) {
	for _, name := range types.TargetNames() {
		tt, _ := types.Target(name)
		for value, wantErr := range map[any]bool{"shinyproxy": false, "team-a-apps": false, "ShinyProxy": true, "a_b": true, "-a": true, int64(5): true,
			strings.Repeat("a", 64): true} {
			var errs []string
			for _, p := range tt.Schema.Check(map[string]any{types.KubernetesNamespaceKey: value}) {
				if p.Severity == finding.Error {
					errs = append(errs, strings.Join(p.Path, ".")+": "+p.Message)
				}
			}
			if wantErr != (len(errs) == 1) || (wantErr && !strings.HasPrefix(errs[0], types.KubernetesNamespaceKey+": ")) {
				t.Errorf("%s with %s %v: %v", name, types.KubernetesNamespaceKey, value, errs)
			}
		}
	}
	if got := types.KubernetesNamespace(map[string]any{types.KubernetesNamespaceKey: "apps"}); got != "apps" {
		t.Errorf("KubernetesNamespace: %q", got)
	}
	if got := types.KubernetesNamespace(map[string]any{}); got != "" {
		t.Errorf("KubernetesNamespace of a spec without it: %q", got)
	}
}
