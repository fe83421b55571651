package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Struct tags `laiki:"..."` tell the engine's spec check what a Go type
// cannot say (see schema.FromGoType): required, string-or-list, map, list,
// strict, object-only, quantity, boolean, expression.

// ShinyProxyAppSpec is one ShinyProxy app (an entry of proxy.specs), plus
// Laiki's own keys. The keys are those ShinyProxy 3.2 binds for an app in
// its flat notation (ShinyProxySpecProvider.ShinyProxySpec, and the spec
// extensions ShinyProxySpecExtension, ExternalAppSpecExtension,
// KubernetesSpecExtension, EcsSpecExtension and ProxySharingSpecExtension
// of shinyproxy 3.2.0 and containerproxy 1.2.x), with the types Spring binds
// them to. Fields ShinyProxy reads as a Spring expression (SpelField) of a
// number or boolean are tagged `expression`: they take a "#{...}" string
// too, where the platform allows expressions.
// +kubebuilder:pruning:PreserveUnknownFields
type ShinyProxyAppSpec struct {
	// TargetName is the ShinyProxy target the app binds to (laiki-metadata.target-name);
	// the target's namespace is the object's namespace.
	TargetName string `json:"targetName" laiki:"object-only"`

	// Id of the app: in its URL (/app/ID) and in the names Laiki makes.
	ID          string `json:"id" laiki:"required"`
	DisplayName string `json:"display-name,omitempty"`
	Description string `json:"description,omitempty"`
	LogoURL     string `json:"logo-url,omitempty"`
	LogoWidth   string `json:"logo-width,omitempty"`
	LogoHeight  string `json:"logo-height,omitempty"`
	LogoStyle   string `json:"logo-style,omitempty"`
	LogoClasses string `json:"logo-classes,omitempty"`
	FaviconPath string `json:"favicon-path,omitempty"`

	AccessGroups *Any `json:"access-groups,omitempty" laiki:"string-or-list"`
	AccessUsers  *Any `json:"access-users,omitempty" laiki:"string-or-list"`
	// AccessExpression and AccessStrictExpression are Spring expressions
	// ("#{...}") ShinyProxy evaluates to true or false.
	AccessExpression       string `json:"access-expression,omitempty"`
	AccessStrictExpression string `json:"access-strict-expression,omitempty"`

	Parameters            *Any                `json:"parameters,omitempty" laiki:"map"`
	MaxLifetime           *intstr.IntOrString `json:"max-lifetime,omitempty" laiki:"expression"`
	StopOnLogout          *bool               `json:"stop-on-logout,omitempty"`
	HeartbeatTimeout      *intstr.IntOrString `json:"heartbeat-timeout,omitempty" laiki:"expression"`
	AddDefaultHTTPHeaders *bool               `json:"add-default-http-headers,omitempty"`
	HTTPHeaders           map[string]string   `json:"http-headers,omitempty"`
	CacheHeadersMode      string              `json:"cache-headers-mode,omitempty"`
	MaxTotalInstances     *int64              `json:"max-total-instances,omitempty"`

	Port                   *int64        `json:"port,omitempty"`
	TargetPath             string        `json:"target-path,omitempty"`
	AdditionalPortMappings []PortMapping `json:"additional-port-mappings,omitempty"`

	// ContainerImage to run (required by ShinyProxy; a pre-processor may set it).
	ContainerImage              string              `json:"container-image,omitempty" laiki:"required"`
	ContainerCmd                []string            `json:"container-cmd,omitempty"`
	ContainerEnv                map[string]string   `json:"container-env,omitempty"`
	ContainerEnvFile            string              `json:"container-env-file,omitempty"`
	ContainerNetwork            string              `json:"container-network,omitempty"`
	ContainerNetworkConnections []string            `json:"container-network-connections,omitempty"`
	ContainerDNS                []string            `json:"container-dns,omitempty"`
	ContainerVolumes            []string            `json:"container-volumes,omitempty"`
	ContainerMemoryRequest      *intstr.IntOrString `json:"container-memory-request,omitempty" laiki:"quantity,expression"`
	ContainerMemoryLimit        *intstr.IntOrString `json:"container-memory-limit,omitempty" laiki:"quantity,expression"`
	ContainerCPURequest         *intstr.IntOrString `json:"container-cpu-request,omitempty" laiki:"quantity,expression"`
	ContainerCPULimit           *intstr.IntOrString `json:"container-cpu-limit,omitempty" laiki:"quantity,expression"`
	ContainerPrivileged         *bool               `json:"container-privileged,omitempty"`
	// Labels of the app's container (ShinyProxy's key; container-labels is not read).
	Labels       map[string]string `json:"labels,omitempty"`
	ResourceName string            `json:"resource-name,omitempty"`

	DockerSwarmSecrets     []Any    `json:"docker-swarm-secrets,omitempty"`
	DockerRegistryDomain   string   `json:"docker-registry-domain,omitempty"`
	DockerRegistryUsername string   `json:"docker-registry-username,omitempty"`
	DockerRegistryPassword string   `json:"docker-registry-password,omitempty"`
	DockerRuntime          string   `json:"docker-runtime,omitempty"`
	DockerDeviceRequests   []Any    `json:"docker-device-requests,omitempty"`
	DockerUser             string   `json:"docker-user,omitempty"`
	DockerIpc              string   `json:"docker-ipc,omitempty"`
	DockerGroupAdd         []string `json:"docker-group-add,omitempty"`

	// ShinyProxySpecExtension.
	WebsocketReconnectionMode string              `json:"websocket-reconnection-mode,omitempty"`
	ShinyForceFullReload      *bool               `json:"shiny-force-full-reload,omitempty"`
	MaxInstances              *intstr.IntOrString `json:"max-instances,omitempty" laiki:"expression"`
	HideNavbarOnMainPageLink  *bool               `json:"hide-navbar-on-main-page-link,omitempty"`
	AlwaysShowSwitchInstance  *bool               `json:"always-show-switch-instance,omitempty"`
	TrackAppURL               *bool               `json:"track-app-url,omitempty"`
	TemplateGroup             string              `json:"template-group,omitempty"`
	TemplateProperties        map[string]string   `json:"template-properties,omitempty"`
	SupportMailToAddress      string              `json:"support-mail-to-address,omitempty"`
	SupportMailSubject        string              `json:"support-mail-subject,omitempty"`
	CustomAppDetails          []Any               `json:"custom-app-details,omitempty"`

	// ExternalAppSpecExtension: the app is a link to this URL.
	ExternalURL string `json:"external-url,omitempty"`

	// KubernetesSpecExtension.
	KubernetesPodPatches                              string   `json:"kubernetes-pod-patches,omitempty"`
	KubernetesAuthorizedPodPatches                    []Any    `json:"kubernetes-authorized-pod-patches,omitempty"`
	KubernetesAdditionalManifests                     []string `json:"kubernetes-additional-manifests,omitempty"`
	KubernetesAuthorizedAdditionalManifests           []Any    `json:"kubernetes-authorized-additional-manifests,omitempty"`
	KubernetesAdditionalPersistentManifests           []string `json:"kubernetes-additional-persistent-manifests,omitempty"`
	KubernetesAuthorizedAdditionalPersistentManifests []Any    `json:"kubernetes-authorized-additional-persistent-manifests,omitempty"`

	// EcsSpecExtension (the ECS backend).
	EcsTaskRole                       string              `json:"ecs-task-role,omitempty"`
	EcsExecutionRole                  string              `json:"ecs-execution-role,omitempty"`
	EcsCPUArchitecture                string              `json:"ecs-cpu-architecture,omitempty"`
	EcsOperationSystemFamily          string              `json:"ecs-operation-system-family,omitempty"`
	EcsEphemeralStorageSize           *intstr.IntOrString `json:"ecs-ephemeral-storage-size,omitempty" laiki:"expression"`
	EcsEfsVolumes                     []Any               `json:"ecs-efs-volumes,omitempty"`
	EcsManagedSecrets                 []Any               `json:"ecs-managed-secrets,omitempty"`
	EcsEnableExecuteCommand           *Any                `json:"ecs-enable-execute-command,omitempty" laiki:"boolean,expression"`
	EcsRepositoryCredentialsParameter string              `json:"ecs-repository-credentials-parameter,omitempty"`

	// ProxySharingSpecExtension.
	MinimumSeatsAvailable *int64 `json:"minimum-seats-available,omitempty"`
	AllowContainerReUse   *bool  `json:"allow-container-re-use,omitempty"`
	ScaleDownDelay        *int64 `json:"scale-down-delay,omitempty"`
	SeatsPerContainer     *int64 `json:"seats-per-container,omitempty"`

	// CraneDataRepository gives the app a Crane data repository of its own,
	// mounted at /mnt/data (a Laiki key; ShinyProxy never sees it).
	CraneDataRepository *CraneDataRepository `json:"crane-data-repository,omitempty" laiki:"strict"`

	// PrePull: false keeps the app's image off the PrePuller of its
	// namespace (a Laiki key; ShinyProxy never sees it). The image is still
	// pulled when another app runs it.
	// +optional
	PrePull *bool `json:"pre-pull,omitempty"`
}

// PortMapping is one of an app's additional-port-mappings.
type PortMapping struct {
	Name       string `json:"name,omitempty"`
	Port       *int64 `json:"port,omitempty"`
	TargetPath string `json:"target-path,omitempty"`
}

// CraneDataRepository asks for a Crane data repository for an app.
type CraneDataRepository struct {
	// Name of the repository in Crane; the app id by default.
	Name string `json:"name,omitempty"`
	// Crane names the Crane target of the namespace, when there is more than one.
	Crane string `json:"crane,omitempty"`
	// MountReadOnly mounts /mnt/data read-only in the app.
	MountReadOnly *bool `json:"mount-read-only,omitempty"`
	// ReadAccess: who may read the repository in Crane.
	ReadAccess *CraneAccess `json:"read-access,omitempty" laiki:"strict"`
	// WriteAccess: who may change its contents in Crane.
	WriteAccess *CraneAccess `json:"write-access,omitempty" laiki:"strict"`
}

// CraneAccess is an access rule as Crane has it.
type CraneAccess struct {
	Users      []string `json:"users,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	Expression string   `json:"expression,omitempty"`
}

// ShinyProxyApp is one ShinyProxy app of a team, bound to a ShinyProxy target.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=spapp;spapps,categories=laiki;laiki-resources
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.targetName`
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.container-image`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
type ShinyProxyApp struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ShinyProxyAppSpec `json:"spec"`
	Status            Status            `json:"status,omitempty"`
}

// ShinyProxyAppList is a list of ShinyProxyApps.
// +kubebuilder:object:root=true
type ShinyProxyAppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ShinyProxyApp `json:"items"`
}

func init() { SchemeBuilder.Register(&ShinyProxyApp{}, &ShinyProxyAppList{}) }
