package source

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig("dir/laiki.yaml", []byte(`sources:
  - name: platform
    path: platform
    role: platform
  - name: team-a
    git: {url: https://git.example.com/a.git, ref: main, auth: {token-env: TOKEN, token-file: ""}}
    allow: {target-namespaces: [apps]}
policy-data:
  baseline: {enabled: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 2 {
		t.Fatalf("sources: %d", len(cfg.Sources))
	}
	p, team := cfg.Sources[0], cfg.Sources[1]
	if p.Path != "dir/platform" || p.Line != 2 {
		t.Errorf("platform: path %q line %d", p.Path, p.Line)
	}
	if team.Role != RoleTeam || team.Line != 5 || team.Git.Ref != "main" {
		t.Errorf("team: %+v", team)
	}
	if got := team.allowedTypes(); len(got) < 2 {
		t.Errorf("a team without resource-types may declare every type, got %v", got)
	}
	if cfg.PolicyData["baseline"].(map[string]any)["enabled"] != false {
		t.Error("policy-data lost")
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := map[string]string{
		"unknown field":     "sources:\n  - name: a\n    path: x\n    colour: red\n",
		"bad name":          "sources:\n  - name: Team A\n    path: x\n    role: platform\n",
		"duplicate name":    "sources:\n  - {name: a, path: x, role: platform}\n  - {name: a, path: y, role: platform}\n",
		"both path and git": "sources:\n  - {name: a, path: x, git: {url: file:///x}, role: platform}\n",
		"neither":           "sources:\n  - {name: a, role: platform}\n",
		"bad role":          "sources:\n  - {name: a, path: x, role: admin}\n",
		"team needs allow":  "sources:\n  - {name: a, path: x}\n",
		"unknown type":      "sources:\n  - {name: a, path: x, allow: {resource-types: [Nope], target-namespaces: [n]}}\n",
		"creds in url":      "sources:\n  - {name: a, git: {url: 'https://user:secret@git.example.com/x.git'}, role: platform}\n",
		"creds in scp url":  "sources:\n  - {name: a, git: {url: 'oauth2:secret@git.example.com:team/apps.git'}, role: platform}\n",
		"creds in ssh url":  "sources:\n  - {name: a, git: {url: 'ssh://git:secret@git.example.com/team/apps.git'}, role: platform}\n",
		"creds in query":    "sources:\n  - {name: a, git: {url: 'https://git.example.com/x.git?private_token=secret'}, role: platform}\n",
		"creds in fragment": "sources:\n  - {name: a, git: {url: 'https://git.example.com/x.git#secret'}, role: platform}\n",
		"allow on platform": "sources:\n  - {name: a, path: x, role: platform, allow: {target-namespaces: [n]}}\n",
		"dir escapes":       "sources:\n  - {name: a, git: {url: file:///x, dir: ../..}, role: platform}\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig("laiki.yaml", []byte(text))
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.HasPrefix(err.Error(), "laiki.yaml:") {
				t.Errorf("the error must name the file (and line): %v", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error must not repeat the secret: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:tok@host/x.git": "https://***@host/x.git",
		"https://tok@host/x.git":      "https://***@host/x.git",
		"https://host/x.git":          "https://host/x.git",
		"ssh://git@host/x.git":        "ssh://git@host/x.git",
		"file:///srv/x":               "file:///srv/x",
		"oauth2:tok@host:team/x.git":  "***@host:team/x.git",
		"git@host:team/x.git":         "git@host:team/x.git",
		"https://host/x.git?t=tok":    "https://host/x.git?***",
		"https://host/x.git#tok":      "https://host/x.git#***",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	for _, msg := range []string{
		redactAll(`Get "https://user:tok@host/x.git/info/refs": 401`),
		redactAll(`Get "https://host/x.git/info/refs?service=git-upload-pack&private_token=tok": 401`),
		redactAll(`ssh: handshake failed for oauth2:tok@host:team/x.git`),
	} {
		if strings.Contains(msg, "tok") {
			t.Errorf("redactAll left the token: %s", msg)
		}
	}
}

func TestPathsConfig(t *testing.T) {
	cfg := PathsConfig([]string{"./platform", "apps", "platform/"})
	var names []string
	for _, s := range cfg.Sources {
		if s.Role != RolePlatform || !s.FromPath || s.Allow != nil {
			t.Errorf("%s: role %s, from path %v, allow %v", s.Name, s.Role, s.FromPath, s.Allow)
		}
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "platform,apps,platform-2" {
		t.Errorf("names = %v", names)
	}
}

// --platform: the platform's paths as platform sources, the others as team
// sources allowed every resource type in the platform's namespaces, as a
// pull request is checked.
func TestPlatformPathsConfig(t *testing.T) {
	namespaces := []string{"ShinyProxy", "data"}
	cfg := PlatformPathsConfig([]string{"./platform", "lib/platform"}, []string{"apps", "../team/apps", "platform"}, namespaces)
	namespaces[0] = "changed" // the sources keep their own copy
	var got []string
	for _, s := range cfg.Sources {
		if !s.FromPath {
			t.Errorf("%s: FromPath not set", s.Name)
		}
		switch s.Role {
		case RolePlatform:
			if s.Allow != nil {
				t.Errorf("%s: a platform source with allow %+v", s.Name, s.Allow)
			}
		case RoleTeam:
			if s.Allow == nil || strings.Join(s.Allow.TargetNamespaces, ",") != "ShinyProxy,data" || len(s.Allow.ResourceTypes) != 0 {
				t.Errorf("%s: allow %+v", s.Name, s.Allow)
			}
			if len(s.allowedTypes()) < 2 {
				t.Errorf("%s: a team source from a path may declare every resource type, got %v", s.Name, s.allowedTypes())
			}
		default:
			t.Errorf("%s: role %q", s.Name, s.Role)
		}
		got = append(got, s.Name+"="+s.Role+"@"+s.Path)
	}
	want := "platform=platform@./platform,lib-platform=platform@lib/platform,apps=team@apps,team-apps=team@../team/apps,platform-2=team@platform"
	if strings.Join(got, ",") != want {
		t.Errorf("sources\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

// Files that are YAML and never Laiki documents (CI pipelines) are left out
// by default, and a source names its own.
func TestExcluded(t *testing.T) {
	s := &Source{Exclude: []string{"docs/**", "*.draft.yaml", "tools/ci.yml"}}
	for rel, want := range map[string]bool{
		".github/workflows/ci.yml": true, ".gitlab-ci.yml": true, "docs/mkdocs.yml": true, "apps/x.draft.yaml": true,
		"tools/ci.yml": true, "apps/app.yaml": false, "github/app.yaml": false, "tools/other.yml": false,
	} {
		if got := s.Excluded(rel); got != want {
			t.Errorf("%s: excluded %v, want %v", rel, got, want)
		}
	}
}
