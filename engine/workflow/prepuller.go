package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/types"
)

// DefaultHelperImage holds a static busybox: its binary is copied into every
// pod so that app images with no shell (distroless, scratch) can still be
// kept on the node.
const DefaultHelperImage = "busybox:1.36.1-musl"

func init() {
	Register(&Workflow{Name: "ShinyProxyAppToPrePullerWorkflow", TargetType: "PrePuller", Makes: []string{"apps/v1 DaemonSet"}, Render: renderPrePuller})
}

// renderPrePuller makes a DaemonSet that keeps every distinct image of the
// ShinyProxyApps in its namespace on every node.
//
// The pitfalls of the usual pre-pullers are avoided on purpose:
//   - images with no shell: no container runs `sh -c`; each runs a static
//     busybox that an init container copies into a shared emptyDir;
//   - one bad image blocking the rest: images are pulled by parallel
//     containers, not by a chain of init containers, so a failed pull holds
//     back only itself;
//   - invalid references (upper case, say) are left out with a warning
//     instead of breaking the pod;
//   - pull policy IfNotPresent, so a :latest image is not pulled again on
//     every restart;
//   - requests of 1m CPU and 4Mi memory, and a pod template that changes
//     (annotation with the image set's hash) exactly when the set changes,
//     so a new image rolls out to every node at once (maxUnavailable 100%).
func renderPrePuller(c *Context, t *document.Document, out *Target, _ *Desired) []finding.Finding {
	var fs []finding.Finding
	spec, _ := t.Spec.(map[string]any)
	seen := map[string]bool{}
	var images []string
	for _, app := range c.InNamespace(t.Namespace, "ShinyProxyApp") {
		img, _ := app.Spec.(map[string]any)["container-image"].(string)
		if img == "" || seen[img] {
			continue
		}
		seen[img] = true
		if lower := strings.ToLower(img); !types.ValidImage(img) && types.ValidImage(lower) {
			// Only upper case stands in the way (the design document's
			// "openanalytics/ShinyProxy-demo"): registries store repository
			// names in lower case, so that is the image that can be pulled.
			fs = append(fs, finding.Finding{Severity: finding.Warn, Location: app.Doc.PosOf("laiki-spec.container-image"),
				Policy: CheckWorkflow, Source: app.Doc.Source.Name, Resource: app.Key(), Field: "laiki-spec.container-image",
				Message: fmt.Sprintf("PrePuller %s/%s pulls %s for %s: repository names are lower case", t.Namespace, t.Name, lower, img)})
			img = lower
			if seen[img] {
				continue
			}
			seen[img] = true
		}
		if !types.ValidImage(img) {
			fs = append(fs, finding.Finding{Severity: finding.Warn, Location: app.Doc.PosOf("laiki-spec.container-image"),
				Policy: CheckWorkflow, Source: app.Doc.Source.Name, Resource: app.Key(), Field: "laiki-spec.container-image",
				Message: fmt.Sprintf("PrePuller %s/%s leaves out %s: not a valid image reference, no node could pull it", t.Namespace, t.Name, img)})
			continue
		}
		images = append(images, img)
	}
	sort.Strings(images)
	if len(images) == 0 {
		return fs // nothing to pull: no DaemonSet (one left from before is pruned)
	}

	pull := pullSettings(c, t, spec)
	helper := DefaultHelperImage
	if h, ok := spec["helper-image"].(string); ok && h != "" {
		helper = h
	}
	sum := sha256.Sum256([]byte(strings.Join(images, "\n")))
	name := KubeName(t.Name)
	selector := map[string]any{"laiki.io/prepuller": name}
	labels := managedLabels(t, "prepuller")
	labels["laiki.io/prepuller"] = name

	mount := mapping("name", "laiki-bin", "mountPath", "/laiki-bin", "readOnly", true)
	var containers []any
	for i, img := range images {
		h := sha256.Sum256([]byte(img))
		containers = append(containers, mapping(
			"name", fmt.Sprintf("pull-%d-%s", i, hex.EncodeToString(h[:])[:8]),
			"image", img,
			"imagePullPolicy", "IfNotPresent",
			"command", []string{"/laiki-bin/busybox", "sleep", "2147483647"},
			"resources", mapping("requests", mapping("cpu", "1m", "memory", "4Mi"), "limits", mapping("cpu", "10m", "memory", "16Mi")),
			"securityContext", restricted(),
			"volumeMounts", []any{mount},
		))
	}
	podSpec := mapping(
		"automountServiceAccountToken", false,
		"enableServiceLinks", false,
		"terminationGracePeriodSeconds", 0,
		"securityContext", mapping("runAsNonRoot", true, "runAsUser", 65534, "runAsGroup", 65534, "seccompProfile", mapping("type", "RuntimeDefault")),
		"initContainers", []any{mapping(
			"name", "install-busybox",
			"image", helper,
			"imagePullPolicy", "IfNotPresent",
			"command", []string{"/bin/cp", "/bin/busybox", "/laiki-bin/busybox"},
			"resources", mapping("requests", mapping("cpu", "1m", "memory", "4Mi"), "limits", mapping("cpu", "100m", "memory", "16Mi")),
			"securityContext", restricted(),
			"volumeMounts", []any{mapping("name", "laiki-bin", "mountPath", "/laiki-bin")},
		)},
		"containers", containers,
		"volumes", []any{mapping("name", "laiki-bin", "emptyDir", mapping("sizeLimit", "16Mi"))},
	)
	if len(pull.secrets) > 0 {
		var refs []any
		for _, s := range pull.secrets {
			refs = append(refs, mapping("name", s))
		}
		set(podSpec, "imagePullSecrets", node(refs))
	}
	if len(pull.nodeSelector) > 0 {
		set(podSpec, "nodeSelector", node(pull.nodeSelector))
	}
	if tol, ok := spec["tolerations"].([]any); ok && len(tol) > 0 {
		set(podSpec, "tolerations", node(tol))
	}
	if pc, ok := spec["priority-class-name"].(string); ok && pc != "" {
		set(podSpec, "priorityClassName", str(pc))
	}
	fs = append(fs, pull.findings...)

	out.Config = Ordered{mapping("images", images)}
	out.Objects = append(out.Objects, Ordered{mapping(
		"apiVersion", "apps/v1",
		"kind", "DaemonSet",
		"metadata", mapping("name", name, "namespace", KubeNamespace(t), "labels", labels),
		"spec", mapping(
			"selector", mapping("matchLabels", selector),
			"updateStrategy", mapping("type", "RollingUpdate", "rollingUpdate", mapping("maxUnavailable", "100%")),
			"template", mapping(
				"metadata", mapping("labels", labels, "annotations", map[string]any{"laiki.io/images-sha256": hex.EncodeToString(sum[:])}),
				"spec", podSpec,
			),
		),
	)})
	return fs
}

func restricted() any {
	return mapping("allowPrivilegeEscalation", false, "readOnlyRootFilesystem", true, "capabilities", mapping("drop", []string{"ALL"}))
}

type pullConfig struct {
	secrets      []string
	nodeSelector map[string]any
	findings     []finding.Finding
}

// pullSettings takes the image pull secrets and node selection of the
// ShinyProxy targets of the namespace (where the apps will run), then the
// PrePuller's own spec, which wins.
func pullSettings(c *Context, t *document.Document, spec map[string]any) pullConfig {
	var pc pullConfig
	secrets := map[string]bool{}
	selector := map[string]any{}
	for _, sp := range c.Targets(t.Namespace, "ShinyProxy") {
		m, _ := sp.Spec.(map[string]any)
		proxy, _ := m["proxy"].(map[string]any)
		k8s, _ := proxy["kubernetes"].(map[string]any)
		if s, ok := k8s["image-pull-secret"].(string); ok && s != "" {
			secrets[s] = true
		}
		if list, ok := k8s["image-pull-secrets"].([]any); ok {
			for _, s := range list {
				if str, ok := s.(string); ok {
					secrets[str] = true
				}
			}
		}
		if ns, ok := k8s["node-selector"].(string); ok {
			// ShinyProxy writes it as "key=value,key2=value2".
			for _, pair := range strings.Split(ns, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || k == "" {
					continue
				}
				if prev, dup := selector[k]; dup && prev != v {
					pc.findings = append(pc.findings, finding.Finding{Severity: finding.Warn, Location: t.Location(), Policy: CheckWorkflow,
						Source: t.Source.Name, Message: fmt.Sprintf("ShinyProxy targets of namespace %s select nodes with %s=%v and %s=%s; the PrePuller uses the first (set node-selector on it to choose)", t.Namespace, k, prev, k, v)})
					continue
				}
				selector[k] = v
			}
		}
	}
	if list, ok := spec["image-pull-secrets"].([]any); ok {
		for _, s := range list {
			if str, ok := s.(string); ok {
				secrets[str] = true
			}
		}
	}
	if own, ok := spec["node-selector"].(map[string]any); ok {
		selector = map[string]any{}
		for k, v := range own {
			selector[k] = fmt.Sprint(v)
		}
	}
	for s := range secrets {
		pc.secrets = append(pc.secrets, s)
	}
	sort.Strings(pc.secrets)
	pc.nodeSelector = selector
	return pc
}
