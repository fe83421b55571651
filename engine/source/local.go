package source

// Local reports whether the source is read from this machine's disk (a
// path): its files are named as the user sees them there. A Git or
// ConfigMap source's files are named inside it, and mean nothing on disk
// without the source's name.
func (s *Source) Local() bool { return s.Git == nil && s.ConfigMap == nil }
