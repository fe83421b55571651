package source

import (
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
)

// The resource types register with their workflows (engine/workflow), which
// imports this package: its tests register two of the same names, enough
// for "every resource type" and for the names allow.resource-types knows.
func init() {
	for _, name := range []string{"AwsEcrRepository", "ShinyProxyApp"} {
		types.RegisterResource(&types.ResourceType{Name: name, Kind: name, IdentityKey: "id", Schema: &schema.Schema{}})
	}
}
