package laiki.governance.baseline_test

import data.laiki.governance.baseline

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

test_clean_app_passes if {
	count(denied({})) == 0
	count(warned({})) == 0
}

test_privileged_denied_for_teams if {
	some d in denied({"container-privileged": true})
	d.field == ["laiki-spec", "container-privileged"]
	count(denied({"container-privileged": false})) == 0
}

test_platform_apps_are_exempt if {
	count(baseline.deny) == 0 with input as doc({"container-privileged": true, "kubernetes-pod-patches": "x"}, "platform")
}

test_every_platform_key_denied if {
	every key in baseline.defaults["platform-keys"] {
		some d in denied({key: "x"})
		d.field == ["laiki-spec", key]
	}
}

test_allowed_keys_exempt if {
	count(baseline.deny) == 0 with input as doc({"container-privileged": true, "docker-ipc": "host"}, "team")
		with data.laiki.config.baseline as {"allowed-keys": ["container-privileged", "docker-ipc"]}
}

test_disabled if {
	count(baseline.deny) == 0 with input as doc({"container-privileged": true, "container-image": "not an image"}, "team")
		with data.laiki.config.baseline as {"enabled": false}
}

test_host_path_volumes_denied if {
	some d in denied({"container-volumes": ["myvol:/data", "/srv:/data"]})
	d.field == ["laiki-spec", "container-volumes", 1]
	count(denied({"container-volumes": ["./x:/y"]})) == 1
	count(denied({"container-volumes": ["myvol:/data"]})) == 0
}

test_valid_images if {
	every image in [
		"nginx", "nginx:1.25", "library/nginx:latest", "registry.example.com:5000/team/app:1.0",
		"localhost/app", "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	] {
		count(denied({"container-image": image})) == 0
		count(warned({"container-image": image})) == 0
	}
}

test_invalid_images_denied if {
	every image in ["", "UPPER CASE", "app:", "-bad", "a//b", "a:b:c"] {
		some d in denied({"container-image": image})
		d.field == ["laiki-spec", "container-image"]
	}
}

test_upper_case_image_warns_only if {
	count(denied({"container-image": "openanalytics/ShinyProxy-demo"})) == 0
	some w in warned({"container-image": "openanalytics/ShinyProxy-demo"})
	contains(w.msg, "openanalytics/shinyproxy-demo")
}

test_allowed_registries if {
	cfg := {"allowed-registries": ["registry.example.com"]}
	count(baseline.deny) == 0 with input as doc({}, "team") with data.laiki.config.baseline as cfg
	some d in baseline.deny with input as doc({"container-image": "docker.io/evil/app:1"}, "team") with data.laiki.config.baseline as cfg
	contains(d.msg, "not from an approved registry")
	# A prefix must end at a path boundary.
	count(baseline.deny) == 1 with input as doc({"container-image": "registry.example.com.evil.io/app:1"}, "team")
		with data.laiki.config.baseline as cfg
}

test_other_resource_types_not_judged_as_apps if {
	ecr := {
		"laiki-metadata": {"resource-type": "AwsEcrRepository", "target-name": "sp", "target-namespace": "ns"},
		"laiki-spec": {"name": "repo", "container-privileged": true},
		"laiki-source": {"name": "s", "role": "team"},
	}
	count(baseline.deny) == 0 with input as ecr
}
