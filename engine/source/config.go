// Package source reads laiki.yaml, the list of places Laiki reads documents
// from, and fetches those places: local directories and Git repositories.
// It also holds the access rules that bind a team source to what it may
// declare.
package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/internal/near"
	"github.com/laiki-platform/laiki/engine/types"
)

// Roles a source can have.
const (
	RolePlatform = "platform" // may declare targets, pre-processors and Rego policies
	RoleTeam     = "team"     // may declare resources of its allowed types in its allowed namespaces
)

// Config is a parsed laiki.yaml.
type Config struct {
	// File is the path of laiki.yaml as given; empty for plain paths.
	File    string
	Sources []*Source
	// PolicyData is given to every Rego policy as data.laiki.config
	// (the built-in baseline reads data.laiki.config.baseline).
	PolicyData map[string]any
	// Budgets bound what each team source may bring (DefaultBudget where
	// unset); a source's own Budget goes over them.
	Budgets Budget
}

// Source is one entry of laiki.yaml.
type Source struct {
	Name string   `yaml:"name"`
	Role string   `yaml:"role"`
	Path string   `yaml:"path"`
	Git  *GitSpec `yaml:"git"`
	// ConfigMap: files as the keys of a ConfigMap (platform policies kept
	// in the cluster, say), read where Laiki runs against a cluster.
	ConfigMap *ConfigMapRef `yaml:"configmap"`
	Allow     *Allow        `yaml:"allow"`
	// Budget, for a team source, goes over the configuration's budgets.
	Budget *Budget `yaml:"budget"`
	// Exclude lists files of the source Laiki does not read, as paths
	// relative to it: a glob (path.Match) on the path or on the file name,
	// or DIR/** for a whole directory. DefaultExclude is always there.
	Exclude []string `yaml:"exclude"`
	// Timeout bounds one read of the source (a Go duration, default
	// DefaultTimeout): a remote that hangs fails this source alone.
	Timeout string `yaml:"timeout"`
	timeout time.Duration
	// Subjects are who act as this source through the Kubernetes API
	// (kubectl apply, checked by the admission webhook).
	Subjects *Subjects `yaml:"subjects"`

	// Line and Column of the entry in laiki.yaml, for findings about the source.
	Line, Column int `yaml:"-"`
	// FromPath marks a source made from a path on the command line
	// (PathsConfig, PlatformPathsConfig) rather than read from laiki.yaml:
	// the text report then says which role each path had.
	FromPath bool `yaml:"-"`
	// Shown is the file name findings give a one-file path source read
	// from somewhere else than the user's disk (standard input): not the
	// temporary file it was written to.
	Shown string `yaml:"-"`
	// PolicyDataFrom names the laiki.yaml whose policy-data a run from
	// paths took from this source's directory (--platform), for the report.
	PolicyDataFrom string `yaml:"-"`
}

// GitSpec names a Git repository, a ref (branch, tag or commit) and an
// optional sub-directory.
type GitSpec struct {
	URL  string   `yaml:"url"`
	Ref  string   `yaml:"ref"`
	Dir  string   `yaml:"dir"`
	Auth *GitAuth `yaml:"auth"`
}

// ConfigMapRef names a ConfigMap: each key ending in .yaml, .yml or .rego
// is a file.
type ConfigMapRef struct {
	Namespace string `yaml:"namespace"`
	Name      string `yaml:"name"`
}

// GitAuth says where credentials are: never the credentials themselves, so
// that laiki.yaml can be committed.
type GitAuth struct {
	// HTTP(S): a token (used as the password of basic auth) from an
	// environment variable or a file; Username defaults to "laiki" (most Git
	// hosts ignore it for tokens).
	Username  string `yaml:"username"`
	TokenEnv  string `yaml:"token-env"`
	TokenFile string `yaml:"token-file"`
	// SSH: a private key from an environment variable or a file.
	SSHKeyEnv           string `yaml:"ssh-key-env"`
	SSHKeyFile          string `yaml:"ssh-key-file"`
	SSHKeyPassphraseEnv string `yaml:"ssh-key-passphrase-env"`
	KnownHostsFile      string `yaml:"known-hosts-file"`
}

// Subjects names Kubernetes users and groups; a ServiceAccount is the user
// system:serviceaccount:<namespace>:<name>.
type Subjects struct {
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
}

// Allow bounds what a team source may declare.
type Allow struct {
	ResourceTypes    []string `yaml:"resource-types"`
	TargetNamespaces []string `yaml:"target-namespaces"`
	// Targets narrows the allowed namespaces to named targets (a name, or
	// namespace/name): teams that share a namespace need not share its
	// targets. Empty: every target of the allowed namespaces.
	Targets []string `yaml:"targets"`
}

// AllowsTarget reports whether a team source may bind to a target.
func (a *Allow) AllowsTarget(namespace, name string) bool {
	if a == nil || len(a.Targets) == 0 {
		return true
	}
	return slices.Contains(a.Targets, name) || slices.Contains(a.Targets, namespace+"/"+name)
}

type fileConfig struct {
	Sources    []*Source      `yaml:"sources"`
	PolicyData map[string]any `yaml:"policy-data"`
	Budgets    Budget         `yaml:"budgets"`
}

var sourceName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// ConfigError is a laiki.yaml that Laiki cannot work with; it lists every
// problem with its line.
type ConfigError struct {
	File     string
	Problems []string
}

func (e *ConfigError) Error() string {
	return strings.Join(e.Problems, "\n")
}

// LoadConfig reads a laiki.yaml. Relative paths in it are relative to the
// directory of the file.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseConfig(file, data)
}

// ParseConfig parses laiki.yaml content; file is used in messages and to
// resolve relative paths.
func ParseConfig(file string, data []byte) (*Config, error) {
	fc, err := decodeConfig(file, data)
	if err != nil {
		return nil, err
	}
	cerr := &ConfigError{File: file}
	cfg := &Config{File: file, PolicyData: fc.PolicyData, Budgets: fc.Budgets}
	base := filepath.Dir(file)
	seen := map[string]int{}
	// No sources is a platform that starts with Laiki's objects and kubectl
	// alone (the chart installs so): nothing to read, the cluster's objects
	// still judged.
	for _, s := range fc.Sources {
		if s == nil {
			continue
		}
		cfg.Sources = append(cfg.Sources, s)
		cerr.checkSource(s, base, seen)
	}
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	return cfg, nil
}

// decodeConfig decodes laiki.yaml into a fileConfig whose sources know the
// line they start on. Its problems are told in laiki.yaml's words, not Go's.
func decodeConfig(file string, data []byte) (fileConfig, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fileConfig{}, fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// yaml.v3 names Go types in its errors (source.Source, []*source.Source):
	// the tree is checked first, so that a wrong key or kind is told in
	// laiki.yaml's own words.
	sh := shape{file: file}
	sh.check(&root, reflect.TypeFor[fileConfig](), "")
	if len(sh.problems) > 0 {
		return fileConfig{}, &ConfigError{File: file, Problems: sh.problems}
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// io.EOF: an empty laiki.yaml, or comments only, lists no sources.
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			cerr := &ConfigError{File: file}
			for _, e := range te.Errors {
				cerr.Problems = append(cerr.Problems, atLine(file, e))
			}
			return fileConfig{}, cerr
		}
		return fileConfig{}, fmt.Errorf("%s: %w", file, err)
	}
	// A second pass over the tree gives each source the line it starts on.
	if list := findKey(&root, "sources"); list != nil && list.Kind == yaml.SequenceNode {
		for i, item := range list.Content {
			if i < len(fc.Sources) && fc.Sources[i] != nil {
				fc.Sources[i].Line, fc.Sources[i].Column = item.Line, item.Column
			}
		}
	}
	return fc, nil
}

// problem adds a problem at a line of the file.
func (e *ConfigError) problem(line int, format string, args ...any) {
	e.Problems = append(e.Problems, fmt.Sprintf("%s:%d: %s", e.File, line, fmt.Sprintf(format, args...)))
}

// checkSource checks one source (seen holds the line of each name before
// it), defaults its role, and resolves its paths against base.
func (e *ConfigError) checkSource(s *Source, base string, seen map[string]int) {
	if !sourceName.MatchString(s.Name) {
		e.problem(s.Line, "source name %q must be lower case letters, digits, '.', '_' or '-' (at most 63)", s.Name)
	}
	if prev, dup := seen[s.Name]; dup {
		e.problem(s.Line, "source %q is already defined at line %d", s.Name, prev)
	}
	seen[s.Name] = s.Line
	if s.Role == "" {
		s.Role = RoleTeam
	}
	if s.Role != RolePlatform && s.Role != RoleTeam {
		e.problem(s.Line, "source %q: role must be platform or team, not %q", s.Name, s.Role)
	}
	e.checkPlace(s, base)
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 {
			e.problem(s.Line, "source %q: timeout %q is not a positive duration (e.g. 30s, 2m)", s.Name, s.Timeout)
		}
		s.timeout = d
	}
	e.checkAllow(s)
}

// checkPlace checks that a source reads from one place (a path, a Git
// repository or a ConfigMap), and that the place is whole.
func (e *ConfigError) checkPlace(s *Source, base string) {
	places := 0
	for _, set := range []bool{s.Path != "", s.Git != nil, s.ConfigMap != nil} {
		if set {
			places++
		}
	}
	switch {
	case places > 1:
		e.problem(s.Line, "source %q has more than one of path, git and configmap: give one", s.Name)
	case places == 0:
		e.problem(s.Line, "source %q needs a path, a git repository or a configmap", s.Name)
	case s.ConfigMap != nil:
		if s.ConfigMap.Namespace == "" || s.ConfigMap.Name == "" {
			e.problem(s.Line, "source %q: configmap needs namespace and name", s.Name)
		}
	case s.Path != "":
		if !filepath.IsAbs(s.Path) {
			s.Path = filepath.Join(base, s.Path)
		}
	case s.Git != nil:
		e.checkGit(s, base)
	}
}

// checkGit checks a Git source's URL, directory and credentials, and
// resolves its credential files against base.
func (e *ConfigError) checkGit(s *Source, base string) {
	if s.Git.URL == "" {
		e.problem(s.Line, "source %q: git.url is required", s.Name)
	}
	if strings.Contains(filepath.ToSlash(s.Git.Dir), "..") {
		e.problem(s.Line, "source %q: git.dir must stay inside the repository", s.Name)
	}
	if a := s.Git.Auth; a != nil {
		if a.TokenEnv != "" && a.TokenFile != "" || a.SSHKeyEnv != "" && a.SSHKeyFile != "" {
			e.problem(s.Line, "source %q: give a token or key by environment variable or by file, not both", s.Name)
		}
		for _, f := range []*string{&a.TokenFile, &a.SSHKeyFile, &a.KnownHostsFile} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(base, *f)
			}
		}
	}
	if hasUserInfo(s.Git.URL) {
		e.problem(s.Line, "source %q: the git URL carries credentials (a password or token in it, or a query string or fragment); name them with git.auth (token-env, token-file, ssh-key-env, ssh-key-file) instead of writing them into laiki.yaml", s.Name)
	}
}

// checkAllow checks the access rules: only a team source has them, and it
// must name its target namespaces and known resource types.
func (e *ConfigError) checkAllow(s *Source) {
	if s.Role == RolePlatform && s.Allow != nil {
		e.problem(s.Line, "source %q: allow applies to team sources; a platform source may declare anything", s.Name)
	}
	if s.Role == RoleTeam {
		if s.Allow == nil || len(s.Allow.TargetNamespaces) == 0 {
			e.problem(s.Line, "team source %q needs allow.target-namespaces: the namespaces its resources may bind to", s.Name)
		}
		if s.Allow != nil {
			for _, t := range s.Allow.ResourceTypes {
				if _, ok := types.Resource(t); !ok {
					e.problem(s.Line, "source %q: unknown resource type %q in allow.resource-types (known: %s)", s.Name, t, strings.Join(types.ResourceNames(), ", "))
				}
			}
		}
	}
}

// SourceFor finds the source that a Kubernetes user acts as: the one whose
// subjects name the user or one of their groups. A user that two sources name
// is refused, unless one of them is a platform source (platform owners may
// also be in a team's group).
func (c *Config) SourceFor(user string, groups []string) (*Source, error) {
	var found []*Source
	for _, s := range c.Sources {
		if s.Subjects == nil {
			continue
		}
		match := slices.Contains(s.Subjects.Users, user)
		for _, g := range groups {
			match = match || slices.Contains(s.Subjects.Groups, g)
		}
		if match {
			found = append(found, s)
		}
	}
	for _, s := range found {
		if s.Role == RolePlatform {
			return s, nil
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("user %s (groups %s) is not a subject of any source in laiki.yaml", user, strings.Join(groups, ", "))
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, s := range found {
		names[i] = s.Name
	}
	return nil, fmt.Errorf("user %s is a subject of sources %s: Laiki cannot tell which one acts", user, strings.Join(names, " and "))
}

// Named returns the source of that name, or nil.
func (c *Config) Named(name string) *Source {
	for _, s := range c.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// PathsConfig makes a configuration of plain paths, each a local source with
// role platform: for a developer checking files on their own machine.
// Platform sources are not held to the team rules (the security baseline,
// access control): use PlatformPathsConfig to check apps as a pull request
// is checked.
func PathsConfig(paths []string) *Config {
	return PlatformPathsConfig(paths, nil, nil)
}

// PlatformPathsConfig makes a configuration of paths as a team's pull
// request is checked: each of platform a local source with role platform,
// each of apps a local source with role team, allowed every resource type
// and the namespaces given (those the platform declares targets and
// pre-processors in). Names come from the paths, made unique.
func PlatformPathsConfig(platform, apps, namespaces []string) *Config {
	cfg := &Config{}
	names := map[string]bool{}
	add := func(p, role string) {
		name := strings.ToLower(strings.Trim(sourceNameChars.ReplaceAllString(filepath.ToSlash(filepath.Clean(p)), "-"), "-._"))
		if name == "" {
			name = "source"
		}
		for base, i := name, 2; names[name]; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		names[name] = true
		s := &Source{Name: name, Role: role, Path: p, FromPath: true}
		if role == RoleTeam {
			s.Allow = &Allow{TargetNamespaces: slices.Clone(namespaces)}
		}
		cfg.Sources = append(cfg.Sources, s)
	}
	for _, p := range platform {
		add(p, RolePlatform)
	}
	for _, p := range apps {
		add(p, RoleTeam)
	}
	return cfg
}

var sourceNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func findKey(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// shape checks laiki.yaml's tree against the types it decodes into, and
// says what is wrong as a user wrote it: the path of the key (sources[0].git),
// its line, and the keys there are.
type shape struct {
	file     string
	problems []string
}

func (s *shape) problem(n *yaml.Node, format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf("%s:%d: %s", s.file, n.Line, fmt.Sprintf(format, args...)))
}

func (s *shape) check(n *yaml.Node, t reflect.Type, path string) {
	n = unwrap(n)
	// Nothing (an empty file, "key:" with no value) decodes to the zero value.
	if n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		s.mapping(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.problem(n, "%s must be a list of %s, not %s", named(path), plural(t.Elem()), kindOf(n))
			return
		}
		for i, item := range n.Content {
			s.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			s.problem(n, "%s must be a mapping, not %s", named(path), kindOf(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			s.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case reflect.Interface:
		// policy-data: anything goes, the policies read it.
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			what := kindOf(n)
			if n.Kind == yaml.ScalarNode {
				what = fmt.Sprintf("%q", n.Value)
			}
			s.problem(n, "%s must be %s, not %s", named(path), scalar(t), what)
		}
	}
}

// unwrap goes through aliases and the document to the node that holds a
// value; nil for an empty document.
func unwrap(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		case n.Kind == yaml.DocumentNode:
			return nil
		default:
			return n
		}
	}
	return nil
}

// mapping checks a mapping against a struct: each key one of its fields,
// each value of the field's type.
func (s *shape) mapping(n *yaml.Node, t reflect.Type, path string) {
	keys, fields := yamlFields(t)
	if n.Kind != yaml.MappingNode {
		list := keys
		if len(list) > 4 {
			list = append(list[:4:4], "...")
		}
		s.problem(n, "%s must be a mapping (%s), not %s", named(path), strings.Join(list, ", "), kindOf(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			s.check(v, t, path) // <<: *defaults holds keys of this same mapping
			continue
		}
		f, ok := fields[k.Value]
		if !ok {
			at := ""
			if path != "" {
				at = path + ": "
			}
			if likely := Closest(k.Value, keys, 2); len(likely) > 0 {
				s.problem(k, "%sunknown key %q (did you mean %q?)", at, k.Value, likely[0])
			} else {
				s.problem(k, "%sunknown key %q (known: %s)", at, k.Value, strings.Join(keys, ", "))
			}
			continue
		}
		s.check(v, f, join(path, k.Value))
	}
}

// yamlFields lists the keys a struct reads, in its order, with their types.
func yamlFields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var keys []string
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		keys = append(keys, name)
		fields[name] = f.Type
	}
	return keys, fields
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// named is how a message names a path: the top of the file has none.
func named(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

// kindOf says what a node is, in YAML's words.
func kindOf(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!int" || n.Tag == "!!float":
		return "a number"
	case n.Tag == "!!bool":
		return "true or false"
	}
	return "a string"
}

// plural names the items of a list.
func plural(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[Source]():
		return "sources"
	case t.Kind() == reflect.String:
		return "strings"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "mappings"
	}
	return "values"
}

// scalar names what a scalar field takes.
func scalar(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a string"
}

var typeErrorLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// atLine puts one of yaml.v3's decoding errors ("line 3: mapping key "name"
// already defined at line 2") as file:line: message.
func atLine(file, e string) string {
	e = strings.TrimPrefix(e, "yaml: ")
	if m := typeErrorLine.FindStringSubmatch(e); m != nil {
		return fmt.Sprintf("%s:%s: %s", file, m[1], m[2])
	}
	return fmt.Sprintf("%s: %s", file, e)
}

// Closest returns the known names nearest a misspelt one, case aside, at
// most maxEdits edits away (all of them when several are as near), sorted:
// the "did you mean" of laiki.yaml's keys, and of the commands, which
// cannot import engine/internal/near themselves.
func Closest(name string, known []string, maxEdits int) []string {
	best := maxEdits + 1
	var out []string
	for _, k := range known {
		switch d := near.Distance(strings.ToLower(name), strings.ToLower(k)); {
		case d < best:
			best, out = d, []string{k}
		case d == best && !slices.Contains(out, k):
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Describe names where a source reads from, with no credentials.
func (s *Source) Describe() string {
	if s.Git != nil {
		d := "git " + Redact(s.Git.URL)
		if s.Git.Ref != "" {
			d += "@" + s.Git.Ref
		}
		if s.Git.Dir != "" {
			d += " dir " + s.Git.Dir
		}
		return d
	}
	if s.ConfigMap != nil {
		return "configmap " + s.ConfigMap.Namespace + "/" + s.ConfigMap.Name
	}
	if s.Shown != "" {
		return "path " + s.Shown
	}
	return "path " + s.Path
}

// allowedTypes returns the resource types a team source may declare.
func (s *Source) allowedTypes() []string {
	if s.Allow == nil || len(s.Allow.ResourceTypes) == 0 {
		return types.ResourceNames()
	}
	out := append([]string(nil), s.Allow.ResourceTypes...)
	sort.Strings(out)
	return out
}

// DefaultTimeout bounds one read of a source that names no timeout.
const DefaultTimeout = 60 * time.Second

// ReadTimeout is how long one read of the source may take.
func (s *Source) ReadTimeout() time.Duration {
	if s.timeout > 0 {
		return s.timeout
	}
	return DefaultTimeout
}

// DefaultExclude are files of a repository that are YAML and never Laiki
// documents: CI pipelines and their configuration.
var DefaultExclude = []string{".github/**", ".gitlab/**", ".gitlab-ci.yml", ".pre-commit-config.yaml", ".circleci/**", "azure-pipelines.yml", ".woodpecker/**"}

// Excluded reports whether a file of the source (its path relative to the
// source, with /) is left out.
func (s *Source) Excluded(rel string) bool {
	for _, pat := range append(append([]string(nil), DefaultExclude...), s.Exclude...) {
		if dir, ok := strings.CutSuffix(pat, "/**"); ok {
			if rel == dir || strings.HasPrefix(rel, dir+"/") {
				return true
			}
			continue
		}
		if ok, _ := path.Match(pat, rel); ok {
			return true
		}
		if ok, _ := path.Match(pat, path.Base(rel)); ok && !strings.Contains(pat, "/") {
			return true
		}
	}
	return false
}
