package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/workflow"
)

func newRender() *cobra.Command {
	var in inputs
	var output, outDir string
	c := &cobra.Command{
		Use:   "render [--config FILE | PATH...]",
		Short: "Print the desired state of every target",
		Long: `Render runs the workflows on the accepted resources and prints the desired
state of every target: its configuration and the Kubernetes objects that
deploy it. Rejected resources are left out and reported on stderr, with file
and line, and make the exit code 1; the accepted ones are still rendered.
A PATH of - reads a file from standard input (stdin.yaml in findings).`,
		Example: `  laiki render --config laiki.yaml --out rendered/
  kubectl get shinyproxyapp demo -o yaml | laiki convert - | laiki render ./platform -`,
		RunE: func(c *cobra.Command, args []string) error {
			if output != "yaml" && output != "json" {
				return cannot(fmt.Errorf("unknown output format %q (yaml or json)", output))
			}
			paths, cleanup, err := in.readStdin(args)
			defer cleanup()
			if err != nil {
				return cannot(err)
			}
			res, desired, err := in.run(c.Context(), paths)
			if err != nil {
				return err
			}
			if err := writeDesired(os.Stdout, output, desired, outDir); err != nil {
				return cannot(err)
			}
			if len(res.Findings) > 0 || res.Failed() {
				_ = report.Text(os.Stderr, res)
			}
			if res.Failed() {
				return &exitError{code: exitRejected}
			}
			return nil
		},
	}
	in.register(c)
	c.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	c.Flags().StringVar(&outDir, "out", "", "write one file per target configuration and object under this directory instead of stdout")
	return c
}

func encode(w io.Writer, format string, v any) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// writeDesired prints the desired state, or with dir writes it as
// DIR/<namespace>/<target-type>-<name>/ with the target's configuration
// (application.yml where the component reads that; config.<ext> otherwise)
// and one <kind>-<name>.<ext> per Kubernetes object, and
// DIR/external/<type>-<target namespace>-<name>.<ext>: a layout a pipeline
// can commit, or whose object files it can apply. Names go through
// workflow.KubeName, so they are safe as paths.
func writeDesired(w io.Writer, format string, d *workflow.Desired, dir string) error {
	if dir == "" {
		return encode(w, format, d)
	}
	write := func(path string, v any) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := encode(f, format, v); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	for _, t := range d.Targets {
		base := filepath.Join(dir, workflow.KubeName(t.Namespace), strings.ToLower(t.TargetType)+"-"+workflow.KubeName(t.Name))
		config := "config." + format
		if t.ConfigFile != "" && format == "yaml" {
			config = t.ConfigFile
		}
		if err := write(filepath.Join(base, config), t.Config); err != nil {
			return err
		}
		for _, o := range t.Objects {
			var meta struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			if err := o.Node.Decode(&meta); err != nil {
				return err
			}
			if err := write(filepath.Join(base, strings.ToLower(meta.Kind)+"-"+workflow.KubeName(meta.Metadata.Name)+"."+format), o); err != nil {
				return err
			}
		}
	}
	for _, e := range d.External {
		if err := write(filepath.Join(dir, "external", strings.ToLower(e.Type)+"-"+workflow.KubeName(e.TargetNamespace)+"-"+workflow.KubeName(e.Name)+"."+format), e); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "wrote %d targets and %d external resources under %s\n", len(d.Targets), len(d.External), dir)
	return nil
}
