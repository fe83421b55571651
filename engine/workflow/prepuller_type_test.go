package workflow_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/image"
	"github.com/laiki-platform/laiki/engine/types"
)

// A PrePuller's refresh is a duration of an hour or more (a shorter one
// would have every node ask the registries again and again), and
// max-images at least one.
func TestPrePullerSpecChecks(t *testing.T) {
	pp, _ := types.Target("PrePuller")
	for _, c := range []struct {
		spec map[string]any
		want string
	}{
		{map[string]any{"refresh": "24h"}, ""},
		{map[string]any{"refresh": "1h30m"}, ""},
		{map[string]any{"refresh": "10m"}, "refresh: 10m0s is less than 1h"},
		{map[string]any{"refresh": "0s"}, "refresh: 0s is less than 1h"},
		{map[string]any{"refresh": "soon"}, `refresh: "soon" is not a duration (24h, 12h, ...)`},
		{map[string]any{"max-images": int64(3)}, ""},
		{map[string]any{"max-images": int64(0)}, "max-images: 0 is less than 1"},
	} {
		var msgs []string
		for _, p := range pp.Schema.Check(c.spec) {
			msgs = append(msgs, strings.Join(p.Path, ".")+": "+p.Message)
		}
		got := strings.Join(msgs, "\n")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want %q", c.spec, got, c.want)
		}
	}
}

// What runs is what is pulled: the repository of an image with upper case
// in it is lower-cased, its tag and digest kept; a reference nothing makes
// valid has none (a sha256 digest in upper-case hex, which the kubelet's
// parser refuses, among them).
func TestRunnableImage(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	for ref, want := range map[string]string{
		"nginx:1":                                     "nginx:1",
		"openanalytics/ShinyProxy-demo":               "openanalytics/shinyproxy-demo",
		"Team/App:V1":                                 "team/app:V1",
		"Registry:5000/Team/App":                      "registry:5000/team/app",
		"Team/App:V1" + digest:                        "team/app:V1" + digest,
		"team/app@sha256:" + strings.Repeat("AB", 32): "",
		"bad image":                                   "",
		"#{proxy.userId}":                             "",
	} {
		got, ok := image.Runnable(ref)
		if got != want || ok != (want != "") {
			t.Errorf("image.Runnable(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
	for ref, want := range map[string]bool{
		"nginx": true, "nginx:latest": true, "host:5000/app": true, "nginx:1": false, "nginx@sha256:" + strings.Repeat("a", 64): false,
		"nginx:latest@sha256:" + strings.Repeat("a", 64): false,
	} {
		if got := image.MovingTag(ref); got != want {
			t.Errorf("image.MovingTag(%q) = %v, want %v", ref, got, want)
		}
	}
}

// pre-pull is an app's true or false.
func TestPrePullAppKey(t *testing.T) {
	app, _ := types.Resource("ShinyProxyApp")
	for v, want := range map[any]string{false: "", true: "", "no": "pre-pull must be true or false"} {
		var got []string
		for _, p := range app.Schema.Check(map[string]any{"id": "a", "container-image": "a", "pre-pull": v}) {
			got = append(got, p.Message)
		}
		if all := strings.Join(got, "; "); want == "" && all != "" || !strings.Contains(all, want) {
			t.Errorf("pre-pull: %v: %q, want %q", v, all, want)
		}
	}
}
