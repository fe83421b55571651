package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/source"
)

func newConvert() *cobra.Command {
	return &cobra.Command{
		Use:   "convert FILE|DIR|- ...",
		Short: "Turn Laiki files into Kubernetes objects (laiki.io/v1alpha1), and objects back into files",
		Long: `Convert reads YAML documents and writes each in the other form: a Laiki
document (laiki-metadata, laiki-spec) becomes a Kubernetes object that
kubectl apply takes, and a Laiki object becomes a Laiki document again.
Other YAML documents are skipped with a notice on stderr. See README.md for
the mapping.`,
		Example: `  laiki convert examples/platform examples/apps | kubectl apply -f -
  kubectl get shinyproxyapps -A -o yaml | laiki convert -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var out bytes.Buffer
			failed := false
			for _, arg := range args {
				files, err := inputFiles(arg)
				if err != nil {
					return cannot(err)
				}
				for _, f := range files {
					if err := convertFile(&out, f.Path, f.Data); err != nil {
						fmt.Fprintln(os.Stderr, "laiki:", err)
						failed = true
					}
				}
			}
			if _, err := os.Stdout.Write(out.Bytes()); err != nil {
				return cannot(err)
			}
			if failed {
				return &exitError{code: exitRejected}
			}
			return nil
		},
	}
}

func inputFiles(arg string) ([]source.File, error) {
	if arg == "-" {
		data, err := io.ReadAll(os.Stdin)
		return []source.File{{Path: "<stdin>", Data: data}}, err
	}
	info, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(arg)
		return []source.File{{Path: arg, Data: data}}, err
	}
	var files []source.File
	err = filepath.WalkDir(arg, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml" {
			return err
		}
		data, err := os.ReadFile(p)
		files = append(files, source.File{Path: p, Data: data})
		return err
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}

// convertFile writes every document of a file in the other form.
func convertFile(w *bytes.Buffer, file string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var errs []error
	for {
		var raw map[string]any
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		switch {
		case raw == nil:
			continue
		case raw[document.KeyMetadata] != nil || raw[document.KeySpec] != nil:
			one, _ := yaml.Marshal(raw)
			parsed := document.Parse(document.SourceRef{Name: "convert", Role: "platform"}, file, one, document.DefaultLimits)
			for _, d := range parsed.Documents {
				if fs := parsed.ByDocument[d]; len(fs) > 0 {
					errs = append(errs, fmt.Errorf("%s: %s", fs[0].Location, fs[0].Message))
					continue
				}
				obj, err := kube.ToObject(d)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				writeDoc(w, obj)
			}
		case raw["kind"] == "List" || raw["items"] != nil:
			items, _ := raw["items"].([]any)
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					errs = append(errs, fromObject(w, m))
				}
			}
		case raw["apiVersion"] != nil:
			errs = append(errs, fromObject(w, raw))
		default:
			fmt.Fprintf(os.Stderr, "laiki: %s: a document that is neither a Laiki document nor a Laiki object; skipped\n", file)
		}
	}
	return errors.Join(errs...)
}

func fromObject(w *bytes.Buffer, obj map[string]any) error {
	text, err := kube.FromObject(obj)
	if err != nil {
		return err
	}
	w.WriteString("---\n")
	w.Write(text)
	return nil
}

func writeDoc(w *bytes.Buffer, v any) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	_ = enc.Encode(v)
	_ = enc.Close()
	w.WriteString("---\n")
	w.Write(b.Bytes())
}
