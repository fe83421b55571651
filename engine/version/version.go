// Package version says which Laiki this is: the version stamped at build
// time (make build, the image), else what Go's build information records
// (a module version, or the VCS revision of a source build).
package version

import (
	"runtime/debug"
	"sync"
)

// Stamp is set at build time: -ldflags "-X github.com/laiki-platform/laiki/engine/version.Stamp=v1.2.3".
var Stamp string

var (
	once   sync.Once
	cached string
)

// String is the version of this binary: the stamp, the module version, or
// "devel" with the VCS revision (and "-dirty" for uncommitted changes).
func String() string {
	once.Do(func() {
		cached = Stamp
		if cached != "" {
			return
		}
		cached = "devel"
		info, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		if v := info.Main.Version; v != "" && v != "(devel)" {
			cached = v
			return
		}
		rev, dirty := "", false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			cached += "+" + rev
			if dirty {
				cached += "-dirty"
			}
		}
	})
	return cached
}
