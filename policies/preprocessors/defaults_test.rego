package laiki.preprocessors.ShinyProxyAppDefaultsPreProcessor_test

import data.laiki.preprocessors.ShinyProxyAppDefaultsPreProcessor as pp

app := {"id": "demo", "container-image": "openanalytics/shinyproxy-demo"}

run(spec, params) := out if {
	doc := {
		"laiki-metadata": {"resource-type": "ShinyProxyApp", "target-name": "sp", "target-namespace": "ns"},
		"laiki-spec": spec,
		"laiki-source": {"name": "team", "role": "team"},
		"parameters": params,
	}
	out := {"spec": pp.spec, "warn": pp.warn, "changes": pp.changes} with input as doc
}

# The design document's example.
design := {
	"fallback": {
		"container-cpu-request": 0.25, "container-cpu-limit": 1,
		"container-memory-request": "256Mi", "container-memory-limit": "512Mi",
	},
	"append": {"container-env": {"PLATFORM_VERSION": "v1.2"}},
	"override": {"container-privileged": false},
}

test_design_document_example if {
	out := run(app, design)
	out.spec == {
		"id": "demo", "container-image": "openanalytics/shinyproxy-demo",
		"container-cpu-request": 0.25, "container-cpu-limit": 1,
		"container-memory-request": "256Mi", "container-memory-limit": "512Mi",
		"container-env": {"PLATFORM_VERSION": "v1.2"},
		"container-privileged": false,
	}
	count(out.warn) == 0
}

test_fallback_never_overrides if {
	spec := object.union(app, {"container-memory-limit": "1Gi", "container-cpu-limit": 0, "container-privileged": false})
	out := run(spec, {"fallback": {"container-memory-limit": "512Mi", "container-cpu-limit": 1, "container-privileged": true}})
	out.spec["container-memory-limit"] == "1Gi"
	out.spec["container-cpu-limit"] == 0
	out.spec["container-privileged"] == false
}

test_fallback_each_key_on_its_own if {
	out := run(object.union(app, {"container-cpu-limit": 2}), design)
	out.spec["container-cpu-limit"] == 2
	out.spec["container-cpu-request"] == 0.25
}

test_fallback_null_is_unset if {
	out := run(object.union(app, {"container-memory-limit": null}), design)
	out.spec["container-memory-limit"] == "512Mi"
}

test_fallback_nested_maps_key_by_key if {
	out := run(object.union(app, {"container-env": {"A": "app"}}), {"fallback": {"container-env": {"A": "platform", "B": "platform"}}})
	out.spec["container-env"] == {"A": "app", "B": "platform"}
}

test_append_keeps_app_entries if {
	out := run(object.union(app, {"container-env": {"MINE": "x"}}), design)
	out.spec["container-env"] == {"MINE": "x", "PLATFORM_VERSION": "v1.2"}
	count(out.warn) == 0
}

test_append_conflict_platform_wins_with_warning if {
	out := run(object.union(app, {"container-env": {"PLATFORM_VERSION": "mine"}}), design)
	out.spec["container-env"].PLATFORM_VERSION == "v1.2"
	some w in out.warn
	w.field == ["laiki-spec", "container-env", "PLATFORM_VERSION"]
	contains(w.msg, "replaces your mine")
}

test_append_lists_after_app_without_duplicates if {
	out := run(object.union(app, {"access-groups": ["a", "b"]}), {"append": {"access-groups": ["b", "c"]}})
	out.spec["access-groups"] == ["a", "b", "c"]
}

test_append_sets_missing_key if {
	out := run(app, {"append": {"access-groups": ["ops"]}})
	out.spec["access-groups"] == ["ops"]
}

test_append_to_scalar_keeps_app_value if {
	out := run(object.union(app, {"access-groups": "solo"}), {"append": {"access-groups": ["ops"]}})
	out.spec["access-groups"] == "solo"
	some w in out.warn
	contains(w.msg, "not a list")
}

test_override_replaces_and_warns if {
	out := run(object.union(app, {"container-privileged": true}), design)
	out.spec["container-privileged"] == false
	some w in out.warn
	w.field == ["laiki-spec", "container-privileged"]
}

test_override_no_warning_when_app_agrees_or_is_silent if {
	count(run(object.union(app, {"container-privileged": false}), design).warn) == 0
	count(run(app, design).warn) == 0
}

test_order_fallback_append_override if {
	# fallback sets A, append adds to it, override replaces it last.
	params := {"fallback": {"container-env": {"A": "1"}}, "append": {"container-env": {"B": "2"}}, "override": {"container-env": {"C": "3"}}}
	run(app, params).spec["container-env"] == {"C": "3"}
	params2 := {"fallback": {"container-env": {"A": "1"}}, "append": {"container-env": {"B": "2"}}}
	run(app, params2).spec["container-env"] == {"A": "1", "B": "2"}
}

test_changes_name_the_rule if {
	out := run(object.union(app, {"container-cpu-limit": 2}), design)
	{"field": ["laiki-spec", "container-cpu-request"], "rule": "fallback"} in out.changes
	not {"field": ["laiki-spec", "container-cpu-limit"], "rule": "fallback"} in out.changes
	{"field": ["laiki-spec", "container-env"], "rule": "append"} in out.changes
	{"field": ["laiki-spec", "container-privileged"], "rule": "override"} in out.changes
}

test_empty_parameters_change_nothing if {
	run(app, null).spec == app
	run(app, {}).spec == app
}

test_parameter_errors if {
	errs := pp.parameter_errors with input as {"parameters": {"fallback": "x", "append": {"k": 1}, "sideways": {}}}
	some e1 in errs
	contains(e1, "unknown key sideways")
	some e2 in errs
	contains(e2, "fallback must be a map")
	some e3 in errs
	contains(e3, "append.k must be a map or a list")
}

test_parameters_of_design_document_are_valid if {
	count(pp.parameter_errors) == 0 with input as {"parameters": design}
}

test_applies_to_shinyproxy_apps if {
	pp.resource_types == {"ShinyProxyApp"}
}
