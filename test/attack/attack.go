// Package attack lists what a hostile team tries, for the escalation tests
// of the engine and of the webhook on a real API server: the same table
// for both, so that `laiki check` and `kubectl apply` are tried alike.
package attack

import (
	"maps"
	"slices"
	"strings"

	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
	// The types register with their workflows.
	_ "github.com/laiki-platform/laiki/engine/workflow"
)

// PlatformKeys are the app keys only the platform may use, each with a
// value (YAML, flow style) that needs the platform's power.
var PlatformKeys = map[string]string{
	"container-privileged": "true", "container-volumes": "[\"/:/host\"]",
	"kubernetes-pod-patches": "\"- {op: add, path: /spec/hostNetwork, value: true}\"", "kubernetes-additional-manifests": "[x]",
	"kubernetes-additional-persistent-manifests": "[x]", "kubernetes-authorized-pod-patches": "[{patches: x}]",
	"kubernetes-authorized-additional-manifests": "[{manifests: [x]}]", "kubernetes-authorized-additional-persistent-manifests": "[{manifests: [x]}]",
	"docker-ipc": "host", "docker-device-requests": "[{driver: nvidia}]", "docker-runtime": "runc", "docker-group-add": "[root]",
	"docker-user": "root", "container-network": "host", "container-network-connections": "[host]",
	"container-env-file": "/etc/shinyproxy/application.yml", "docker-swarm-secrets": "[{name: platform-db}]",
	"ecs-task-role": "arn:aws:iam::1:role/platform", "ecs-execution-role": "arn:aws:iam::1:role/platform",
	"ecs-managed-secrets": "[{name: X, value-from: \"arn:aws:secretsmanager:x\"}]", "ecs-efs-volumes": "[{name: a, file-system-id: fs-1}]",
	"ecs-repository-credentials-parameter": "arn:aws:ssm:x",
}

// Spellings are other ways to write a key that ShinyProxy (Spring's relaxed
// binding) reads as the key: camelCase, snake_case, odd case, upper case.
func Spellings(key string) []string {
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

// Expression is a key of a ShinyProxy app with a value (YAML, flow style)
// that holds a Spring expression or property placeholder where a string
// goes.
type Expression struct{ Key, Value string }

// Expressions gives one for every key of the ShinyProxy app schema whose
// value is, or holds, a string (the id and keys ShinyProxy does not read
// aside), in key order.
func Expressions() []Expression {
	app, _ := types.Resource("ShinyProxyApp")
	var out []Expression
	for _, key := range slices.Sorted(maps.Keys(app.Schema.Fields)) {
		f := app.Schema.Fields[key]
		var value string
		switch {
		case key == "id" || f.Ignored != "":
			continue
		case f.Type == schema.String || f.Type == schema.StringOrList || f.Expression:
			value = "\"#{T(java.lang.Runtime).getRuntime().exec('id')}\""
		case f.Type == schema.StringList:
			value = "[\"${AWS_SECRET_ACCESS_KEY}\"]"
		case f.Type == schema.StringMap || f.Type == schema.Map:
			value = "{A: \"#{1}\"}"
		case f.Type == schema.List:
			value = "[{name: \"${X}\", target-path: \"${X}\", a: \"${X}\"}]"
		case f.Type == schema.Object:
			value = "{read-access: {expression: \"#{true}\"}}"
		default:
			continue // numbers and booleans hold no string
		}
		out = append(out, Expression{key, value})
	}
	return out
}

// ExpressionRefused is part of the baseline's message refusing one.
const ExpressionRefused = "which ShinyProxy's server evaluates"
