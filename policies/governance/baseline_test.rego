package laiki.governance.baseline_test

import data.laiki.governance.baseline

# A ShinyProxy app from a source of the given role: a clean app, with spec's
# keys on top (a null in spec removes the key).
doc(spec, role) := {
	"laiki-metadata": {"resource-type": "ShinyProxyApp", "target-name": "sp", "target-namespace": "ns"},
	"laiki-spec": object.union({"id": "a", "container-image": "registry.example.com/team/a:1"}, spec),
	"laiki-source": {"name": "s", "role": role},
}

denied(spec) := d if {
	d := baseline.deny with input as doc(spec, "team")
}

warned(spec) := w if {
	w := baseline.warn with input as doc(spec, "team")
}

denied_with(spec, role, cfg) := d if {
	d := baseline.deny with input as doc(spec, role) with data.laiki.config.baseline as cfg
}

fields(findings) := {f.field | some f in findings}

test_clean_app_passes if {
	count(denied({})) == 0
	count(warned({})) == 0
	count(baseline.deny) == 0 with input as doc({}, "platform")
}

# container-privileged

test_privileged_denied_for_teams if {
	d := denied({"container-privileged": true})
	count(d) == 1
	some f in d
	f.field == ["laiki-spec", "container-privileged"]
	contains(f.msg, "privileged")
}

test_unprivileged_allowed_for_teams if {
	count(denied({"container-privileged": false})) == 0
	count(denied({"container-privileged": null})) == 0
}

test_privileged_allowed_for_platform if {
	count(baseline.deny) == 0 with input as doc({"container-privileged": true}, "platform")
}

# platform-only keys

test_every_platform_key_denied_for_teams if {
	count(baseline.defaults["platform-keys"]) == 20
	every key in baseline.defaults["platform-keys"] {
		d := denied({key: "x"})
		fields(d) == {["laiki-spec", key]}
		some f in d
		contains(f.msg, key)
	}
}

test_platform_keys_denied_whatever_their_value if {
	every value in [false, 0, "", [], {}, [{"op": "add"}]] {
		fields(denied({"kubernetes-pod-patches": value})) == {["laiki-spec", "kubernetes-pod-patches"]}
	}
	count(denied({"kubernetes-pod-patches": null})) == 0
}

test_platform_keys_allowed_for_platform if {
	spec := {key: "x" | some key in baseline.defaults["platform-keys"]}
	count(baseline.deny) == 0 with input as doc(spec, "platform")
}

test_all_platform_keys_reported_together if {
	spec := {"docker-ipc": "host", "container-network": "host", "container-privileged": true}
	fields(denied(spec)) == {
		["laiki-spec", "docker-ipc"],
		["laiki-spec", "container-network"],
		["laiki-spec", "container-privileged"],
	}
}

# allowed-keys

test_allowed_keys_exempt if {
	spec := {"container-privileged": true, "docker-ipc": "host", "container-volumes": ["/srv:/data"]}
	cfg := {"allowed-keys": ["container-privileged", "docker-ipc", "container-volumes"]}
	count(denied_with(spec, "team", cfg)) == 0
}

test_allowed_keys_exempt_only_those if {
	spec := {"container-privileged": true, "docker-ipc": "host", "docker-runtime": "runsc", "container-volumes": ["/srv:/data"]}
	cfg := {"allowed-keys": ["docker-ipc"]}
	fields(denied_with(spec, "team", cfg)) == {
		["laiki-spec", "container-privileged"],
		["laiki-spec", "docker-runtime"],
		["laiki-spec", "container-volumes", 0],
	}
}

test_platform_config_keeps_other_defaults if {
	cfg := {"allowed-registries": ["registry.example.com"]}
	fields(denied_with({"docker-ipc": "host"}, "team", cfg)) == {["laiki-spec", "docker-ipc"]}
}

# enabled

test_disabled_turns_everything_off if {
	spec := {
		"container-privileged": true, "docker-ipc": "host", "container-volumes": ["/srv:/data"],
		"container-image": "not an image",
	}
	cfg := {"enabled": false, "allowed-registries": ["registry.example.com"]}
	count(denied_with(spec, "team", cfg)) == 0
	count(denied_with({"container-image": "docker.io/x/y:1"}, "team", cfg)) == 0
	count(baseline.warn) == 0 with input as doc({"container-image": "openanalytics/ShinyProxy-demo"}, "team")
		with data.laiki.config.baseline as cfg
}

test_enabled_explicitly if {
	fields(denied_with({"container-privileged": true}, "team", {"enabled": true})) == {["laiki-spec", "container-privileged"]}
}

# container-volumes

test_host_path_volumes_denied if {
	every volume in ["/srv:/data", "./x:/y", "../x:/y", "~/x:/y", "/:/host:ro", "dir/sub:/y", "/var/run/docker.sock:/var/run/docker.sock"] {
		d := denied({"container-volumes": [volume]})
		fields(d) == {["laiki-spec", "container-volumes", 0]}
		some f in d
		contains(f.msg, volume)
	}
}

test_named_volumes_allowed if {
	count(denied({"container-volumes": ["myvol:/data"]})) == 0
	count(denied({"container-volumes": ["my_vol-1.x:/data:ro", "data:/srv"]})) == 0
}

test_host_path_denied_at_its_index if {
	d := denied({"container-volumes": ["myvol:/data", "/srv:/data", "other:/x", "./x:/y"]})
	fields(d) == {["laiki-spec", "container-volumes", 1], ["laiki-spec", "container-volumes", 3]}
}

test_host_path_volumes_allowed_for_platform if {
	count(baseline.deny) == 0 with input as doc({"container-volumes": ["/srv:/data"]}, "platform")
}

# container-image

test_valid_images if {
	every image in [
		"nginx",
		"nginx:1.25",
		"library/nginx:latest",
		"nginx:Latest",
		"registry.example.com:5000/team/app:1.0",
		"localhost/app",
		"localhost:5000/a_b/c__d/e-f.g:v1_2-3.4",
		"[::1]:5000/app",
		"ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"ghcr.io/org/app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	] {
		count(denied({"container-image": image})) == 0
		count(warned({"container-image": image})) == 0
	}
}

test_invalid_images_denied if {
	every image in [
		"", "UPPER CASE", "app:", "-bad", "a//b", "a:b:c", "app/", "/app", "app@sha256:abc",
		"app:-tag", "a..b", "ex ample/app", "app:1.0 ",
	] {
		d := denied({"container-image": image})
		fields(d) == {["laiki-spec", "container-image"]}
		count(warned({"container-image": image})) == 0
	}
}

test_non_string_images_denied if {
	every image in [123, true, ["nginx"], {"name": "nginx"}] {
		fields(denied({"container-image": image})) == {["laiki-spec", "container-image"]}
		count(warned({"container-image": image})) == 0
	}
}

test_too_long_image_denied if {
	long := concat("/", ["abcdefghij" | some _ in numbers.range(1, 24)])
	count(long) == 263
	fields(denied({"container-image": long})) == {["laiki-spec", "container-image"]}
	count(denied({"container-image": substring(long, 0, 252)})) == 0
}

test_upper_case_image_warns_only if {
	count(denied({"container-image": "openanalytics/ShinyProxy-demo"})) == 0
	w := warned({"container-image": "openanalytics/ShinyProxy-demo"})
	count(w) == 1
	some f in w
	f.field == ["laiki-spec", "container-image"]
	contains(f.msg, "Laiki runs and pre-pulls openanalytics/shinyproxy-demo;")
}

test_upper_case_image_keeps_its_tag if {
	every image, runs in {
		"Team/App:V1": "team/app:V1",
		"Registry:5000/Team/App": "registry:5000/team/app",
		"Team/App:V1@sha256:0123456789abcdef0123456789ABCDEF": "team/app:V1@sha256:0123456789abcdef0123456789ABCDEF",
	} {
		some f in warned({"container-image": image})
		contains(f.msg, sprintf("Laiki runs and pre-pulls %s;", [runs]))
	}
}

test_no_image_is_not_judged_here if {
	# A missing container-image is the schema's business.
	count(denied({"container-image": null})) == 0
	count(warned({"container-image": null})) == 0
}

test_image_rules_apply_to_platform_apps_too if {
	fields(baseline.deny) == {["laiki-spec", "container-image"]} with input as doc({"container-image": "a//b"}, "platform")
	count(baseline.warn) == 1 with input as doc({"container-image": "Nginx"}, "platform")
}

# allowed-registries

test_allowed_registries if {
	cfg := {"allowed-registries": ["registry.example.com", "ghcr.io/org/"]}
	every image in ["registry.example.com/team/a:1", "registry.example.com/a", "ghcr.io/org/app:2"] {
		count(denied_with({"container-image": image}, "team", cfg)) == 0
	}
	every image in [
		"docker.io/evil/app:1", "nginx", "ghcr.io/other/app:1",
		# A prefix must end at a path boundary.
		"registry.example.com.evil.io/app:1", "ghcr.io/organisation/app",
	] {
		d := denied_with({"container-image": image}, "team", cfg)
		fields(d) == {["laiki-spec", "container-image"]}
		some f in d
		contains(f.msg, "not from an approved registry (registry.example.com, ghcr.io/org/)")
	}
}

test_allowed_registries_unset_allows_any if {
	count(denied({"container-image": "docker.io/any/app:1"})) == 0
	count(denied_with({"container-image": "docker.io/any/app:1"}, "team", {"allowed-registries": []})) == 0
}

test_allowed_registries_not_for_platform if {
	count(denied_with({"container-image": "docker.io/evil/app:1"}, "platform", {"allowed-registries": ["registry.example.com"]})) == 0
}

# Other resource types

test_other_resource_types_not_judged_as_apps if {
	ecr := {
		"laiki-metadata": {"resource-type": "AwsEcrRepository", "target-name": "sp", "target-namespace": "ns"},
		"laiki-spec": {
			"name": "repo", "container-privileged": true, "docker-ipc": "host",
			"container-volumes": ["/srv:/data"], "container-image": "a//b",
		},
		"laiki-source": {"name": "s", "role": "team"},
	}
	count(baseline.deny) == 0 with input as ecr
	count(baseline.warn) == 0 with input as ecr
	count(baseline.deny) == 0 with input as ecr with data.laiki.config.baseline as {"allowed-registries": ["registry.example.com"]}
}

# A spec that is not a map (the schema check reports it) denies nothing here.
test_spec_not_a_map_denies_nothing if {
	count(baseline.deny) == 0 with input as object.union(doc({}, "team"), {"laiki-spec": "not a map"})
}

# Spring expressions and property placeholders

test_expressions_denied_for_teams_in_every_string if {
	every spec in [
		{"container-env": {"X": "#{T(java.lang.Runtime).getRuntime().exec('id')}"}},
		{"container-image": "#{'registry.evil.com/x:1'}"},
		{"container-cmd": ["R", "#{1+1}"]},
		{"labels": {"a": "${AWS_SECRET_ACCESS_KEY}"}},
		{"max-instances": "#{9999}"},
		{"access-expression": "#{true}"},
		{"parameters": {"definitions": [{"id": "x", "default-value": "${HOME}"}]}},
	] {
		d := denied(spec)
		some f in d
		contains(f.msg, "which ShinyProxy's server evaluates")
	}
}

test_expression_field_is_where_it_is_written if {
	d := denied({"container-cmd": ["R", "#{1+1}"]})
	fields(d) == {["laiki-spec", "container-cmd", 1]}
	d2 := denied({"container-env": {"X": "${SECRET}"}})
	fields(d2) == {["laiki-spec", "container-env", "X"]}
	some f in d2
	contains(f.msg, "property placeholder")
}

test_expressions_of_the_platform_allowed if {
	count(baseline.deny) == 0 with input as doc({"container-env": {"U": "#{proxy.userId}"}}, "platform")
	count(baseline.deny) == 0 with input as doc({"container-image": "#{'r.example.com/' + userId + ':1'}"}, "platform")
}

test_expressions_allowed_for_named_keys if {
	count(denied_with({"access-expression": "#{groups.contains('a')}"}, "team", {"allowed-expressions": ["access-expression"]})) == 0
	count(denied_with({"container-env": {"X": "#{1}"}}, "team", {"allowed-expressions": ["access-expression"]})) == 1
}

test_expressions_a_platform_pre_processor_wrote_allowed if {
	pp := [{"name": "defaults", "pre-processor-name": "P", "parameters": {"fallback": {"container-env": {"U": "#{proxy.userId}"}}}}]
	inp := object.union(doc({"container-env": {"U": "#{proxy.userId}"}}, "team"), {"laiki-preprocessors": pp})
	count(baseline.deny) == 0 with input as inp
	inp2 := object.union(doc({"container-env": {"U": "#{proxy.userId}", "V": "#{1}"}}, "team"), {"laiki-preprocessors": pp})
	count(baseline.deny) == 1 with input as inp2
}

test_expressions_in_any_team_resource if {
	ecr := {
		"laiki-metadata": {"resource-type": "AwsEcrRepository", "target-name": "sp", "target-namespace": "ns"},
		"laiki-spec": {"name": "#{x}"},
		"laiki-source": {"name": "s", "role": "team"},
	}
	count(baseline.deny) == 1 with input as ecr
}
