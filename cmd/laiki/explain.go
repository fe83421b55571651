package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/types"
	"github.com/laiki-platform/laiki/engine/workflow"
)

func newExplain() *cobra.Command {
	var in inputs
	var output string
	c := &cobra.Command{
		Use:   "explain [--config FILE | PATH...] RESOURCE",
		Short: "Show one resource as the platform will run it, and where each value came from",
		Long: `Explain shows one resource (a ShinyProxyApp by id, an AwsEcrRepository by
name) as the platform will run it: each field with the file and line the
user wrote, or the pre-processor and rule (fallback, append, override), or
the workflow that set it.

RESOURCE is named as laiki check names it, TYPE NAMESPACE/TARGET/ID (one
argument, or two), or as NAMESPACE/TARGET/ID or NAMESPACE/ID, the namespace
being the target's. A PATH of - reads a file from standard input.`,
		Example: `  laiki explain --config laiki.yaml ShinyProxy/shinyproxy-demo
  laiki explain --config laiki.yaml ShinyProxyApp ShinyProxy/ShinyProxy/shinyproxy-demo
  laiki explain ./platform - ShinyProxy/my-app < my-app.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return cannot(fmt.Errorf("unknown output format %q (text or json)", output))
			}
			paths, want := resourceArg(args)
			if strings.Index(want, "/") <= 0 || strings.HasSuffix(want, "/") {
				return cannot(fmt.Errorf("%q: give the resource as laiki check names it, e.g. ShinyProxyApp ShinyProxy/ShinyProxy/shinyproxy-demo, or as TARGET-NAMESPACE/ID, e.g. ShinyProxy/shinyproxy-demo", want))
			}
			paths, cleanup, err := in.readStdin(paths)
			defer cleanup()
			if err != nil {
				return cannot(err)
			}
			res, desired, err := in.run(c.Context(), paths)
			if err != nil {
				return err
			}
			exps := explainNamed(res, desired, want)
			if len(exps) == 0 {
				return &exitError{code: exitRejected, err: noResource(res.Resources, want)}
			}
			if output == "json" {
				if err := encode(os.Stdout, "json", exps); err != nil {
					return cannot(err)
				}
			} else {
				for i, e := range exps {
					if i > 0 {
						fmt.Println()
					}
					verdict := "accepted"
					if !e.Accepted {
						verdict = "rejected"
					}
					// Values a team wrote are escaped: nothing of theirs starts a line.
					fmt.Printf("%s (%s:%d): %s\n", report.SafeText(e.Resource), report.SafeText(e.File), e.Line, verdict)
					for _, f := range e.Findings {
						fmt.Printf("  %s: %s: %s [%s]\n", report.SafeLocation(f.Location), f.Severity, report.SafeText(f.Message), report.SafeText(f.Policy))
					}
					w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					for _, o := range e.Fields {
						v, _ := encodeInline(o.Value)
						fmt.Fprintf(w, "  %s: %s\t%s\n", report.SafeText(fmt.Sprint(o.Field)), report.SafeText(v), report.SafeText(fmt.Sprint(o.From)))
					}
					_ = w.Flush()
				}
			}
			for _, e := range exps {
				if !e.Accepted {
					return &exitError{code: exitRejected}
				}
			}
			return nil
		},
	}
	in.register(c)
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

// encodeInline shows a value on one line, multi-line strings shortened.
func encodeInline(v any) (string, error) {
	var b strings.Builder
	if err := encode(&b, "json", v); err != nil {
		return "", err
	}
	s := strings.TrimSpace(b.String())
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s, nil
}

// resourceArg splits explain's arguments into the paths to read and the
// resource: the last argument, or the last two when they are check's TYPE
// NS/TARGET/ID as two words (a resource type, and no file of that name here:
// the arguments before the resource are paths).
func resourceArg(args []string) (paths []string, resource string) {
	n := len(args)
	if n >= 2 && isResourceType(args[n-2]) {
		if _, err := os.Stat(args[n-2]); err != nil {
			return args[:n-2], args[n-2] + " " + args[n-1]
		}
	}
	return args[:n-1], args[n-1]
}

func isResourceType(s string) bool {
	return slices.ContainsFunc(types.ResourceNames(), func(t string) bool { return strings.EqualFold(t, s) })
}

// resourceNames are the names explain knows a resource by: what check
// prints (TYPE NS/TARGET/ID), and shorter, without the type, or the target
// (ids are unique in a target, and usually in a namespace).
func resourceNames(r *pipeline.Resource) []string {
	short := r.Doc.TargetNamespace + "/" + r.ID
	long := r.Doc.TargetNamespace + "/" + r.Doc.TargetName + "/" + r.ID
	return []string{short, long, r.Doc.Type + " " + short, r.Doc.Type + " " + long}
}

// named returns the resources that want names. Names are compared whole
// rather than split at "/": an ECR repository's name may hold slashes.
func named(rs []*pipeline.Resource, want string) []*pipeline.Resource {
	var out []*pipeline.Resource
	for _, r := range rs {
		if slices.Contains(resourceNames(r), want) {
			out = append(out, r)
		}
	}
	return out
}

// explainNamed explains the resources want names: workflow.Explain finds
// them by namespace and id, the full name then tells apart those of other
// types or targets.
func explainNamed(res *pipeline.Result, d *workflow.Desired, want string) []workflow.Explanation {
	found := named(res.Resources, want)
	keys := map[string]bool{}
	for _, r := range found {
		keys[r.Key()] = true
	}
	type nsID struct{ namespace, id string }
	done := map[nsID]bool{}
	var out []workflow.Explanation
	for _, r := range found {
		k := nsID{r.Doc.TargetNamespace, r.ID}
		if done[k] {
			continue
		}
		done[k] = true
		for _, e := range workflow.Explain(res, d, k.namespace, k.id) {
			if keys[e.Resource] {
				out = append(out, e)
			}
		}
	}
	return out
}

// noResource says that nothing is named want, and which names are close,
// in the form want has (with the type or without).
func noResource(rs []*pipeline.Resource, want string) error {
	typed := strings.Contains(want, " ")
	var names []string
	for _, r := range rs {
		for _, n := range resourceNames(r) {
			if strings.Contains(n, " ") == typed {
				names = append(names, report.SafeText(n))
			}
		}
	}
	msg := "no resource " + want + " in any source"
	// A typo costs an edit or two; a long name may carry a few.
	likely := source.Closest(want, names, max(2, len(want)/5))
	if len(likely) > 3 {
		likely = likely[:3]
	}
	if len(likely) > 0 {
		msg += "; did you mean " + strings.Join(likely, " or ") + "?"
	}
	return errors.New(msg)
}
