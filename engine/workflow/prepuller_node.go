package workflow

import (
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The PrePuller's DaemonSet is built typed (appsv1.DaemonSet) and written
// here as the YAML tree every target renders to (Ordered). The keys come
// in a fixed order, the one rendered output has always had (golden files
// pin it), not the Go types' field order; what is unset is left out, as
// omitempty does, and what a typed object carries but a desired one does
// not (creationTimestamp, status) never is written. Only the fields the
// PrePuller sets are known here: a round trip test (prepuller_node_test.go)
// fails when the builders set one these functions do not write.

// daemonSetNode writes a DaemonSet.
func daemonSetNode(ds *appsv1.DaemonSet) *yaml.Node {
	w := nodeWriter{shared: map[any]*yaml.Node{}}
	s := ds.Spec
	strategy := newFields(2).
		str("type", string(s.UpdateStrategy.Type))
	if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
		strategy.add("rollingUpdate", newFields(2).
			add("maxUnavailable", intOrStringNode(ru.MaxUnavailable)).
			add("maxSurge", intOrStringNode(ru.MaxSurge)).Node)
	}
	spec := newFields(3).
		add("selector", labelSelectorNode(s.Selector)).
		add("updateStrategy", strategy.Node).
		add("template", newFields(2).
			add("metadata", objectMetaNode(&s.Template.ObjectMeta)).
			add("spec", w.podSpec(&s.Template.Spec)).Node)
	return newFields(4).
		str("apiVersion", ds.APIVersion).
		str("kind", ds.Kind).
		add("metadata", objectMetaNode(&ds.ObjectMeta)).
		add("spec", spec.Node).Node
}

func objectMetaNode(m *metav1.ObjectMeta) *yaml.Node {
	return newFields(4).
		str("name", m.Name).
		str("namespace", m.Namespace).
		add("labels", stringMapNode(m.Labels)).
		add("annotations", stringMapNode(m.Annotations)).Node
}

func labelSelectorNode(s *metav1.LabelSelector) *yaml.Node {
	if s == nil {
		return nil
	}
	return newFields(1).add("matchLabels", stringMapNode(s.MatchLabels)).Node
}

// nodeWriter writes a pod spec. What its containers share (one security
// context, one command, one list of mounts, in memory) is written once and
// shared by their trees too: they render the same, in less memory.
type nodeWriter struct{ shared map[any]*yaml.Node }

// once writes v the first time its key is met, then gives the same tree.
func (w nodeWriter) once(key any, write func() *yaml.Node) *yaml.Node {
	if n, ok := w.shared[key]; ok {
		return n
	}
	n := write()
	w.shared[key] = n
	return n
}

// sliceKey tells a slice from another: its first element and its length.
type sliceKey[T any] struct {
	first *T
	n     int
}

func keyOf[T any](s []T) any {
	if len(s) == 0 {
		return sliceKey[T]{}
	}
	return sliceKey[T]{&s[0], len(s)}
}

func (w nodeWriter) podSpec(p *corev1.PodSpec) *yaml.Node {
	return newFields(11).
		boolPtr("automountServiceAccountToken", p.AutomountServiceAccountToken).
		boolPtr("enableServiceLinks", p.EnableServiceLinks).
		int64Ptr("terminationGracePeriodSeconds", p.TerminationGracePeriodSeconds).
		add("securityContext", podSecurityContextNode(p.SecurityContext)).
		add("initContainers", seqNode(p.InitContainers, w.container)).
		add("containers", seqNode(p.Containers, w.container)).
		add("volumes", seqNode(p.Volumes, volumeNode)).
		add("imagePullSecrets", seqNode(p.ImagePullSecrets, func(r *corev1.LocalObjectReference) *yaml.Node {
			return newFields(1).str("name", r.Name).Node
		})).
		add("nodeSelector", stringMapNode(p.NodeSelector)).
		add("tolerations", seqNode(p.Tolerations, tolerationNode)).
		str("priorityClassName", p.PriorityClassName).Node
}

func podSecurityContextNode(s *corev1.PodSecurityContext) *yaml.Node {
	if s == nil {
		return nil
	}
	f := newFields(4).
		boolPtr("runAsNonRoot", s.RunAsNonRoot).
		int64Ptr("runAsUser", s.RunAsUser).
		int64Ptr("runAsGroup", s.RunAsGroup)
	if s.SeccompProfile != nil {
		f.add("seccompProfile", newFields(1).str("type", string(s.SeccompProfile.Type)).Node)
	}
	return f.Node
}

func (w nodeWriter) container(c *corev1.Container) *yaml.Node {
	return newFields(7).
		str("name", c.Name).
		str("image", c.Image).
		str("imagePullPolicy", string(c.ImagePullPolicy)).
		add("command", w.once(keyOf(c.Command), func() *yaml.Node { return stringsNode(c.Command) })).
		add("resources", newFields(2).
			add("requests", resourceListNode(c.Resources.Requests)).
			add("limits", resourceListNode(c.Resources.Limits)).orNil()).
		add("securityContext", w.once(c.SecurityContext, func() *yaml.Node { return securityContextNode(c.SecurityContext) })).
		add("volumeMounts", w.once(keyOf(c.VolumeMounts), func() *yaml.Node {
			return seqNode(c.VolumeMounts, func(m *corev1.VolumeMount) *yaml.Node {
				return newFields(3).str("name", m.Name).str("mountPath", m.MountPath).boolean("readOnly", m.ReadOnly).Node
			})
		})).Node
}

func securityContextNode(s *corev1.SecurityContext) *yaml.Node {
	if s == nil {
		return nil
	}
	f := newFields(3).
		boolPtr("allowPrivilegeEscalation", s.AllowPrivilegeEscalation).
		boolPtr("readOnlyRootFilesystem", s.ReadOnlyRootFilesystem)
	if c := s.Capabilities; c != nil {
		drop := make([]string, len(c.Drop))
		for i, d := range c.Drop {
			drop[i] = string(d)
		}
		f.add("capabilities", newFields(1).add("drop", stringsNode(drop)).Node)
	}
	return f.Node
}

func volumeNode(v *corev1.Volume) *yaml.Node {
	f := newFields(2).str("name", v.Name)
	if e := v.EmptyDir; e != nil {
		f.add("emptyDir", newFields(1).add("sizeLimit", quantityNode(e.SizeLimit)).Node)
	}
	return f.Node
}

// tolerationNode writes a toleration with its keys sorted, as the
// tolerations the platform and the apps write were.
func tolerationNode(t *corev1.Toleration) *yaml.Node {
	return newFields(5).
		str("effect", string(t.Effect)).
		str("key", t.Key).
		str("operator", string(t.Operator)).
		int64Ptr("tolerationSeconds", t.TolerationSeconds).
		str("value", t.Value).Node
}

// fields builds a mapping, leaving out the keys whose value is unset.
type fields struct{ *yaml.Node }

// newFields starts a mapping of at most n keys.
func newFields(n int) fields {
	return fields{&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*n)}}
}

// orNil is the mapping, or nil when it has no key (no `resources: {}`).
func (f fields) orNil() *yaml.Node {
	if len(f.Content) == 0 {
		return nil
	}
	return f.Node
}

// add appends the key unless its value is nil.
func (f fields) add(key string, v *yaml.Node) fields {
	if v != nil {
		f.Content = append(f.Content, str(key), v)
	}
	return f
}

func (f fields) str(key, v string) fields {
	if v == "" {
		return f
	}
	return f.add(key, str(v))
}

// boolean writes a plain bool, which omitempty leaves out when false.
func (f fields) boolean(key string, v bool) fields {
	if !v {
		return f
	}
	return f.add(key, boolNode(v))
}

func (f fields) boolPtr(key string, v *bool) fields {
	if v == nil {
		return f
	}
	return f.add(key, boolNode(*v))
}

func (f fields) int64Ptr(key string, v *int64) fields {
	if v == nil {
		return f
	}
	return f.add(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(*v, 10)})
}

func boolNode(v bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
}

// seqNode writes a list, nil when empty.
func seqNode[T any](items []T, write func(*T) *yaml.Node) *yaml.Node {
	if len(items) == 0 {
		return nil
	}
	s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, len(items))}
	for i := range items {
		s.Content[i] = write(&items[i])
	}
	return s
}

func stringsNode(items []string) *yaml.Node {
	if len(items) == 0 {
		return nil
	}
	return node(items)
}

// stringMapNode writes a map with its keys sorted, nil when empty.
func stringMapNode(m map[string]string) *yaml.Node {
	if len(m) == 0 {
		return nil
	}
	return sortedMapping(m, str)
}

func resourceListNode(l corev1.ResourceList) *yaml.Node {
	if len(l) == 0 {
		return nil
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*len(l))}
	var buf [4]corev1.ResourceName // cpu, memory: no allocation for the usual lists
	keys := buf[:0]
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		q := l[k]
		n.Content = append(n.Content, str(string(k)), str(q.String()))
	}
	return n
}

func quantityNode(q *resource.Quantity) *yaml.Node {
	if q == nil {
		return nil
	}
	return str(q.String())
}

func intOrStringNode(v *intstr.IntOrString) *yaml.Node {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		return str(v.StrVal)
	}
	return node(int(v.IntVal))
}
