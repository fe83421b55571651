package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// inputs are the flags every command that reads sources shares.
type inputs struct {
	config   string
	cacheDir string
	// platform are the --platform paths: with them, the other paths are
	// team sources, checked as a pull request is.
	platform []string
	// stdin is the temporary file standard input ("-") was written to.
	stdin string
}

func (in *inputs) register(c *cobra.Command) {
	c.Flags().StringVar(&in.config, "config", "", "sources file (default laiki.yaml in the working directory, unless paths are given)")
	c.Flags().StringVar(&in.cacheDir, "cache-dir", "", "where Git sources are cached between runs (default: the user cache directory)")
	// --platform where plain paths go through load (check, render, explain,
	// apply, ecr report). policy test reads its paths itself (policy.go,
	// policies), and policy eval, webhook and operator take no paths: they
	// do not offer a flag they would not read.
	if strings.Contains(c.Use, "PATH...") && c.Name() != "test" {
		c.Flags().StringArrayVar(&in.platform, "platform", nil, "the platform's directory (or a file of it), read as a platform source; "+
			"the PATHs are then team sources, checked as a pull request is (repeatable)")
	}
}

// load builds the configuration from --config, --platform and paths, or
// plain paths.
func (in *inputs) load(paths []string) (*source.Config, error) {
	cfg, err := in.loadConfig(paths)
	if err == nil {
		in.relabelStdin(cfg)
	}
	return cfg, err
}

func (in *inputs) loadConfig(paths []string) (*source.Config, error) {
	switch {
	case len(in.platform) > 0 && in.config != "":
		return nil, cannot(errors.New("give --config or --platform, not both: --platform reads the platform from a directory instead of laiki.yaml"))
	case len(in.platform) > 0 && len(paths) == 0:
		return nil, cannot(errors.New("--platform needs the paths of the apps to check as a team's, e.g. laiki check --platform ./platform ./apps"))
	case len(in.platform) > 0:
		return in.platformConfig(paths)
	case in.config != "" && len(paths) > 0:
		return nil, cannot(errors.New("give --config or paths, not both"))
	case len(paths) > 0:
		return source.PathsConfig(paths), nil
	}
	file := in.config
	if file == "" {
		file = "laiki.yaml"
		if _, err := os.Stat(file); err != nil {
			return nil, cannot(errors.New("no laiki.yaml here: give --config FILE, or the paths to check"))
		}
	}
	cfg, err := source.LoadConfig(file)
	if err != nil {
		return nil, cannot(err)
	}
	return cfg, nil
}

// platformConfig makes the configuration a pull request is checked with
// from paths: the --platform paths as platform sources, the others as team
// sources allowed every resource type in the namespaces the platform
// declares targets and pre-processors in, and the policy-data of a
// laiki.yaml at the root of a --platform directory, when there is one (the
// baseline as the platform tuned it; its sources are not read).
func (in *inputs) platformConfig(apps []string) (*source.Config, error) {
	if err := apart(in.platform, apps); err != nil {
		return nil, cannot(err)
	}
	platform := source.PlatformPathsConfig(in.platform, nil, nil)
	limits := document.DefaultLimits
	// Local files only: nothing here waits on the network.
	loaded := source.Load(context.Background(), platform, source.Options{CacheDir: in.cacheDir, MaxFileBytes: int64(limits.MaxFileBytes)})
	seen := map[string]bool{}
	var namespaces []string
	for _, l := range loaded {
		if l.Failed {
			return nil, cannot(errors.New(l.Findings[0].Message))
		}
		for _, f := range l.Files {
			if strings.HasSuffix(f.Path, ".rego") {
				continue // policies, as the engine reads them
			}
			for _, d := range document.Parse(l.Source.Ref(), f.Path, f.Data, limits).Documents {
				if (d.Kind == document.Target || d.Kind == document.PreProcessor) && d.Namespace != "" && !seen[d.Namespace] {
					seen[d.Namespace] = true
					namespaces = append(namespaces, d.Namespace)
				}
			}
		}
	}
	if len(namespaces) == 0 {
		return nil, cannot(fmt.Errorf("--platform %s: no targets or pre-processors in it, so no namespace the apps may bind to; is it the platform's directory?",
			strings.Join(in.platform, ", ")))
	}
	slices.Sort(namespaces)
	cfg := source.PlatformPathsConfig(in.platform, apps, namespaces)

	var from string
	for _, s := range cfg.Sources[:len(in.platform)] {
		file := filepath.Join(s.Path, "laiki.yaml")
		if info, err := os.Stat(s.Path); err != nil || !info.IsDir() {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			continue
		}
		full, err := source.LoadConfig(file)
		if err != nil {
			return nil, cannot(fmt.Errorf("%s, read for its policy-data: %w", file, err))
		}
		if len(full.PolicyData) == 0 {
			continue
		}
		if from != "" {
			return nil, cannot(fmt.Errorf("policy-data in both %s and %s: Laiki cannot tell which the platform runs with; give one --platform directory with a laiki.yaml", from, file))
		}
		from, cfg.PolicyData, s.PolicyDataFrom = file, full.PolicyData, file
	}
	return cfg, nil
}

// apart refuses an app path inside a platform path, or the other way round:
// the same file would be read as the platform's and the team's.
func apart(platform, apps []string) error {
	inside := func(dir, p string) bool {
		d, err1 := filepath.Abs(dir)
		q, err2 := filepath.Abs(p)
		if err1 != nil || err2 != nil {
			return false
		}
		rel, err := filepath.Rel(d, q)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	for _, p := range platform {
		for _, a := range apps {
			switch {
			case inside(p, a):
				return fmt.Errorf("%s is inside --platform %s: its files would be read as the platform's and as a team's; give the apps' own directory", a, p)
			case inside(a, p):
				return fmt.Errorf("--platform %s is inside %s: its files would be read as a team's too; give the apps' own directory", p, a)
			}
		}
	}
	return nil
}

// run loads the sources, runs the engine and the workflows: every command
// gives the same verdict, workflow findings included.
func (in *inputs) run(ctx context.Context, paths []string) (*pipeline.Result, *workflow.Desired, error) {
	return in.runWith(ctx, paths, workflow.Options{})
}

// judge is run for a command that reports the verdict only (check): the
// same findings, without keeping the desired state of every target.
func (in *inputs) judge(ctx context.Context, paths []string) (*pipeline.Result, error) {
	res, _, err := in.runWith(ctx, paths, workflow.Options{FindingsOnly: true})
	return res, err
}

func (in *inputs) runWith(ctx context.Context, paths []string, o workflow.Options) (*pipeline.Result, *workflow.Desired, error) {
	cfg, err := in.load(paths)
	if err != nil {
		return nil, nil, err
	}
	res, err := pipeline.Run(ctx, pipeline.Options{Config: cfg, Load: source.Options{CacheDir: in.cacheDir}})
	if err != nil {
		// What was read comes back with the fault, for a report that says
		// why nothing was checked (check writes it in every format).
		var ce *policy.CompileError
		if errors.As(err, &ce) {
			return res, nil, cannot(fmt.Errorf("a policy does not compile:\n%w", err))
		}
		return res, nil, cannot(err)
	}
	return res, workflow.RenderAndJudgeWith(res, o), nil
}
