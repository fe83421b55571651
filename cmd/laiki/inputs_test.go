package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/test/gittest"
)

// files writes name → content under dir.
func files(t *testing.T, dir string, fs map[string]string) {
	t.Helper()
	gittest.Write(t, dir, fs)
}

const (
	spTarget = "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  proxy: {title: t}\n"
	defaults = "laiki-metadata: {pre-processor-name: ShinyProxyAppDefaultsPreProcessor, name: d, target-namespace: data}\nlaiki-spec: {}\n"
	anApp    = "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: a\n  container-image: nginx:1\n"
)

// cannotRun fails the test unless err is exit 2 with a message holding want.
func cannotRun(t *testing.T, err error, want string) {
	t.Helper()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitCannot || !strings.Contains(err.Error(), want) {
		t.Errorf("want exit %d with %q, got %v", exitCannot, want, err)
	}
}

func TestLoadPlatform(t *testing.T) {
	dir := t.TempDir()
	files(t, dir, map[string]string{
		"platform/sp.yaml":       spTarget,
		"platform/more/pre.yaml": defaults,
		"apps/a.yaml":            anApp,
	})
	platform, apps := filepath.Join(dir, "platform"), filepath.Join(dir, "apps")

	in := inputs{platform: []string{platform}}
	cfg, err := in.load([]string{apps})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 2 || cfg.File != "" || cfg.PolicyData != nil {
		t.Fatalf("config %+v", cfg)
	}
	p, team := cfg.Sources[0], cfg.Sources[1]
	if p.Role != source.RolePlatform || p.Path != platform || !p.FromPath || p.PolicyDataFrom != "" {
		t.Errorf("platform source %+v", p)
	}
	if team.Role != source.RoleTeam || team.Path != apps || !team.FromPath || team.Allow == nil ||
		strings.Join(team.Allow.TargetNamespaces, ",") != "apps,data" || len(team.Allow.ResourceTypes) != 0 {
		t.Errorf("team source %+v allow %+v", team, team.Allow)
	}

	// Plain paths, as before: every one a platform source.
	cfg, err = (&inputs{}).load([]string{platform, apps})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Sources {
		if s.Role != source.RolePlatform || !s.FromPath {
			t.Errorf("plain path %+v", s)
		}
	}
}

// A laiki.yaml at the root of a --platform directory gives its policy-data:
// the team rules as the platform tuned them.
func TestLoadPlatformPolicyData(t *testing.T) {
	dir := t.TempDir()
	files(t, dir, map[string]string{
		"platform/sp.yaml":    spTarget,
		"platform/laiki.yaml": "sources:\n  - {name: platform, path: ., role: platform}\n  - {name: team, git: {url: https://git.example.com/t.git}, allow: {target-namespaces: [apps]}}\npolicy-data:\n  baseline: {allowed-keys: [container-privileged]}\n",
		"other/pre.yaml":      defaults,
		"other/laiki.yaml":    "sources:\n  - {name: other, path: ., role: platform}\npolicy-data:\n  baseline: {enabled: false}\n",
		"broken/sp.yaml":      spTarget,
		"broken/laiki.yaml":   "sources:\n  - {name: a, colour: red}\n",
		"apps/a.yaml":         anApp,
	})
	platform, apps := filepath.Join(dir, "platform"), filepath.Join(dir, "apps")
	cfg, err := (&inputs{platform: []string{platform}}).load([]string{apps})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := cfg.PolicyData["baseline"].(map[string]any)["allowed-keys"].([]any)
	if len(keys) != 1 || keys[0] != "container-privileged" {
		t.Errorf("policy-data %v", cfg.PolicyData)
	}
	if cfg.Sources[0].PolicyDataFrom != filepath.Join(platform, "laiki.yaml") || len(cfg.Sources) != 2 || cfg.Sources[1].Path != apps {
		t.Errorf("sources %+v %+v", cfg.Sources[0], cfg.Sources[1])
	}

	_, err = (&inputs{platform: []string{platform, filepath.Join(dir, "other")}}).load([]string{apps})
	cannotRun(t, err, "policy-data")
	_, err = (&inputs{platform: []string{filepath.Join(dir, "broken")}}).load([]string{apps})
	cannotRun(t, err, filepath.Join(dir, "broken", "laiki.yaml"))
}

func TestLoadPlatformErrors(t *testing.T) {
	dir := t.TempDir()
	files(t, dir, map[string]string{
		"platform/sp.yaml":     spTarget,
		"platform/apps/a.yaml": anApp,
		"apps/a.yaml":          anApp,
		"empty/notes.yaml":     "just: yaml\n",
		"laiki.yaml":           "sources:\n  - {name: platform, path: platform, role: platform}\n",
	})
	platform, apps := filepath.Join(dir, "platform"), filepath.Join(dir, "apps")
	for name, c := range map[string]struct {
		in    inputs
		paths []string
		want  string
	}{
		"with --config":      {inputs{platform: []string{platform}, config: filepath.Join(dir, "laiki.yaml")}, []string{apps}, "--config"},
		"with --config only": {inputs{platform: []string{platform}, config: filepath.Join(dir, "laiki.yaml")}, nil, "--config"},
		"no other path":      {inputs{platform: []string{platform}}, nil, "the paths of the apps"},
		"missing":            {inputs{platform: []string{filepath.Join(dir, "nope")}}, []string{apps}, "nope"},
		"declares nothing":   {inputs{platform: []string{filepath.Join(dir, "empty")}}, []string{apps}, "no targets"},
		"app inside":         {inputs{platform: []string{platform}}, []string{filepath.Join(platform, "apps")}, "inside"},
		"platform inside":    {inputs{platform: []string{platform}}, []string{dir}, "inside"},
		"the same path":      {inputs{platform: []string{platform}}, []string{platform + "/"}, "inside"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.in.load(c.paths)
			cannotRun(t, err, c.want)
		})
	}
}

// --platform goes to the commands that read plain paths through the shared
// inputs, and to no other.
func TestPlatformFlag(t *testing.T) {
	root := newRoot()
	for _, path := range [][]string{{"check"}, {"render"}, {"explain"}, {"apply"}, {"ecr", "report"}} {
		c, _, err := root.Find(path)
		if err != nil || c.Flags().Lookup("platform") == nil {
			t.Errorf("%s: no --platform (%v)", strings.Join(path, " "), err)
		}
	}
	for _, path := range [][]string{{"webhook"}, {"operator"}, {"policy", "eval"}, {"policy", "test"}} {
		c, _, err := root.Find(path)
		if err != nil || c.Flags().Lookup("platform") != nil {
			t.Errorf("%s: --platform offered where nothing reads it (%v)", strings.Join(path, " "), err)
		}
	}
}
