package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/image"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
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
	types.RegisterTarget(&types.TargetType{
		Name:   "PrePuller",
		Kind:   "PrePullerTarget",
		Schema: s,
	})
	// Its workflow.
	Register(&Workflow{Name: "ShinyProxyAppToPrePullerWorkflow", TargetType: "PrePuller", Makes: []string{"apps/v1 DaemonSet"}, Render: renderPrePuller})
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

// DefaultHelperImage holds a static busybox: its binary is copied into every
// pod so that app images with no shell (distroless, scratch) can still be
// kept on the node.
const DefaultHelperImage = "busybox:1.36.1-musl"

// renderPrePuller makes a DaemonSet that keeps every distinct image of the
// ShinyProxyApps in its namespace on every node.
//
// The pitfalls of the usual pre-pullers are avoided on purpose:
//   - images with no shell: no container runs `sh -c`; each runs a static
//     busybox that an init container copies into a shared emptyDir;
//   - one bad image blocking the rest: images are pulled by parallel
//     containers, not by a chain of init containers, so a failed pull holds
//     back only itself;
//   - pulling another image than the one that runs: an image with upper
//     case in its repository is mapped the same way here and in ShinyProxy's
//     configuration (image.Runnable), and one no mapping makes valid is
//     left out of both (the ShinyProxy workflow says so);
//   - a tag pushed again never reaching the nodes: with refresh set, images
//     whose tag can move are pulled with Always, and the pod template
//     carries the interval it was rendered in, so the DaemonSet rolls, and
//     pulls them again, once an interval; pinned images keep IfNotPresent,
//     and so are never pulled again;
//   - images that land where no app runs, or not where one does: the
//     tolerations the apps' pod patches give their pods are the DaemonSet's
//     too, and an app whose patches take it off the DaemonSet's nodes is
//     warned;
//   - too many images for one pod: max-images keeps those most apps run;
//   - requests of 1m CPU and 4Mi memory, and a pod template that changes
//     (annotation with the image set's hash) exactly when the set changes,
//     so a new image rolls out to every node at once (maxUnavailable 100%).
func renderPrePuller(c *Context, t *document.Document, out *Target, _ *Desired) []finding.Finding {
	spec, _ := t.Spec.(map[string]any)
	apps := prePulledApps(c, t)
	images, fs := imagesOf(t, apps)
	images, capped := capImages(t, spec, images)
	fs = append(fs, capped...)
	if len(images) == 0 {
		return fs // nothing to pull: no DaemonSet (one left from before is pruned)
	}
	refreshed := refreshStamp(spec, images, c)
	pod := prePullPod(spec, images, refreshed != "")
	fs = append(fs, placePod(c, t, spec, apps, &pod)...)
	refs := make([]string, len(images))
	for i, img := range images {
		refs[i] = img.ref
	}
	out.Config = Ordered{mapping("images", refs)}
	out.Objects = append(out.Objects, Ordered{daemonSetNode(prePullDaemonSet(t, refs, pod, refreshed))})
	return fs
}

// placePod adds to the pod spec where it runs and pulls with: the pull
// secrets and node selector (pullSettings), the tolerations (the
// PrePuller's and the apps'), the priority class.
func placePod(c *Context, t *document.Document, spec map[string]any, apps []*pipeline.Resource, pod *corev1.PodSpec) []finding.Finding {
	pull := pullSettings(c, t, spec)
	fs := pull.findings
	tolerations, tfs := tolerationsFor(t, spec, apps)
	fs = append(fs, tfs...)
	fs = append(fs, offTheNodes(t, apps, pull.nodeSelector)...)
	for _, s := range pull.secrets {
		pod.ImagePullSecrets = append(pod.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	if len(pull.nodeSelector) > 0 {
		pod.NodeSelector = make(map[string]string, len(pull.nodeSelector))
		for k, v := range pull.nodeSelector {
			pod.NodeSelector[k] = fmt.Sprint(v)
		}
	}
	pod.Tolerations = tolerations
	if pc, ok := spec["priority-class-name"].(string); ok {
		pod.PriorityClassName = pc
	}
	return fs
}

// prePullDaemonSet wraps the pod spec. Its template carries the image set's
// hash and, with refresh, the interval it was rendered in: either change
// rolls it out to every node at once.
func prePullDaemonSet(t *document.Document, refs []string, pod corev1.PodSpec, refreshed string) *appsv1.DaemonSet {
	sum := sha256.Sum256([]byte(strings.Join(refs, "\n")))
	annotations := map[string]string{"laiki.io/images-sha256": hex.EncodeToString(sum[:])}
	if refreshed != "" {
		annotations["laiki.io/refreshed"] = refreshed
	}
	name := KubeName(t.Name)
	labels := map[string]string{}
	for k, v := range managedLabels(t, "prepuller") {
		labels[k] = fmt.Sprint(v)
	}
	labels["laiki.io/prepuller"] = name
	everyNode := intstr.FromString("100%")
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: KubeNamespace(t), Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"laiki.io/prepuller": name}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &everyNode},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       pod,
			},
		},
	}
}

// prePullImage is one image the PrePuller keeps on the nodes.
type prePullImage struct {
	ref string
	// apps is how many apps run it, what max-images keeps the most of.
	apps int
}

// prePulledApps are the accepted apps of the PrePuller's namespace, less
// those that opt out with pre-pull: false.
func prePulledApps(c *Context, t *document.Document) []*pipeline.Resource {
	var out []*pipeline.Resource
	for _, app := range c.InNamespace(t.Namespace, "ShinyProxyApp") {
		if pre, ok := app.Spec.(map[string]any)["pre-pull"].(bool); ok && !pre {
			continue
		}
		out = append(out, app)
	}
	return out
}

// imagesOf gives the distinct images the apps run, by reference, as
// ShinyProxy's configuration has them. An image ShinyProxy chooses when the
// app starts (a Spring expression) cannot be known here: a notice.
func imagesOf(t *document.Document, apps []*pipeline.Resource) ([]prePullImage, []finding.Finding) {
	var fs []finding.Finding
	count := map[string]int{}
	for _, app := range apps {
		raw, _ := app.Spec.(map[string]any)["container-image"].(string)
		if isExpression(raw) {
			fs = append(fs, prePullFinding(app, finding.Notice, "laiki-spec.container-image",
				"PrePuller %s/%s does not pull %s: ShinyProxy chooses the image when the app starts", t.Namespace, t.Name, raw))
			continue
		}
		if img, ok := image.Runnable(raw); ok {
			count[img]++
		} // else the app is left out of ShinyProxy too, with an error (imageFinding)
	}
	images := make([]prePullImage, 0, len(count))
	for ref, n := range count {
		images = append(images, prePullImage{ref: ref, apps: n})
	}
	sort.Slice(images, func(i, j int) bool { return images[i].ref < images[j].ref })
	return images, fs
}

// isExpression says whether ShinyProxy evaluates an app's value when the app
// starts: a Spring expression or a property placeholder.
func isExpression(s string) bool { return strings.Contains(s, "#{") || strings.Contains(s, "${") }

// imageFinding says what becomes of an app's container-image on its way to
// the nodes (nil: it runs as written): an image only upper case keeps from
// being valid runs, and is pre-pulled, lower-cased (a warning); one nothing
// makes valid runs nowhere, so the app is left out (an error). The
// ShinyProxy workflow asks it for every app, and appNode writes the same
// image.
func imageFinding(app *pipeline.Resource) *finding.Finding {
	raw, isString := app.Spec.(map[string]any)["container-image"].(string)
	if !isString || raw == "" || isExpression(raw) {
		return nil // the schema's business, or ShinyProxy's when the app starts
	}
	img, ok := image.Runnable(raw)
	switch {
	case !ok:
		f := prePullFinding(app, finding.Error, "laiki-spec.container-image",
			"container-image %s is not a valid image reference, in upper or lower case: no node could pull it, so the app is left out (e.g. registry.example.com/team/app:1.0)", raw)
		return &f
	case img != raw:
		f := prePullFinding(app, finding.Warn, "laiki-spec.container-image",
			"container-image %s has upper case in its repository, which Kubernetes refuses (InvalidImageName): Laiki runs and pre-pulls %s; write that", raw, img)
		return &f
	}
	return nil
}

// mappedImage is the container-image ShinyProxy is given for an app in
// place of the one written (ok false: the one written), the one the
// PrePuller pulls (see imageFinding).
func mappedImage(spec map[string]any) (ref string, ok bool) {
	raw, _ := spec["container-image"].(string)
	if isExpression(raw) {
		return raw, false
	}
	img, ok := image.Runnable(raw)
	return img, ok && img != raw
}

func prePullFinding(app *pipeline.Resource, sev finding.Severity, field, format string, args ...any) finding.Finding {
	return finding.Finding{Severity: sev, Location: app.Doc.PosOf(field), Policy: CheckWorkflow, Source: app.Doc.Source.Name,
		Resource: app.Key(), Field: field, Message: fmt.Sprintf(format, args...)}
}

// capImages keeps at most max-images images: those most apps run, then by
// reference; the others are named in a warning at the target.
func capImages(t *document.Document, spec map[string]any, images []prePullImage) ([]prePullImage, []finding.Finding) {
	limit, ok := PrePullerMaxImages(spec)
	if !ok || limit < 1 || int64(len(images)) <= limit {
		return images, nil
	}
	ranked := append([]prePullImage(nil), images...)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].apps > ranked[j].apps }) // ties stay by reference
	kept := ranked[:limit]
	var left []string
	for _, img := range ranked[limit:] {
		left = append(left, img.ref)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].ref < kept[j].ref })
	sort.Strings(left)
	return kept, []finding.Finding{{Severity: finding.Warn, Location: t.PosOf("laiki-spec.max-images"), Policy: CheckWorkflow, Source: t.Source.Name,
		Field: "laiki-spec.max-images",
		Message: fmt.Sprintf("PrePuller %s/%s pulls %d of its %d images (max-images: %d); left out, as the fewest apps run them: %s (their apps' pods pull them as they start)",
			t.Namespace, t.Name, limit, len(images), limit, strings.Join(left, ", "))}}
}

// refreshStamp is the start of the refresh interval now is in (RFC 3339,
// UTC), when the PrePuller has a refresh and an image whose tag can move;
// "" otherwise, so that a platform with nothing to refresh never rolls.
// Intervals are multiples of refresh from Go's zero time (for 24h, from
// midnight UTC), so every run within one renders the same.
func refreshStamp(spec map[string]any, images []prePullImage, c *Context) string {
	every := PrePullerRefresh(spec)
	if every == 0 || !slices.ContainsFunc(images, func(i prePullImage) bool { return image.MovingTag(i.ref) }) {
		return ""
	}
	return c.Interval(every).Format(time.RFC3339)
}

// prePullPod is the pod spec: the busybox installer, then one container an
// image. With refresh, an image whose tag can move is pulled with Always,
// so that each roll asks the registry for it again. The containers share
// what they have alike (command, resources, security context, mount).
func prePullPod(spec map[string]any, images []prePullImage, refresh bool) corev1.PodSpec {
	helper := DefaultHelperImage
	if h, ok := spec["helper-image"].(string); ok && h != "" {
		helper = h
	}
	sleep := []string{"/laiki-bin/busybox", "sleep", "2147483647"}
	resources := podResources("10m")
	mounts := []corev1.VolumeMount{{Name: "laiki-bin", MountPath: "/laiki-bin", ReadOnly: true}}
	securityContext := restricted()
	containers := make([]corev1.Container, len(images))
	for i, img := range images {
		policy := corev1.PullIfNotPresent
		if refresh && image.MovingTag(img.ref) {
			policy = corev1.PullAlways
		}
		h := sha256.Sum256([]byte(img.ref))
		containers[i] = corev1.Container{
			Name:            fmt.Sprintf("pull-%d-%s", i, hex.EncodeToString(h[:])[:8]),
			Image:           img.ref,
			ImagePullPolicy: policy,
			Command:         sleep,
			Resources:       resources,
			SecurityContext: securityContext,
			VolumeMounts:    mounts,
		}
	}
	sizeLimit := quantity("16Mi")
	return corev1.PodSpec{
		AutomountServiceAccountToken:  ptr.To(false),
		EnableServiceLinks:            ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To[int64](0),
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65534), RunAsGroup: ptr.To[int64](65534),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		InitContainers: []corev1.Container{{
			Name:            "install-busybox",
			Image:           helper,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"/bin/cp", "/bin/busybox", "/laiki-bin/busybox"},
			Resources:       podResources("100m"),
			SecurityContext: securityContext,
			VolumeMounts:    []corev1.VolumeMount{{Name: "laiki-bin", MountPath: "/laiki-bin"}},
		}},
		Containers: containers,
		Volumes: []corev1.Volume{{Name: "laiki-bin",
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &sizeLimit}}}},
	}
}

// podResources are a PrePuller container's: requests of 1m CPU and 4Mi
// memory, limits of cpuLimit and 16Mi.
func podResources(cpuLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: quantity("1m"), corev1.ResourceMemory: quantity("4Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: quantity(cpuLimit), corev1.ResourceMemory: quantity("16Mi")},
	}
}

// quantity parses a quantity and caches its canonical form (String does,
// once), so that writing it in each container costs nothing.
func quantity(s string) resource.Quantity {
	q := resource.MustParse(s)
	_ = q.String()
	return q
}

func restricted() *corev1.SecurityContext {
	return &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
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
