package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/admission"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// inputs are the flags every command that reads sources shares.
type inputs struct {
	config   string
	cacheDir string
}

func (in *inputs) register(c *cobra.Command) {
	c.Flags().StringVar(&in.config, "config", "", "sources file (default laiki.yaml in the working directory, unless paths are given)")
	c.Flags().StringVar(&in.cacheDir, "cache-dir", "", "where Git sources are cached between runs (default: the user cache directory)")
}

// load builds the configuration from --config or plain paths.
func (in *inputs) load(paths []string) (*source.Config, error) {
	switch {
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

// run loads the sources, runs the engine and the workflows: every command
// gives the same verdict, workflow findings included.
func (in *inputs) run(ctx context.Context, paths []string) (*engine.Result, *workflow.Desired, error) {
	cfg, err := in.load(paths)
	if err != nil {
		return nil, nil, err
	}
	res, err := engine.Run(ctx, engine.Options{Config: cfg, Load: source.Options{CacheDir: in.cacheDir}})
	if err != nil {
		var ce *admission.CompileError
		if errors.As(err, &ce) {
			return nil, nil, cannot(fmt.Errorf("a policy does not compile:\n%w", err))
		}
		return nil, nil, cannot(err)
	}
	return res, workflow.RenderAndJudge(res), nil
}
