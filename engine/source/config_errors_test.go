package source

import (
	"strings"
	"testing"
)

// A laiki.yaml of the wrong shape is told in its own words (the path of
// the key, its line, the keys Laiki knows), never in yaml.v3's Go types.
func TestParseConfigShapeMessages(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"misspelt key", "sources:\n  - name: a\n    pth: x\n",
			[]string{`laiki.yaml:3: sources[0]: unknown key "pth" (did you mean "path"?)`}},
		{"unknown key, nothing close", "sources:\n  - name: a\n    path: x\n    colour: red\n",
			[]string{`laiki.yaml:4: sources[0]: unknown key "colour" (known: name, role, path, git, configmap,`}},
		{"nested key", "sources:\n  - name: a\n    git: {url: u, auth: {token-evn: T}}\n",
			[]string{`laiki.yaml:3: sources[0].git.auth: unknown key "token-evn" (did you mean "token-env"?)`}},
		{"top-level key", "source:\n  - {name: a, path: x}\n",
			[]string{`laiki.yaml:1: unknown key "source" (did you mean "sources"?)`}},
		{"sources as a mapping", "# the sources\nsources:\n  name: a\n",
			[]string{`laiki.yaml:3: sources must be a list of sources, not a mapping`}},
		{"sources as a flow mapping", "sources: {name: a}\n",
			[]string{`laiki.yaml:1: sources must be a list of sources, not a mapping`}},
		{"a source as a string", "sources:\n  - platform\n",
			[]string{`laiki.yaml:2: sources[0] must be a mapping (name, role, path, git, ...), not a string`}},
		{"exclude as a string", "sources:\n  - {name: a, path: x, role: platform, exclude: docs/**}\n",
			[]string{`laiki.yaml:2: sources[0].exclude must be a list of strings, not a string`}},
		{"a number that is not", "budgets:\n  files: many\n",
			[]string{`laiki.yaml:2: budgets.files must be a whole number, not "many"`}},
		{"policy-data as a list", "policy-data: [a]\n",
			[]string{`laiki.yaml:1: policy-data must be a mapping, not a list`}},
		{"the file a list", "- name: a\n",
			[]string{`laiki.yaml:1: the file must be a mapping (sources, policy-data, budgets), not a list`}},
		{"every problem at once", "sources:\n  - {name: a, pth: x}\n  - {name: b, rol: team}\n",
			[]string{`laiki.yaml:2: sources[0]: unknown key "pth"`, `laiki.yaml:3: sources[1]: unknown key "rol" (did you mean "role"?)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("laiki.yaml", []byte(c.text))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got\n%v\nwant it to contain\n%s", err, w)
				}
			}
			for _, goish := range []string{"source.", "!!", "unmarshal", "[]*", "map[string]"} {
				if strings.Contains(err.Error(), goish) {
					t.Errorf("the message speaks Go (%q): %v", goish, err)
				}
			}
		})
	}
}

// An empty laiki.yaml (or one with comments only) is a laiki.yaml with no
// sources, as `sources: []` is: never an error naming EOF.
func TestParseConfigEmpty(t *testing.T) {
	for _, text := range []string{"", "\n", "# nothing yet\n", "---\n"} {
		cfg, err := ParseConfig("laiki.yaml", []byte(text))
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if len(cfg.Sources) != 0 || cfg.File != "laiki.yaml" {
			t.Errorf("%q: %+v", text, cfg)
		}
	}
}

// The YAML itself broken: the file and "invalid YAML", not yaml.v3's prefix.
func TestParseConfigInvalidYAML(t *testing.T) {
	_, err := ParseConfig("laiki.yaml", []byte("sources:\n  - name: a\n   path: x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "laiki.yaml:") || !strings.Contains(err.Error(), "invalid YAML") || strings.Contains(err.Error(), ": yaml:") {
		t.Errorf("got %v", err)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"path", "role", "name", "ShinyProxy/shinyproxy-demo"}
	for name, want := range map[string]string{
		"pth": "path", "Path": "path", "rol": "role", "shinyproxy/shinyproxy-dem": "ShinyProxy/shinyproxy-demo", "colour": "",
	} {
		got := Closest(name, known, 2)
		if want == "" && len(got) != 0 || want != "" && (len(got) != 1 || got[0] != want) {
			t.Errorf("Closest(%q) = %v, want %q", name, got, want)
		}
	}
	if got := Closest("ab", []string{"ac", "ad", "xy"}, 1); strings.Join(got, ",") != "ac,ad" {
		t.Errorf("ties: %v", got)
	}
}
