# METADATA
# title: Security baseline
# description: |
#   Apps from team sources cannot reach platform-level power, and their images
#   must be valid references. On by default; the platform tunes it in
#   laiki.yaml under policy-data.baseline (see docs/policies.md):
#     enabled: false            # turn it off
#     allowed-keys: [...]       # platform-only keys that teams may use after all
#     allowed-registries: [...] # when set, images must come from these
#     allowed-expressions: [...] # keys where teams may write #{...} or ${...}
# related_resources:
#   - ref: https://github.com/laiki-platform/laiki/blob/main/docs/policies.md#laikigovernancebaseline-governance
#     description: what the baseline denies, and its parameters in laiki.yaml
package laiki.governance.baseline

defaults := {
	"enabled": true,
	"allowed-keys": [],
	"allowed-registries": [],
	"allowed-expressions": [],
	# Keys that give an app power over the node or the cluster.
	"platform-keys": [
		"kubernetes-pod-patches",
		"kubernetes-additional-manifests",
		"kubernetes-additional-persistent-manifests",
		"kubernetes-authorized-pod-patches",
		"kubernetes-authorized-additional-manifests",
		"kubernetes-authorized-additional-persistent-manifests",
		"docker-ipc",
		"docker-device-requests",
		"docker-runtime",
		"docker-group-add",
		"docker-user",
		"container-network",
		"container-network-connections",
		# Reads a file of the ShinyProxy server into the app's environment
		# (AbstractContainerBackend loads it as properties): the server's
		# configuration and secrets.
		"container-env-file",
		# Secrets, roles and file systems of the platform's accounts.
		"docker-swarm-secrets",
		"ecs-task-role",
		"ecs-execution-role",
		"ecs-managed-secrets",
		"ecs-efs-volumes",
		"ecs-repository-credentials-parameter",
	],
}

platform_config := c if {
	c := data.laiki.config.baseline
	is_object(c)
} else := {}

config := object.union(defaults, platform_config)

spec := s if {
	s := input["laiki-spec"]
	is_object(s)
} else := {}

team_app if {
	config.enabled
	input["laiki-source"].role != "platform"
	input["laiki-metadata"]["resource-type"] == "ShinyProxyApp"
}

allowed(key) if key in config["allowed-keys"]

# Any resource a team declares.
team_resource if {
	config.enabled
	input["laiki-source"].role != "platform"
}

deny contains {"msg": msg, "field": ["laiki-spec", "container-privileged"]} if {
	team_app
	spec["container-privileged"] == true
	not allowed("container-privileged")
	msg := "container-privileged: privileged containers have root on the node; only the platform can run them"
}

deny contains {"msg": msg, "field": ["laiki-spec", key]} if {
	team_app
	some key, value in spec # an app has fewer keys than the list
	value != null
	key in config["platform-keys"]
	not allowed(key)
	msg := sprintf("%s is a platform-level setting: ask the platform team to set it for you", [key])
}

deny contains {"msg": msg, "field": ["laiki-spec", "container-volumes", i]} if {
	team_app
	not allowed("container-volumes")
	some i, volume in spec["container-volumes"]
	host_path(volume)
	msg := sprintf("container-volumes: %q mounts a directory of the node; use a Crane data repository (crane-data-repository) instead", [volume])
}

# A host path, as opposed to a Docker named volume.
host_path(volume) if {
	is_string(volume)
	source := split(volume, ":")[0]
	not regex.match(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`, source)
}

# Image references, as the distribution reference grammar has them:
#   [domain/]path-component(/path-component)*[:tag][@digest], with
#   domain-component (?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]),
#   domain           domain-component(\.domain-component)* or [ipv6], then [:port]
#   path-component   [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
#   tag              [\w][\w.-]{0,127}
#   digest           algorithm:hex{32,}
# Written out whole rather than built with sprintf: a rule is evaluated
# anew for every resource, and this one is the same for all.
reference := `^(?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`

image := spec["container-image"]

valid_image(ref) if {
	is_string(ref)
	regex.match(reference, ref)
	count(ref) <= 255
}

# Valid but for upper case letters. lower() of a non-string is an error,
# which would leave a rule that called it undefined: is_string goes first.
upper_case_image(ref) if {
	is_string(ref)
	not valid_image(ref)
	valid_image(lower(ref))
}

deny contains {"msg": msg, "field": ["laiki-spec", "container-image"]} if {
	config.enabled
	input["laiki-metadata"]["resource-type"] == "ShinyProxyApp"
	image != null
	not valid_image(image)
	not upper_case_image(image)
	not spring_expression(image) # the platform's, chosen when the app starts
	msg := sprintf("container-image: %v is not a valid image reference (e.g. registry.example.com/team/app:1.0)", [image])
}

warn contains {"msg": msg, "field": ["laiki-spec", "container-image"]} if {
	config.enabled
	input["laiki-metadata"]["resource-type"] == "ShinyProxyApp"
	upper_case_image(image)
	msg := sprintf("container-image: %s has upper case letters, which Kubernetes refuses in a repository name (InvalidImageName): Laiki runs and pre-pulls %s; write that", [image, runnable_image(image)])
}

# What Laiki runs and pre-pulls for such an image (image.Runnable):
# the name (registry and repository) lower-cased, the tag and digest as
# written, since a tag is case sensitive. The lazy name ends where a tag or
# digest can begin; a tag has no '/', so a registry's port is not one.
runnable_image(ref) := concat("", [lower(parts[1]), parts[2]]) if {
	parts := regex.find_all_string_submatch_n(`^(.*?)((?::[\w][\w.-]{0,127})?(?:@.*)?)$`, ref, 1)[0]
}

deny contains {"msg": msg, "field": ["laiki-spec", "container-image"]} if {
	team_app
	count(config["allowed-registries"]) > 0
	is_string(image)
	not from_allowed_registry(image)
	msg := sprintf("container-image: %s is not from an approved registry (%s)", [image, concat(", ", config["allowed-registries"])])
}

from_allowed_registry(ref) if {
	some registry in config["allowed-registries"]
	startswith(ref, concat("", [trim_suffix(registry, "/"), "/"]))
}

# Spring expressions and property placeholders. ShinyProxy evaluates #{...}
# in most app settings as a Spring expression with the full evaluation
# context, where T(java.lang.Runtime) is reachable: code run inside the
# ShinyProxy server, which holds the platform's secrets, or an image chosen
# at run time past the registry rule. Spring resolves ${...} in every
# setting when ShinyProxy starts, from the server's environment and
# properties: a way to copy the server's secrets into an app. A string a
# team writes may hold neither, in any resource and at any depth, unless
# the platform allows expressions for the key; a string the platform wrote
# in a pre-processor that applies (a default of its own) is the platform's.
deny contains {"msg": msg, "field": array.concat(["laiki-spec"], path)} if {
	team_resource
	any_marker # the walk only where it finds something: most specs hold none
	walk(spec, [path, value])
	is_string(value)
	some kind, marker in markers
	contains(value, marker)
	not expression_allowed(path)
	not platform_value(value)
	msg := sprintf("%s: %q holds a %s (%s...}), which ShinyProxy's server evaluates: only the platform may write one (policy-data.baseline.allowed-expressions)", [concat(".", [sprintf("%v", [p]) | some p in path]), value, kind, marker])
}

markers := {"Spring expression": "#{", "property placeholder": "${"}

# One look at the whole spec, as JSON text (a marker in a key, which is
# not evaluated, only costs the walk).
any_marker if {
	text := json.marshal(spec)
	some marker in markers
	contains(text, marker)
}

spring_expression(value) if {
	is_string(value)
	some marker in markers
	contains(value, marker)
}

expression_allowed(path) if path[0] in config["allowed-expressions"]

platform_value(value) if {
	some pp in input["laiki-preprocessors"]
	walk(pp.parameters, [_, value])
}
