package jsonschema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	js "github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/jsonschema"
	// The types register with their workflows.
	_ "github.com/laiki-platform/laiki/engine/workflow"
)

// compile loads a schema the way an editor does: from its JSON text.
func compile(t *testing.T, s jsonschema.Schema) *js.Schema {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := js.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := js.NewCompiler()
	if err := c.AddResource("laiki.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("laiki.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return schema
}

// documents reads every YAML document of a file as JSON values (YAML's
// view: what yaml-language-server validates).
func documents(t *testing.T, file string) []any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			break
		}
		// Through JSON, so that numbers and maps are what the validator expects.
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := js.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, doc)
	}
	return out
}

func exampleFiles(t *testing.T) []string {
	var files []string
	for _, root := range []string{"../../examples", "../../test/fixtures/design", "../../../shared/design/examples"} {
		if _, err := os.Stat(root); err != nil {
			continue // the shared examples are beside the repository, not in a clone
		}
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") && filepath.Base(p) != "laiki.yaml" && !strings.HasPrefix(filepath.Base(p), "laiki-") {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 5 {
		t.Fatalf("found only %d example files", len(files))
	}
	return files
}

func TestExamplesValidate(t *testing.T) {
	all, err := jsonschema.All()
	if err != nil {
		t.Fatal(err)
	}
	schema := compile(t, all)
	for _, file := range exampleFiles(t) {
		for i, doc := range documents(t, file) {
			if err := schema.Validate(doc); err != nil {
				t.Errorf("%s (document %d): %v", file, i+1, err)
			}
		}
	}
	// Each kind's own schema accepts its examples too.
	app, _ := jsonschema.Document("ShinyProxyApp")
	for _, doc := range documents(t, "../../examples/apps/shinyproxy-demo.yaml") {
		if err := compile(t, app).Validate(doc); err != nil {
			t.Error(err)
		}
	}
}

func TestMisspeltKeysRejected(t *testing.T) {
	all, err := jsonschema.All()
	if err != nil {
		t.Fatal(err)
	}
	schema := compile(t, all)
	for name, text := range map[string]string{
		"spec key":        "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ns}\nlaiki-spec: {id: a, contianer-image: r/a:1}\n",
		"metadata key":    "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namspace: ns}\nlaiki-spec: {id: a}\n",
		"top-level key":   "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ns}\nlaiki-spec: {id: a}\nlaiki-sepc: {}\n",
		"missing id":      "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ns}\nlaiki-spec: {container-image: r/a:1}\n",
		"bad quantity":    "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ns}\nlaiki-spec: {id: a, container-memory-limit: lots}\n",
		"unknown type":    "laiki-metadata: {resource-type: ShinyProxyAp, target-name: sp, target-namespace: ns}\nlaiki-spec: {id: a}\n",
		"ecr nested key":  "laiki-metadata: {resource-type: AwsEcrRepository, target-name: sp, target-namespace: ns}\nlaiki-spec: {name: a, colour: red}\n",
		"prepuller typo":  "laiki-metadata: {target-type: PrePuller, name: p, namespace: ns}\nlaiki-spec: {imagez: []}\n",
		"two kinds":       "laiki-metadata: {target-type: PrePuller, resource-type: ShinyProxyApp, name: p, namespace: ns}\nlaiki-spec: {}\n",
		"pre-proc typo":   "laiki-metadata: {pre-processor-name: X, name: d, target-namepsace: ns}\nlaiki-spec: {}\n",
		"string for bool": "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ns}\nlaiki-spec: {id: a, container-privileged: yes please}\n",
	} {
		f := filepath.Join(t.TempDir(), "doc.yaml")
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(documents(t, f)[0]); err == nil {
			t.Errorf("%s: accepted:\n%s", name, text)
		}
	}
}

// A field ShinyProxy evaluates as a Spring expression takes "#{...}" in the
// editor as in the engine; one it does not evaluate does not.
func TestExpressionFields(t *testing.T) {
	all, err := jsonschema.All()
	if err != nil {
		t.Fatal(err)
	}
	schema := compile(t, all)
	for text, valid := range map[string]bool{
		"laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ns}\nlaiki-spec: {id: a, container-image: r/a:1, max-instances: '#{2}', container-memory-limit: '#{1}'}\n": true,
		"laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ns}\nlaiki-spec: {id: a, container-image: r/a:1, port: '#{2}'}\n":                                          false,
	} {
		f := filepath.Join(t.TempDir(), "doc.yaml")
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(documents(t, f)[0]); (err == nil) != valid {
			t.Errorf("valid %v, got %v:\n%s", valid, err, text)
		}
	}
}
