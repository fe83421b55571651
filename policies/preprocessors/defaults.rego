# METADATA
# title: ShinyProxyAppDefaultsPreProcessor
# description: |
#   Sets defaults on ShinyProxy apps, parameterised by the pre-processor
#   document's laiki-spec:
#   - fallback: each key is set only where the app leaves it unset (nested
#     maps key by key); an app's own value always wins.
#   - append: map entries and list items are added to what the app has; on a
#     map key that the app also sets, the platform's value wins, with a warning.
#   - override: the key is set whatever the app says, with a warning when the
#     app said otherwise.
#   They apply in that order: fallback, append, override.
# related_resources:
#   - ref: https://github.com/laiki-platform/laiki/blob/main/docs/policies.md#shinyproxyappdefaultspreprocessor-pre-processor
#     description: the pre-processor's parameters, with an example document
#   - ref: https://github.com/laiki-platform/laiki/blob/main/docs/policies.md#pre-processors
#     description: how pre-processors are turned on and in what order they run
package laiki.preprocessors.ShinyProxyAppDefaultsPreProcessor

resource_types := {"ShinyProxyApp"}

params := p if {
	p := input.parameters
	is_object(p)
} else := {}

param(k) := v if {
	v := params[k]
	is_object(v)
} else := {}

fallback := param("fallback")

additions := param("append")

override := param("override")

# The app as written; an explicit null means unset.
app := {k: v | some k, v in input["laiki-spec"]; v != null} if is_object(input["laiki-spec"])

else := {}

after_fallback := object.union(fallback, app)

appended(cur, add) := object.union(cur, add) if {
	is_object(cur)
	is_object(add)
} else := array.concat(cur, [x | some x in add; not x in cur]) if {
	is_array(cur)
	is_array(add)
} else := add if {
	cur == null
} else := cur

after_append := object.union(after_fallback, {k: appended(object.get(after_fallback, k, null), add) | some k, add in additions})

spec := object.union(object.remove(after_append, object.keys(override)), override)

# Where each value came from, for `laiki explain`.
changes contains {"field": ["laiki-spec", k], "rule": "fallback"} if {
	some k, _ in fallback
	not k in object.keys(app)
}

changes contains {"field": ["laiki-spec", k, sub], "rule": "fallback"} if {
	some k, fb in fallback
	is_object(fb)
	is_object(app[k])
	some sub, _ in fb
	not sub in object.keys(app[k])
}

changes contains {"field": ["laiki-spec", k], "rule": "append"} if {
	some k, _ in additions
}

changes contains {"field": ["laiki-spec", k], "rule": "override"} if {
	some k, _ in override
}

# Only the app's own entries: one that the fallback set is the platform's.
warn contains {"msg": msg, "field": ["laiki-spec", k, sub]} if {
	some k, add in additions
	cur := app[k]
	is_object(cur)
	is_object(add)
	some sub, v in add
	cur[sub] != v
	msg := sprintf("%s.%s: the platform sets %v, which replaces your %v", [k, sub, v, cur[sub]])
}

warn contains {"msg": msg, "field": ["laiki-spec", k]} if {
	some k, add in additions
	cur := after_fallback[k]
	not same_kind(cur, add)
	msg := sprintf("%s: the platform appends to it, but your value is not a %s; yours is kept", [k, kind(add)])
}

warn contains {"msg": msg, "field": ["laiki-spec", k]} if {
	some k, v in override
	k in object.keys(app)
	app[k] != v
	msg := sprintf("%s: the platform sets %v whatever the app says; your %v is not used", [k, v, app[k]])
}

same_kind(a, b) if {
	is_object(a)
	is_object(b)
}

same_kind(a, b) if {
	is_array(a)
	is_array(b)
}

kind(x) := "map" if is_object(x)

else := "list" if is_array(x)

else := "map or list"

# Mistakes in the pre-processor document itself.
parameter_errors contains sprintf("unknown key %s: the defaults pre-processor has fallback, append and override", [k]) if {
	some k, _ in params
	not k in {"fallback", "append", "override"}
}

parameter_errors contains sprintf("%s must be a map of app keys to values", [k]) if {
	some k in {"fallback", "append", "override"}
	v := params[k]
	v != null
	not is_object(v)
}

parameter_errors contains sprintf("append.%s must be a map or a list: only those can be appended to", [k]) if {
	some k, v in additions
	not is_object(v)
	not is_array(v)
}
