package report

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
)

// places says where a finding is, for its reader. The files of a local
// source are named as the user reads them on disk; a file of a Git or
// ConfigMap source is named with its source (team-one:app.yaml), because
// two team repositories may both hold app.yaml. Only files under the
// working directory (the pull request's checkout) can carry annotations:
// GitHub and code scanning place them on the repository's own files, and a
// platform file read from Git is not one of them.
type places struct {
	sources map[string]*source.Source
	// config is the sources file: a finding at a source's entry in it is
	// on this local file, whatever the source.
	config string
	// exists stats a path relative to the working directory (os.Stat; a
	// test may replace it).
	exists func(string) bool
}

func placesOf(r *pipeline.Result) places {
	p := places{sources: map[string]*source.Source{}, exists: func(f string) bool {
		_, err := os.Stat(filepath.FromSlash(f))
		return err == nil
	}}
	for _, l := range r.Sources {
		p.sources[l.Source.Name] = l.Source
	}
	p.config = r.ConfigFile
	return p
}

// qualified reports whether a file of the named source is named with it:
// one of a source that is not on this disk. A finding with no source (a
// built-in) or on the sources file itself is on disk.
func (p places) qualified(src, file string) bool {
	s, ok := p.sources[src]
	return ok && !s.Local() && (file != p.config || file == "")
}

// name is the file as the reader should see it.
func (p places) name(src, file string) string {
	if p.qualified(src, file) {
		return src + ":" + file
	}
	return file
}

// where is "file:line:col" with the file named as name does (not escaped:
// for formats that escape as their readers expect).
func (p places) where(src string, l finding.Location) string {
	l.File = p.name(src, l.File)
	return l.String()
}

// annotatable reports whether a file can carry an annotation: a file of a
// local source (or of none) at a relative path under the working directory
// that exists there.
func (p places) annotatable(src, file string) bool {
	if file == "" || p.qualified(src, file) || filepath.IsAbs(file) {
		return false
	}
	clean := filepath.ToSlash(filepath.Clean(file))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return false
	}
	return p.exists(clean)
}

// uri is a relative file path as a SARIF URI reference: each segment
// percent-encoded (a space, '#', '%', '?'), and ':' too, so that
// "a:b.yaml" is not read as a URI with the scheme "a".
func uri(file string) string {
	segs := strings.Split(filepath.ToSlash(filepath.Clean(file)), "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
	}
	return strings.Join(segs, "/")
}

// located is a finding's text with its place, for where the place cannot be
// an annotation: "team-one:app.yaml:7:3: message".
func (p places) located(f finding.Finding) string {
	if f.File == "" {
		return f.Message
	}
	l := f.Location
	l.File = p.name(f.Source, f.File)
	return fmt.Sprintf("%s: %s", SafeLocation(l), f.Message)
}
