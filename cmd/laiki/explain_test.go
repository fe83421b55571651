package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

func resource(typ, namespace, target, id string) *pipeline.Resource {
	return &pipeline.Resource{ID: id, Doc: &document.Document{Type: typ, TargetNamespace: namespace, TargetName: target}}
}

// The resource is the last argument, or the last two when check's
// "TYPE NS/TARGET/ID" comes as two words; the arguments before are paths.
func TestResourceArg(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir("AwsEcrRepository", 0o755); err != nil { // a directory that happens to be named like a type
		t.Fatal(err)
	}
	cases := []struct {
		args         []string
		paths        []string
		wantResource string
	}{
		{[]string{"ShinyProxy/demo"}, nil, "ShinyProxy/demo"},
		{[]string{"apps", "ShinyProxy/sp/demo"}, []string{"apps"}, "ShinyProxy/sp/demo"},
		{[]string{"apps", "ShinyProxyApp ShinyProxy/sp/demo"}, []string{"apps"}, "ShinyProxyApp ShinyProxy/sp/demo"},
		{[]string{"ShinyProxyApp", "ShinyProxy/sp/demo"}, nil, "ShinyProxyApp ShinyProxy/sp/demo"},
		{[]string{"apps", "-", "shinyproxyapp", "ShinyProxy/sp/demo"}, []string{"apps", "-"}, "shinyproxyapp ShinyProxy/sp/demo"},
		{[]string{"AwsEcrRepository", "ShinyProxy/sp/repo"}, []string{"AwsEcrRepository"}, "ShinyProxy/sp/repo"},
	}
	for _, c := range cases {
		paths, want := resourceArg(c.args)
		if !slices.Equal(paths, c.paths) || want != c.wantResource {
			t.Errorf("%q: paths %q resource %q, want %q %q", c.args, paths, want, c.paths, c.wantResource)
		}
	}
}

// Every way check and explain name a resource finds it; an ECR repository's
// name may itself hold slashes.
func TestNamed(t *testing.T) {
	app := resource("ShinyProxyApp", "apps", "sp", "demo")
	repo := resource("AwsEcrRepository", "apps", "sp", "team/repo")
	other := resource("ShinyProxyApp", "apps", "sp2", "demo")
	all := []*pipeline.Resource{app, repo, other}
	for want, found := range map[string][]*pipeline.Resource{
		"apps/demo":                          {app, other},
		"apps/sp/demo":                       {app},
		"ShinyProxyApp apps/sp2/demo":        {other},
		"apps/team/repo":                     {repo},
		"apps/sp/team/repo":                  {repo},
		"AwsEcrRepository apps/sp/team/repo": {repo},
		"AwsEcrRepository apps/sp/demo":      nil,
		"apps/sp":                            nil,
	} {
		if got := named(all, want); !slices.Equal(got, found) {
			t.Errorf("%q: %d resources, want %d", want, len(got), len(found))
		}
	}
}

// Nothing found: say so, and name what is close, in the form asked.
func TestNoResource(t *testing.T) {
	all := []*pipeline.Resource{resource("ShinyProxyApp", "ShinyProxy", "ShinyProxy", "shinyproxy-demo"), resource("AwsEcrRepository", "ShinyProxy", "ShinyProxy", "my-repository-name")}
	for want, msg := range map[string]string{
		"ShinyProxy/shinyproxy-dem":                          "no resource ShinyProxy/shinyproxy-dem in any source; did you mean ShinyProxy/shinyproxy-demo?",
		"shinyproxy/shinyproxy-demo":                         "did you mean ShinyProxy/shinyproxy-demo?",
		"ShinyProxy/ShinyProxy/shinyproxy-dmo":               "did you mean ShinyProxy/ShinyProxy/shinyproxy-demo?",
		"ShinyProxyAp ShinyProxy/ShinyProxy/shinyproxy-demo": "did you mean ShinyProxyApp ShinyProxy/ShinyProxy/shinyproxy-demo?",
		"ShinyProxy/nope":                                    "no resource ShinyProxy/nope in any source",
	} {
		err := noResource(all, want)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want %q", want, err, msg)
		}
		if want == "ShinyProxy/nope" && strings.Contains(err.Error(), "did you mean") {
			t.Errorf("%q: nothing is close, got %v", want, err)
		}
	}
}
