package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/jsonschema"
)

func newSchema() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "schema [--out DIR] [TYPE]",
		Short: "Write JSON Schemas of Laiki documents, for editors (yaml-language-server)",
		Long: `Schema writes the JSON Schema (draft-07) of Laiki documents, generated from
the Go types the CRDs come from. Without arguments it prints laiki.json, one
schema for every kind of document (it picks the kind from laiki-metadata);
with TYPE (e.g. ShinyProxyApp, PreProcessor) that kind's alone. With --out
DIR it writes laiki.json and one file per kind into DIR. (-o is the output
format, as in every command: json, the only one.)

To have VS Code (with the YAML extension) validate and complete Laiki files:
    laiki schema --out .laiki/schemas
and in .vscode/settings.json:
    "yaml.schemas": {".laiki/schemas/laiki.json": ["apps/**/*.yaml", "platform/**/*.yaml"]}
or, in one file, the first line:
    # yaml-language-server: $schema=../.laiki/schemas/ShinyProxyApp.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if dir == "" {
				var s jsonschema.Schema
				var err error
				if len(args) == 1 {
					s, err = jsonschema.Document(args[0])
				} else {
					s, err = jsonschema.All()
				}
				if err != nil {
					return cannot(err)
				}
				return encode(os.Stdout, "json", s)
			}
			if len(args) == 1 {
				return cannot(fmt.Errorf("give --out DIR or a TYPE, not both"))
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return cannot(err)
			}
			write := func(name string, s jsonschema.Schema) error {
				b, err := json.MarshalIndent(s, "", "  ")
				if err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644)
			}
			all, err := jsonschema.All()
			if err != nil {
				return cannot(err)
			}
			if err := write("laiki", all); err != nil {
				return cannot(err)
			}
			for _, name := range jsonschema.Names() {
				s, err := jsonschema.Document(name)
				if err != nil {
					return cannot(err)
				}
				if err := write(name, s); err != nil {
					return cannot(err)
				}
			}
			fmt.Fprintf(os.Stderr, "wrote %d schemas to %s\n", len(jsonschema.Names())+1, dir)
			return nil
		},
	}
	var output string
	c.Flags().StringVar(&dir, "out", "", "write laiki.json and one schema per kind into this directory")
	c.Flags().StringVarP(&output, "output", "o", "json", "output format: json (the only one; --out DIR writes files)")
	c.PreRunE = func(*cobra.Command, []string) error {
		if output != "json" {
			return cannot(fmt.Errorf("-o is the output format, and a schema is JSON: %q is not one (to write files, give --out %s)", output, output))
		}
		return nil
	}
	return c
}
