package types

import (
	"fmt"
	"regexp"

	"github.com/laiki-platform/laiki/engine/finding"
)

// appID: ShinyProxy puts the id in URLs (/app/ID) and Laiki in object and
// file names, so it is kept to a safe alphabet.
var appID = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// ShinyProxyAppFields are the keys of one ShinyProxy app (an entry of
// proxy.specs, ShinyProxy 3.x) with their types. Unknown keys are warnings,
// not errors: a newer ShinyProxy may know them.
var ShinyProxyAppFields = map[string]Field{
	"id": {Type: String, Required: true, Check: func(v any) string {
		if !appID.MatchString(v.(string)) {
			return fmt.Sprintf("%q is not a valid app id: letters, digits, '.', '_' and '-', starting and ending with a letter or digit, at most 63", v)
		}
		return ""
	}},
	"display-name":                  {Type: String},
	"description":                   {Type: String},
	"logo-url":                      {Type: String},
	"logo-width":                    {Type: String},
	"logo-height":                   {Type: String},
	"logo-style":                    {Type: String},
	"logo-classes":                  {Type: String},
	"template-group":                {Type: String},
	"template-properties":           {Type: StringMap},
	"access-groups":                 {Type: StringOrList},
	"access-users":                  {Type: StringOrList},
	"access-expression":             {Type: String},
	"access-strict-expression":      {Type: Bool},
	"max-instances":                 {Type: Int},
	"max-total-instances":           {Type: Int},
	"minimum-seats-available":       {Type: Int},
	"seats-per-container":           {Type: Int},
	"allow-container-re-use":        {Type: Bool},
	"heartbeat-timeout":             {Type: Int},
	"max-lifetime":                  {Type: Int},
	"stop-on-logout":                {Type: Bool},
	"hide-navbar-on-main-page-link": {Type: Bool},
	"always-show-switch-instance":   {Type: Bool},
	"track-app-url":                 {Type: Bool},
	"websocket-reconnection-mode":   {Type: String},
	"shiny-force-full-reload":       {Type: Bool},
	"target-path":                   {Type: String},
	"port":                          {Type: Int},
	"parameters":                    {Type: Map},
	"add-default-http-headers":      {Type: Bool},
	"http-headers":                  {Type: StringMap},
	"cache-headers-mode":            {Type: String},
	"scale-down-delay":              {Type: Int},

	"container-image":               {Type: String, Required: true},
	"container-cmd":                 {Type: StringList},
	"container-env":                 {Type: StringMap},
	"container-env-file":            {Type: String},
	"container-network":             {Type: String},
	"container-network-connections": {Type: StringList},
	"container-dns":                 {Type: StringList},
	"container-volumes":             {Type: StringList},
	"container-memory-request":      {Type: Quantity},
	"container-memory-limit":        {Type: Quantity},
	"container-cpu-request":         {Type: Quantity},
	"container-cpu-limit":           {Type: Quantity},
	"container-privileged":          {Type: Bool},
	"container-labels":              {Type: StringMap},
	"container-specs":               {Type: List},
	"port-mappings":                 {Type: List},

	"kubernetes-pod-patches":                                {Type: String},
	"kubernetes-additional-manifests":                       {Type: StringList},
	"kubernetes-additional-persistent-manifests":            {Type: StringList},
	"kubernetes-authorized-pod-patches":                     {Type: List},
	"kubernetes-authorized-additional-manifests":            {Type: List},
	"kubernetes-authorized-additional-persistent-manifests": {Type: List},

	"docker-registry-domain":   {Type: String},
	"docker-registry-username": {Type: String},
	"docker-registry-password": {Type: String},
	"docker-ipc":               {Type: String},
	"docker-device-requests":   {Type: List},
	"docker-runtime":           {Type: String},
	"docker-user":              {Type: String},
	"docker-group-add":         {Type: StringList},

	// Laiki's own key: a Crane data repository for the app, mounted at
	// /mnt/data. The workflow turns it into its effects and removes it.
	"crane-data-repository": {Type: Object, Unknown: finding.Error, Fields: map[string]Field{
		"name": {Type: String, Check: func(v any) string {
			if !appID.MatchString(v.(string)) {
				return fmt.Sprintf("%q is not a valid repository name: letters, digits, '.', '_' and '-', at most 63", v)
			}
			return ""
		}},
		// crane names the Crane target of the app's namespace to use, when
		// there is more than one.
		"crane":           {Type: String},
		"mount-read-only": {Type: Bool},
		"read-access":     craneAccess,
		"write-access":    craneAccess,
	}},
}

var craneAccess = Field{Type: Object, Unknown: finding.Error, Fields: map[string]Field{
	"users":      {Type: StringList},
	"groups":     {Type: StringList},
	"expression": {Type: String},
}}

func init() {
	RegisterResource(&ResourceType{
		Name:        "ShinyProxyApp",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "id",
		Schema:      &Schema{What: "ShinyProxy app", Field: Field{Type: Object, Unknown: finding.Warn, Fields: ShinyProxyAppFields}},
	})
}
