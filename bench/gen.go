package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// platform is a generated platform: N apps in M team directories (each one
// repository's worth), T ShinyProxy targets, the defaults pre-processor in
// every target namespace, and ten governance rules.
type platform struct {
	Dir      string // root
	Config   string // laiki.yaml
	Policy   string // the ten rules, one file (for conftest too)
	AppDirs  []string
	Apps     int
	Targets  int
	Rejected int // apps Laiki rejects, as generated (those from another registry)
	// The app files (relative to Dir) each tool must reject: conftest
	// what the rules deny in the file as written, Laiki what they deny
	// after the defaults pre-processor (which gives limits and turns
	// privileged off).
	LaikiRejects, ConftestRejects map[string]bool
}

// benchRules are the ten governance rules, the same text for Laiki and for
// conftest: they read input["laiki-spec"] and input["laiki-metadata"], which
// both tools give (conftest: the file's document; Laiki: the document after
// its pre-processors).
const benchRules = `package laiki.governance.bench

spec := input["laiki-spec"]

image := object.get(spec, "container-image", "")

deny contains "container-privileged: privileged containers are not allowed" if {
	spec["container-privileged"] == true
}

deny contains "container-memory-limit: every app needs a memory limit" if {
	not spec["container-memory-limit"]
}

deny contains sprintf("container-image: %s is not from registry.example.com", [image]) if {
	not startswith(image, "registry.example.com/")
}

deny contains "container-image: pin a version, not latest" if {
	endswith(image, ":latest")
}

deny contains "container-network: host networking is not allowed" if {
	spec["container-network"] == "host"
}

warn contains "container-cpu-request: set a CPU request" if {
	not spec["container-cpu-request"]
}

deny contains "max-instances: at most 10" if {
	spec["max-instances"] > 10
}

warn contains "display-name: give the app a name people read" if {
	not spec["display-name"]
}

deny contains "id: lower case only" if {
	spec.id != lower(spec.id)
}

deny contains sprintf("container-env: %s looks like a secret; use a Secret", [k]) if {
	some k, _ in object.get(spec, "container-env", {})
	contains(upper(k), "PASSWORD")
}
`

// generate writes a platform of apps apps in repos team directories.
func generate(root string, apps, repos, targets int) (*platform, error) {
	p := &platform{Dir: root, Apps: apps, Targets: targets, LaikiRejects: map[string]bool{}, ConftestRejects: map[string]bool{}}
	write := func(rel, text string) error {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, []byte(text), 0o644)
	}
	var cfg strings.Builder
	cfg.WriteString("sources:\n  - name: platform\n    path: platform\n    role: platform\n")
	var namespaces []string
	for t := 0; t < targets; t++ {
		ns := fmt.Sprintf("sp-%02d", t)
		namespaces = append(namespaces, ns)
		if err := write(fmt.Sprintf("platform/%s/shinyproxy.yaml", ns), fmt.Sprintf(
			"laiki-metadata:\n  target-type: ShinyProxy\n  name: apps\n  namespace: %s\nlaiki-spec:\n  fqdn: %s.example.com\n  proxy:\n    title: Apps %d\n    containerBackend: kubernetes\n", ns, ns, t)); err != nil {
			return nil, err
		}
		if err := write(fmt.Sprintf("platform/%s/pre-puller.yaml", ns), fmt.Sprintf(
			"laiki-metadata:\n  target-type: PrePuller\n  name: pre-puller\n  namespace: %s\nlaiki-spec:\n", ns)); err != nil {
			return nil, err
		}
		if err := write(fmt.Sprintf("platform/%s/defaults.yaml", ns), fmt.Sprintf(
			"laiki-metadata:\n  pre-processor-name: ShinyProxyAppDefaultsPreProcessor\n  name: defaults\n  target-namespace: %s\nlaiki-spec:\n  fallback:\n    container-memory-limit: 1Gi\n    container-cpu-request: 0.5\n  append:\n    container-env:\n      PLATFORM: bench\n  override:\n    container-privileged: false\n", ns)); err != nil {
			return nil, err
		}
	}
	p.Policy = filepath.Join(root, "policy", "bench.rego")
	if err := write("policy/bench.rego", benchRules); err != nil {
		return nil, err
	}
	cfg.WriteString("  - name: rules\n    path: policy\n    role: platform\n")
	for r := 0; r < repos; r++ {
		dir := fmt.Sprintf("repo-%03d", r)
		p.AppDirs = append(p.AppDirs, filepath.Join(root, dir))
		fmt.Fprintf(&cfg, "  - name: team-%03d\n    path: %s\n    allow:\n      resource-types: [ShinyProxyApp]\n      target-namespaces: [%s]\n", r, dir, strings.Join(namespaces, ", "))
	}
	for _, d := range p.AppDirs {
		if err := os.MkdirAll(filepath.Join(d, "apps"), 0o755); err != nil {
			return nil, err
		}
	}
	for i := 0; i < apps; i++ {
		text, laikiRejects, conftestRejects := appFile(i, namespaces[i%targets])
		rel := fmt.Sprintf("repo-%03d/apps/app-%05d.yaml", i%repos, i)
		if laikiRejects {
			p.Rejected++
			p.LaikiRejects[rel] = true
		}
		if conftestRejects {
			p.ConftestRejects[rel] = true
		}
		if err := write(rel, text); err != nil {
			return nil, err
		}
	}
	p.Config = filepath.Join(root, "laiki.yaml")
	return p, os.WriteFile(p.Config, []byte(cfg.String()), 0o644)
}

// appFile is app i: most are clean; a realistic few are privileged (5%),
// without limits (10%: Laiki's defaults give them one, conftest refuses
// them), or from an unapproved registry (5%). It says whether Laiki and
// whether conftest must reject it.
func appFile(i int, ns string) (text string, laikiRejects, conftestRejects bool) {
	image := fmt.Sprintf("registry.example.com/team-%d/app-%05d:1.%d", i%37, i, i%9)
	extra := "  container-memory-limit: 2Gi\n  container-cpu-request: 1\n"
	switch {
	case i%20 == 3:
		// conftest refuses it; Laiki's override turns it off (with a warning).
		extra += "  container-privileged: true\n"
		conftestRejects = true
	case i%10 == 5:
		extra = "" // no limits: the defaults pre-processor sets them
		conftestRejects = true
	case i%20 == 7:
		image = fmt.Sprintf("docker.io/someone/app-%05d:1", i)
		laikiRejects, conftestRejects = true, true
	}
	return fmt.Sprintf(`laiki-metadata:
  resource-type: ShinyProxyApp
  target-name: apps
  target-namespace: %s
laiki-spec:
  id: app-%05d
  display-name: App %d
  description: A generated app for the benchmarks, one of many in a large platform.
  container-image: %s
  container-env:
    APP_MODE: production
    LOG_LEVEL: info
  port: 3838
  max-instances: 4
%s`, ns, i, i, image, extra), laikiRejects, conftestRejects
}
