# METADATA
# title: Data access
# description: |
#   An app with a Crane data repository shows that data, at /mnt/data, to
#   everyone who may open the app: they must all be readers of the
#   repository. Laiki compares the app's access-users and access-groups with
#   the repository's read-access users and groups; an app open to every
#   ShinyProxy user, a user or group beyond the readers, or an
#   access-expression (which Laiki cannot compare) is reported. A warning by
#   default; the platform tunes it in laiki.yaml under policy-data.data-access
#   (see docs/policies.md):
#     enforce: deny               # warn (default), deny (the app is rejected) or off
#     trusted-expressions: [...]  # access expressions that admit readers only
# related_resources:
#   - ref: https://github.com/laiki-platform/laiki/blob/main/docs/policies.md#laikigovernancedata_access-governance
#     description: what the rule compares, and its parameters in laiki.yaml
package laiki.governance.data_access

defaults := {
	"enforce": "warn",
	"trusted-expressions": [],
}

platform_config := c if {
	c := data.laiki.config["data-access"]
	is_object(c)
} else := {}

config := object.union(defaults, platform_config)

spec := s if {
	s := input["laiki-spec"]
	is_object(s)
} else := {}

# The app's data repository, when it asks for one.
repository := r if {
	input["laiki-metadata"]["resource-type"] == "ShinyProxyApp"
	r := spec["crane-data-repository"]
	is_object(r)
}

repository_name := n if {
	n := repository.name
	is_string(n)
	n != ""
} else := spec.id

read_access := a if {
	a := repository["read-access"]
	is_object(a)
} else := {}

# Names as ShinyProxy and Crane bind them: a list, or one string of
# comma-separated names (Spring splits it).
names(v) := {trim_space(n) | some n in split(v, ","); trim_space(n) != ""} if is_string(v)

names(v) := {sprintf("%v", [n]) | some n in v; n != null} if is_array(v)

names(v) := set() if {
	not is_string(v)
	not is_array(v)
}

# Both ShinyProxy and Crane compare group names whatever their case, and
# user names as written.
lower_names(v) := {lower(n) | some n in names(v)}

reader_users := names(object.get(read_access, "users", null))

reader_groups := lower_names(object.get(read_access, "groups", null))

# Crane lets everyone read a public repository, and every signed-in user
# one with any-authenticated-user.
everyone_reads if read_access.public == true

everyone_reads if read_access["any-authenticated-user"] == true

app_users := names(object.get(spec, "access-users", null))

app_groups := names(object.get(spec, "access-groups", null))

expression(key) := e if {
	e := spec[key]
	is_string(e)
	e != ""
}

trusted(e) if e in config["trusted-expressions"]

# A trusted access-strict-expression, which ShinyProxy checks before all
# else, lets no one but readers in, whatever the rest says.
narrowed if trusted(expression("access-strict-expression"))

# Laiki has something to say: an app with data, whose access is not
# narrowed to readers, with a platform that has not turned the rule off.
judged if {
	repository
	not everyone_reads
	not narrowed
	config.enforce != "off"
}

# With no access-users, access-groups or access-expression, ShinyProxy
# lets every signed-in user open the app.
open_to_all if {
	count(app_users) == 0
	count(app_groups) == 0
	not expression("access-expression")
}

findings contains {"msg": msg, "field": repository_field} if {
	judged
	open_to_all
	msg := sprintf("every ShinyProxy user may open this app and so see its data at /mnt/data, while Crane repository %s %s: give the app access-users or access-groups from its readers%s", [repository_name, readers_text, strict_note])
}

findings contains {"msg": msg, "field": ["laiki-spec", "access-users"]} if {
	judged
	extra := app_users - reader_users
	count(extra) > 0
	msg := sprintf("access-users: %s may open this app and so see its data at /mnt/data, but Crane repository %s %s: add them to crane-data-repository.read-access.users, or remove them here%s", [concat(", ", sort(extra)), repository_name, readers_text, strict_note])
}

findings contains {"msg": msg, "field": ["laiki-spec", "access-groups"]} if {
	judged
	extra := {g | some g in app_groups; not lower(g) in reader_groups}
	count(extra) > 0
	msg := sprintf("access-groups: the members of %s may open this app and so see its data at /mnt/data, but Crane repository %s %s: add the groups to crane-data-repository.read-access.groups, or remove them here%s", [concat(", ", sort(extra)), repository_name, readers_text, strict_note])
}

findings contains {"msg": msg, "field": ["laiki-spec", "access-expression"]} if {
	judged
	e := expression("access-expression")
	not trusted(e)
	msg := sprintf("access-expression: Laiki cannot tell whether everyone %q admits may read Crane repository %s, which %s: name them in access-users or access-groups, or ask the platform to trust the expression (policy-data.data-access.trusted-expressions)%s", [e, repository_name, readers_text, strict_note])
}

# Where the repository's readers are written, for a finding that has no
# access line of the app to point at.
repository_field := ["laiki-spec", "crane-data-repository", "read-access"] if {
	repository["read-access"]
} else := ["laiki-spec", "crane-data-repository"]

readers_text := sprintf("may be read only by %s", [concat(" and ", reader_parts)]) if {
	count(reader_parts) > 0
} else := "may be read by no one (it has no read-access)"

reader_parts := [p |
	some p in [
		listed("users", object.get(read_access, "users", null)),
		listed("groups", object.get(read_access, "groups", null)),
		reader_expression_text,
	]
	p != ""
]

listed(kind, v) := sprintf("%s %s", [kind, concat(", ", sort(names(v)))]) if count(names(v)) > 0

listed(_, v) := "" if count(names(v)) == 0

# Crane's read-access expression may let more people read: Laiki cannot
# tell whom, so it proves nothing, and is only named.
reader_expression_text := "whom its read-access expression admits" if {
	e := read_access.expression
	is_string(e)
	e != ""
} else := ""

strict_note := " (access-strict-expression may narrow who opens the app, but Laiki cannot tell; the platform may trust it in policy-data.data-access.trusted-expressions)" if {
	expression("access-strict-expression")
} else := ""

warn contains f if {
	config.enforce == "warn"
	some f in findings
}

# Any other value than warn or off denies: a misspelt setting must not
# weaken the rule.
deny contains {"msg": concat("", [f.msg, enforce_note]), "field": f.field} if {
	not config.enforce in {"warn", "off"}
	some f in findings
}

enforce_note := " (the platform denies this: policy-data.data-access.enforce)" if {
	config.enforce == "deny"
} else := sprintf(" (policy-data.data-access.enforce is %v, which is none of warn, deny or off: taken as deny)", [config.enforce])
