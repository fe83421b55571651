package laiki.preprocessors.ShinyProxyAppDefaultsPreProcessor_test

import data.laiki.preprocessors.ShinyProxyAppDefaultsPreProcessor as pp

app := {"id": "demo", "container-image": "openanalytics/shinyproxy-demo"}

# The pre-processor's outputs for an app spec and the pre-processor document's
# parameters, as the engine calls it.
run(spec, params) := out if {
	doc := {
		"laiki-metadata": {"resource-type": "ShinyProxyApp", "target-name": "sp", "target-namespace": "ns"},
		"laiki-spec": spec,
		"laiki-source": {"name": "team", "role": "team"},
		"parameters": params,
	}
	out := {"spec": pp.spec, "warn": pp.warn, "changes": pp.changes} with input as doc
}

# parameter_errors is evaluated with the parameters alone.
errors(params) := errs if {
	errs := pp.parameter_errors with input as {"parameters": params}
}

with_app(extra) := object.union(app, extra)

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
	out := run({"id": "shinyproxy-demo", "container-image": "openanalytics/ShinyProxy-demo"}, design)
	out.spec == {
		"id": "shinyproxy-demo", "container-image": "openanalytics/ShinyProxy-demo",
		"container-cpu-request": 0.25, "container-cpu-limit": 1,
		"container-memory-request": "256Mi", "container-memory-limit": "512Mi",
		"container-env": {"PLATFORM_VERSION": "v1.2"},
		"container-privileged": false,
	}
	count(out.warn) == 0
	out.changes == {
		{"field": ["laiki-spec", "container-cpu-request"], "rule": "fallback"},
		{"field": ["laiki-spec", "container-cpu-limit"], "rule": "fallback"},
		{"field": ["laiki-spec", "container-memory-request"], "rule": "fallback"},
		{"field": ["laiki-spec", "container-memory-limit"], "rule": "fallback"},
		{"field": ["laiki-spec", "container-env"], "rule": "append"},
		{"field": ["laiki-spec", "container-privileged"], "rule": "override"},
	}
}

test_design_document_parameters_are_valid if {
	count(errors(design)) == 0
}

test_applies_to_shinyproxy_apps if {
	pp.resource_types == {"ShinyProxyApp"}
}

# fallback

test_fallback_sets_unset_key if {
	out := run(app, {"fallback": {"container-memory-limit": "512Mi"}})
	out.spec == with_app({"container-memory-limit": "512Mi"})
	count(out.warn) == 0
}

test_fallback_never_overrides_app_value if {
	spec := with_app({"container-memory-limit": "1Gi", "container-cpu-limit": 0, "container-privileged": false, "container-cmd": [], "container-env": {}})
	out := run(spec, {"fallback": {
		"container-memory-limit": "512Mi", "container-cpu-limit": 1, "container-privileged": true,
		"container-cmd": ["R"], "container-image": "other",
	}})
	out.spec["container-memory-limit"] == "1Gi"
	out.spec["container-cpu-limit"] == 0
	out.spec["container-privileged"] == false
	out.spec["container-cmd"] == []
	out.spec["container-image"] == app["container-image"]
	count(out.warn) == 0
	every k in ["container-memory-limit", "container-cpu-limit", "container-privileged", "container-cmd", "container-image"] {
		not {"field": ["laiki-spec", k], "rule": "fallback"} in out.changes
	}
}

test_fallback_each_key_on_its_own if {
	out := run(with_app({"container-cpu-limit": 2}), design)
	out.spec["container-cpu-limit"] == 2
	out.spec["container-cpu-request"] == 0.25
	{"field": ["laiki-spec", "container-cpu-request"], "rule": "fallback"} in out.changes
	not {"field": ["laiki-spec", "container-cpu-limit"], "rule": "fallback"} in out.changes
}

test_fallback_nested_maps_key_by_key if {
	out := run(with_app({"container-env": {"A": "app", "C": false}}), {"fallback": {"container-env": {"A": "platform", "B": "platform", "C": true}}})
	out.spec["container-env"] == {"A": "app", "B": "platform", "C": false}
	{"field": ["laiki-spec", "container-env", "B"], "rule": "fallback"} in out.changes
	not {"field": ["laiki-spec", "container-env", "A"], "rule": "fallback"} in out.changes
	not {"field": ["laiki-spec", "container-env"], "rule": "fallback"} in out.changes
	count(out.warn) == 0
}

test_fallback_null_is_unset if {
	out := run(with_app({"container-memory-limit": null}), design)
	out.spec["container-memory-limit"] == "512Mi"
	{"field": ["laiki-spec", "container-memory-limit"], "rule": "fallback"} in out.changes
}

test_null_without_fallback_is_dropped if {
	out := run(with_app({"container-memory-limit": null}), {})
	out.spec == app
}

test_fallback_on_missing_spec if {
	out := run(null, {"fallback": {"container-cpu-limit": 1}})
	out.spec == {"container-cpu-limit": 1}
}

# append

test_append_adds_map_entries_and_keeps_app_entries if {
	out := run(with_app({"container-env": {"MINE": "x"}}), design)
	out.spec["container-env"] == {"MINE": "x", "PLATFORM_VERSION": "v1.2"}
	count(out.warn) == 0
	{"field": ["laiki-spec", "container-env"], "rule": "append"} in out.changes
}

test_append_conflict_platform_wins_with_warning if {
	out := run(with_app({"container-env": {"PLATFORM_VERSION": "mine", "MINE": "x"}}), design)
	out.spec["container-env"] == {"PLATFORM_VERSION": "v1.2", "MINE": "x"}
	count(out.warn) == 1
	some w in out.warn
	w.field == ["laiki-spec", "container-env", "PLATFORM_VERSION"]
	contains(w.msg, "container-env.PLATFORM_VERSION")
	contains(w.msg, "replaces your mine")
}

test_append_same_value_no_warning if {
	out := run(with_app({"container-env": {"PLATFORM_VERSION": "v1.2"}}), design)
	out.spec["container-env"] == {"PLATFORM_VERSION": "v1.2"}
	count(out.warn) == 0
}

# A value the fallback set is the platform's own: replacing it is no news to
# the app's authors.
test_append_over_fallback_value_no_warning if {
	out := run(app, {"fallback": {"container-env": {"A": "1"}}, "append": {"container-env": {"A": "2"}}})
	out.spec["container-env"] == {"A": "2"}
	count(out.warn) == 0
}

test_append_list_items_after_app_without_duplicates if {
	out := run(with_app({"access-groups": ["a", "b"]}), {"append": {"access-groups": ["b", "c"]}})
	out.spec["access-groups"] == ["a", "b", "c"]
	count(out.warn) == 0
}

test_append_list_of_maps if {
	port := {"name": "http", "port": 3838}
	extra := {"name": "metrics", "port": 9090}
	out := run(with_app({"port-mapping": [port]}), {"append": {"port-mapping": [port, extra]}})
	out.spec["port-mapping"] == [port, extra]
}

test_append_sets_missing_key if {
	out := run(app, {"append": {"access-groups": ["ops"], "container-env": {"A": "1"}}})
	out.spec == with_app({"access-groups": ["ops"], "container-env": {"A": "1"}})
	count(out.warn) == 0
}

test_append_null_counts_as_missing if {
	out := run(with_app({"access-groups": null}), {"append": {"access-groups": ["ops"]}})
	out.spec["access-groups"] == ["ops"]
	count(out.warn) == 0
}

test_append_to_value_of_another_kind_keeps_app_value if {
	out := run(with_app({"access-groups": "solo"}), {"append": {"access-groups": ["ops"]}})
	out.spec["access-groups"] == "solo"
	some w in out.warn
	w.field == ["laiki-spec", "access-groups"]
	contains(w.msg, "not a list")

	out2 := run(with_app({"container-env": ["A=1"]}), design)
	out2.spec["container-env"] == ["A=1"]
	some w2 in out2.warn
	w2.field == ["laiki-spec", "container-env"]
	contains(w2.msg, "not a map")
}

# override

test_override_replaces_app_value_and_warns if {
	out := run(with_app({"container-privileged": true}), design)
	out.spec["container-privileged"] == false
	count(out.warn) == 1
	some w in out.warn
	w.field == ["laiki-spec", "container-privileged"]
	contains(w.msg, "container-privileged")
	{"field": ["laiki-spec", "container-privileged"], "rule": "override"} in out.changes
}

test_override_no_warning_when_app_agrees_or_is_silent if {
	agrees := run(with_app({"container-privileged": false}), design)
	agrees.spec["container-privileged"] == false
	count(agrees.warn) == 0

	silent := run(app, design)
	silent.spec["container-privileged"] == false
	count(silent.warn) == 0

	explicit_null := run(with_app({"container-privileged": null}), design)
	explicit_null.spec["container-privileged"] == false
	count(explicit_null.warn) == 0
}

test_override_replaces_maps_whole if {
	out := run(with_app({"container-env": {"A": "app"}}), {"override": {"container-env": {"B": "platform"}}})
	out.spec["container-env"] == {"B": "platform"}
	some w in out.warn
	w.field == ["laiki-spec", "container-env"]
}

# order

test_order_fallback_append_override if {
	# fallback sets the map, append adds to it, override replaces it last.
	full := {"fallback": {"container-env": {"A": "1"}}, "append": {"container-env": {"B": "2"}}, "override": {"container-env": {"C": "3"}}}
	run(app, full).spec["container-env"] == {"C": "3"}

	no_override := object.remove(full, ["override"])
	run(app, no_override).spec["container-env"] == {"A": "1", "B": "2"}

	# A list: the fallback's items come first, the appended ones after.
	lists := {"fallback": {"access-groups": ["a"]}, "append": {"access-groups": ["b"]}}
	run(app, lists).spec["access-groups"] == ["a", "b"]

	# Override wins over fallback and append of a scalar key alike.
	scalar := {"fallback": {"container-cpu-limit": 1}, "override": {"container-cpu-limit": 2}}
	run(app, scalar).spec["container-cpu-limit"] == 2
}

test_empty_parameters_change_nothing if {
	every params in [null, {}, {"fallback": {}, "append": {}, "override": {}}, {"fallback": null}, "not a map"] {
		out := run(app, params)
		out.spec == app
		count(out.warn) == 0
		count(out.changes) == 0
	}
}

# parameter_errors

test_parameter_errors_unknown_top_level_key if {
	errs := errors({"fallback": {}, "sideways": {}, "overide": {}})
	count(errs) == 2
	some e1 in errs
	contains(e1, "unknown key sideways")
	some e2 in errs
	contains(e2, "unknown key overide")
}

test_parameter_errors_sections_must_be_maps if {
	errs := errors({"fallback": "x", "append": ["y"], "override": 1})
	errs == {
		"fallback must be a map of app keys to values",
		"append must be a map of app keys to values",
		"override must be a map of app keys to values",
	}
}

test_parameter_errors_scalar_append_values if {
	errs := errors({"append": {"k": 1, "s": "text", "b": true, "list": [], "map": {}}})
	errs == {
		"append.k must be a map or a list: only those can be appended to",
		"append.s must be a map or a list: only those can be appended to",
		"append.b must be a map or a list: only those can be appended to",
	}
}

test_parameter_errors_none_for_valid_parameters if {
	count(errors({})) == 0
	count(errors(null)) == 0
	count(errors({"fallback": null})) == 0
	count(errors({"fallback": {"a": 1}, "append": {"b": [1], "c": {"d": 1}}, "override": {"e": "x"}})) == 0
}
