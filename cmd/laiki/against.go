package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/plan"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// planAgainst runs the check again on the pull request's base, ref, and
// says what the pull request changes in the running platform, from the
// base's run to head (the checkout's). The configuration is the
// checkout's, built as in.run builds it; the files of the local sources in
// the repository of the working directory are read at ref (see
// source.Revision). What keeps the base from being judged (ref unknown, a
// source unreadable there, a policy that did not compile then) is Laiki
// unable to run, exit 2: a plan against half a base would be wrong.
func planAgainst(ctx context.Context, in *inputs, paths []string, ref string, head *pipeline.Result) (*plan.Plan, error) {
	cfg, err := in.load(paths)
	if err != nil {
		return nil, err
	}
	rev, err := source.AtRevision(cfg, ".", ref)
	if err != nil {
		return nil, cannot(fmt.Errorf("--against %w", err))
	}
	base, err := pipeline.Run(ctx, pipeline.Options{Config: cfg, Load: source.Options{CacheDir: in.cacheDir}, Loader: rev.Load})
	if err != nil {
		var ce *policy.CompileError
		if errors.As(err, &ce) {
			return nil, cannot(fmt.Errorf("--against %s: a policy does not compile at that revision:\n%w", ref, err))
		}
		return nil, cannot(fmt.Errorf("--against %s: %w", ref, err))
	}
	for _, l := range base.Sources {
		if l.Failed {
			return nil, cannot(fmt.Errorf("--against %s: %s", ref, unreadAt(l)))
		}
	}
	workflow.RenderAndJudgeWith(base, workflow.Options{FindingsOnly: true})
	p := plan.Compare(base, head)
	p.Base, p.BaseCommit = ref, rev.Commit
	return p, nil
}

// unreadAt says why a source could not be read for the base.
func unreadAt(l *source.Loaded) string {
	for _, f := range l.Findings {
		if f.Severity.Blocking() {
			return f.Message
		}
	}
	return fmt.Sprintf("source %s (%s) could not be read", l.Source.Name, l.Source.Describe())
}
