package cluster_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/source"
	// The types register with their workflows.
	_ "github.com/laiki-platform/laiki/engine/workflow"
)

// An object with no owner annotation is the platform's only when its kind
// is one only the platform may write (targets, pre-processors); a resource,
// or a kind this program does not know, is judged as a team's.
func TestOwnerFailsClosed(t *testing.T) {
	for kind, want := range map[string]string{
		"ShinyProxyTarget": source.RolePlatform, "PreProcessor": source.RolePlatform, "CraneTarget": source.RolePlatform,
		"ShinyProxyApp": source.RoleTeam, "AwsEcrRepository": source.RoleTeam, "SomethingNew": source.RoleTeam,
	} {
		obj := &unstructured.Unstructured{}
		obj.SetKind(kind)
		if got := cluster.Owner(nil, obj).Role; got != want {
			t.Errorf("%s: %s, want %s", kind, got, want)
		}
	}
}
