package laiki.governance.data_access_test

import data.laiki.governance.data_access

# A ShinyProxy app from a team with a Crane data repository read as
# read-access says, and spec's keys on top.
app(read, spec) := {
	"laiki-metadata": {"resource-type": "ShinyProxyApp", "target-name": "sp", "target-namespace": "ns"},
	"laiki-spec": object.union(
		{"id": "demo", "container-image": "registry.example.com/team/demo:1", "crane-data-repository": {"read-access": read}},
		spec,
	),
	"laiki-source": {"name": "team-a", "role": "team"},
}

jack_and_jeff := {"users": ["jack", "jeff"]}

warned(read, spec) := w if {
	w := data_access.warn with input as app(read, spec)
}

denied(read, spec) := d if {
	d := data_access.deny with input as app(read, spec)
}

warned_with(read, spec, cfg) := w if {
	w := data_access.warn with input as app(read, spec) with data.laiki.config["data-access"] as cfg
}

denied_with(read, spec, cfg) := d if {
	d := data_access.deny with input as app(read, spec) with data.laiki.config["data-access"] as cfg
}

fields(findings) := {f.field | some f in findings}

# The design's promise: jack's data is seen by jack and jeff only.

test_open_app_warns_at_the_repository if {
	w := warned(jack_and_jeff, {})
	fields(w) == {["laiki-spec", "crane-data-repository", "read-access"]}
	some f in w
	contains(f.msg, "every ShinyProxy user may open this app")
	contains(f.msg, "Crane repository demo may be read only by users jack, jeff")
	count(denied(jack_and_jeff, {})) == 0
}

test_readers_within_the_repository_are_fine if {
	count(warned(jack_and_jeff, {"access-users": ["jack", "jeff"]})) == 0
	count(warned(jack_and_jeff, {"access-users": ["jeff"]})) == 0
	count(warned({"users": ["jack"], "groups": ["Analysts"]}, {"access-users": "jack", "access-groups": ["analysts"]})) == 0
}

test_users_beyond_the_readers_warn_at_access_users if {
	w := warned(jack_and_jeff, {"access-users": ["jack", "bob", "alice"]})
	fields(w) == {["laiki-spec", "access-users"]}
	some f in w
	startswith(f.msg, "access-users: alice, bob may open this app")
	not contains(f.msg, "jack may open")
}

test_names_written_as_one_string if {
	w := warned({"users": "jack, jeff"}, {"access-users": "jeff,alice , "})
	some f in w
	startswith(f.msg, "access-users: alice may open")
}

# Laiki does not see who is in a group: a user is a reader by name only.
test_a_user_is_not_proven_a_reader_by_a_group if {
	fields(warned({"groups": ["analysts"]}, {"access-users": ["alice"]})) == {["laiki-spec", "access-users"]}
}

test_groups_beyond_the_readers_warn_at_access_groups if {
	w := warned({"groups": ["analysts"], "users": ["jack"]}, {"access-groups": ["ANALYSTS", "everyone"]})
	fields(w) == {["laiki-spec", "access-groups"]}
	some f in w
	startswith(f.msg, "access-groups: the members of everyone may open")
	contains(f.msg, "may be read only by users jack and groups analysts")
}

test_access_expression_cannot_be_proven if {
	w := warned(jack_and_jeff, {"access-expression": "#{oidcUser.attributes.dept == 'x'}"})
	fields(w) == {["laiki-spec", "access-expression"]}
	some f in w
	contains(f.msg, "Laiki cannot tell")
	contains(f.msg, "trusted-expressions")
}

test_trusted_access_expression_is_fine if {
	e := "#{groups.contains('jack-data')}"
	count(warned_with(jack_and_jeff, {"access-expression": e}, {"trusted-expressions": [e]})) == 0
	fields(warned_with(jack_and_jeff, {"access-expression": e, "access-users": ["bob"]}, {"trusted-expressions": [e]})) == {["laiki-spec", "access-users"]}
}

test_trusted_strict_expression_narrows_everything if {
	e := "#{@crane.canRead(authentication)}"
	count(warned_with(jack_and_jeff, {"access-strict-expression": e}, {"trusted-expressions": [e]})) == 0
	count(warned_with(jack_and_jeff, {"access-strict-expression": e, "access-users": ["bob"]}, {"trusted-expressions": [e]})) == 0
}

test_untrusted_strict_expression_is_named if {
	w := warned(jack_and_jeff, {"access-strict-expression": "#{true}"})
	some f in w
	contains(f.msg, "access-strict-expression may narrow who opens the app, but Laiki cannot tell")
}

test_repository_without_read_access if {
	doc := json.patch(app({}, {}), [{"op": "replace", "path": "/laiki-spec/crane-data-repository", "value": {"name": "jacks-data"}}])
	w := data_access.warn with input as doc
	fields(w) == {["laiki-spec", "crane-data-repository"]}
	some f in w
	contains(f.msg, "Crane repository jacks-data may be read by no one (it has no read-access)")
}

test_read_access_expression_is_named_not_counted if {
	w := warned({"expression": "#{true}", "users": ["jack"]}, {"access-users": ["bob"]})
	some f in w
	contains(f.msg, "may be read only by users jack and whom its read-access expression admits")
}

test_repositories_everyone_reads if {
	count(warned({"public": true}, {})) == 0
	count(warned({"any-authenticated-user": true}, {"access-users": ["bob"]})) == 0
}

test_apps_without_data_are_not_judged if {
	count(data_access.warn) == 0 with input as {"laiki-metadata": {"resource-type": "ShinyProxyApp"}, "laiki-spec": {"id": "a"}}
	count(data_access.warn) == 0 with input as {"laiki-metadata": {"resource-type": "ShinyProxyApp"}, "laiki-spec": "not a map"}
	count(data_access.warn) == 0 with input as {"laiki-metadata": {"resource-type": "Crane"}, "laiki-spec": {"crane-data-repository": {}}}
}

# The data is the same whoever wrote the app.
test_platform_apps_are_judged_too if {
	doc := object.union(app(jack_and_jeff, {}), {"laiki-source": {"name": "platform", "role": "platform"}})
	count(data_access.warn) == 1 with input as doc
}

test_enforce_deny if {
	cfg := {"enforce": "deny"}
	count(warned_with(jack_and_jeff, {}, cfg)) == 0
	d := denied_with(jack_and_jeff, {"access-users": ["bob"]}, cfg)
	fields(d) == {["laiki-spec", "access-users"]}
	some f in d
	endswith(f.msg, "(the platform denies this: policy-data.data-access.enforce)")
	count(denied_with(jack_and_jeff, {"access-users": ["jack"]}, cfg)) == 0
}

test_enforce_off if {
	count(warned_with(jack_and_jeff, {}, {"enforce": "off"})) == 0
	count(denied_with(jack_and_jeff, {}, {"enforce": "off"})) == 0
}

test_misspelt_enforce_denies if {
	d := denied_with(jack_and_jeff, {}, {"enforce": "Deny"})
	some f in d
	contains(f.msg, "policy-data.data-access.enforce is Deny, which is none of warn, deny or off: taken as deny")
	count(warned_with(jack_and_jeff, {}, {"enforce": "Deny"})) == 0
}

test_platform_config_keeps_other_defaults if {
	count(warned_with(jack_and_jeff, {}, {"trusted-expressions": ["#{true}"]})) == 1
	count(warned_with(jack_and_jeff, {}, "not a map")) == 1
}
