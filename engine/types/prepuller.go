package types

import (
	"fmt"
	"reflect"
	"time"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/schema"
)

// MinRefresh is the shortest refresh a PrePuller takes: each refresh has
// every node ask the registries for every image whose tag can move, and
// registries count those requests against their rate limits.
const MinRefresh = time.Hour

// PrePuller: a DaemonSet that pulls the images of the ShinyProxyApps in its
// namespace onto every node as it starts. An empty spec is the usual case.
func init() {
	s := schema.FromGoType("PrePuller", reflect.TypeOf(v1alpha1.PrePullerTargetSpec{}), finding.Error)
	s.Fields["refresh"] = schema.WithCheck(s.Fields["refresh"], checkRefresh)
	s.Fields["max-images"] = schema.WithCheck(s.Fields["max-images"], func(v any) string {
		if n, ok := PrePullerMaxImages(map[string]any{"max-images": v}); ok && n < 1 {
			return fmt.Sprintf("%d is less than 1: a PrePuller that pulls nothing is removed instead", n)
		}
		return ""
	})
	RegisterTarget(&TargetType{
		Name:   "PrePuller",
		Kind:   "PrePullerTarget",
		Schema: s,
	})
}

func checkRefresh(v any) string {
	d, err := time.ParseDuration(v.(string))
	if err != nil {
		return fmt.Sprintf("%q is not a duration (24h, 12h, ...)", v)
	}
	if d < MinRefresh {
		return fmt.Sprintf("%s is less than 1h: every refresh has every node ask the registries again for each image whose tag can move", d)
	}
	return ""
}

// PrePullerRefresh reads a PrePuller's refresh interval (0: none).
func PrePullerRefresh(spec map[string]any) time.Duration {
	s, _ := spec["refresh"].(string)
	d, err := time.ParseDuration(s)
	if err != nil || d < MinRefresh {
		return 0
	}
	return d
}

// PrePullerMaxImages reads a PrePuller's max-images (ok false: unset).
func PrePullerMaxImages(spec map[string]any) (n int64, ok bool) {
	switch v := spec["max-images"].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		return int64(v), v == float64(int64(v))
	}
	return 0, false
}
