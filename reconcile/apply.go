package reconcile

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pmezard/go-difflib/difflib"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sjson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// FieldManager is the one field manager of every server-side apply Laiki
// makes: what it sets is Laiki's, and no one else's fields are touched.
const FieldManager = "laiki"

// Labels that mark the objects Laiki makes. Pruning looks only at objects
// with both, and that Laiki's field manager applied: never at an object
// Laiki did not make.
const (
	LabelManagedBy = kube.LabelManagedBy
	LabelInstance  = kube.LabelInstance
)

// Operations an apply reports per object.
const (
	OpCreate    = "create"
	OpUpdate    = "update"
	OpUnchanged = "unchanged"
	OpPrune     = "prune"
)

// Change is what an apply did, or with DryRun would do, to one object.
type Change struct {
	Op         string `json:"op"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Diff is a unified diff of the object as it is and as it would be
	// (DryRun only).
	Diff string `json:"diff,omitempty"`
	Err  error  `json:"-"`
}

func (c Change) String() string {
	s := c.Kind + " " + c.Name
	if c.Namespace != "" {
		s = c.Kind + " " + c.Namespace + "/" + c.Name
	}
	if c.Err != nil {
		return s + ": " + c.Err.Error()
	}
	return s
}

// Outcome lists the changes of one apply.
type Outcome struct {
	Changes []Change
}

// Writes counts the changes that wrote to the cluster (or would have).
func (o *Outcome) Writes() int {
	n := 0
	for _, c := range o.Changes {
		if c.Err == nil && c.Op != OpUnchanged {
			n++
		}
	}
	return n
}

// Errors lists the changes that failed.
func (o *Outcome) Errors() []Change {
	var out []Change
	for _, c := range o.Changes {
		if c.Err != nil {
			out = append(out, c)
		}
	}
	return out
}

// Applier makes the cluster match the desired objects: server-side apply
// with one field manager, nothing written where nothing changed, and
// objects Laiki made and no longer wants pruned.
type Applier struct {
	// Client writes; Reader reads the live objects (uncached, so that a
	// decision never rests on a stale cache).
	Client client.Client
	Reader client.Reader
	// Instance tells two Laiki installations in one cluster apart (default
	// "laiki"): each prunes only what it made.
	Instance string
	// DryRun asks the API server what would change (server-side dry run)
	// and writes nothing.
	DryRun bool
	// Namespaces, when set, are the only namespaces Laiki writes to and
	// lists in (its RBAC gives it nothing else): an object for another one
	// is an error, and namespaces are never made (they must exist).
	Namespaces []string

	// live holds the objects as read before this Apply wrote them (their
	// status is the components', which an apply does not change), for the
	// serving check; by objectKey. lastLive is the previous Apply's: an
	// object whose resourceVersion has not moved since is that one still.
	live, lastLive map[string]*unstructured.Unstructured
	// wrote holds the objects as this Apply's writes left them (the
	// server's answer, kept as observed does): the next Apply finds an
	// object it created or updated, and nobody wrote since, by its
	// resourceVersion alone, as one it found unchanged.
	wrote map[string]*unstructured.Unstructured

	// applied remembers, per object, the digest of what was last found in
	// force and the live resourceVersion then: the same desired object on
	// an unchanged live one needs no dry run to know nothing changed.
	applied map[string]appliedState
	// mu guards live, wrote and applied while objects are applied
	// concurrently.
	mu sync.Mutex
}

type appliedState struct {
	digest [32]byte
	rv     string
}

// remember records that the object of key, of that digest, is in force in
// the live object of version rv.
func (a *Applier) remember(key string, digest [32]byte, rv string) {
	if a.DryRun || rv == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.applied == nil {
		a.applied = map[string]appliedState{}
	}
	a.applied[key] = appliedState{digest, rv}
}

// appliedAs is what remember kept of an object.
func (a *Applier) appliedAs(key string) (appliedState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.applied[key]
	return st, ok
}

// keep puts u under key in one of the Applier's maps (live, wrote),
// which the objects applied concurrently share.
func (a *Applier) keep(into *map[string]*unstructured.Unstructured, key string, u *unstructured.Unstructured) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if *into == nil {
		*into = map[string]*unstructured.Unstructured{}
	}
	(*into)[key] = u
}

// mayWrite reports whether the Applier works in a namespace.
func (a *Applier) mayWrite(ns string) bool {
	return len(a.Namespaces) == 0 || slices.Contains(a.Namespaces, ns)
}

func (a *Applier) instance() string {
	if a.Instance == "" {
		return "laiki"
	}
	return a.Instance
}

// applyWorkers is how many objects are applied at a time.
const applyWorkers = 4

// Object is one object to apply: who it is, and its JSON as the render
// wrote it, decoded only where it is compared or written. An object found
// unchanged since the last run (see unmoved) is never decoded: its digest
// is the JSON's, and its identity the render's.
type Object struct {
	APIVersion, Kind, Namespace, Name string
	raw                               []byte
	instance                          string
	target                            string // the target that rendered it ("namespace/name")
}

func (o *Object) key() string { return keyOf(o.APIVersion, o.Kind, o.Namespace, o.Name) }

func (o *Object) gvk() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)
}

// digest names what would be applied: the rendered JSON and the instance
// whose labels it gets.
func (o *Object) digest() [32]byte {
	h := sha256.New()
	h.Write([]byte(o.instance))
	h.Write([]byte{0})
	h.Write(o.raw)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// decode gives the object to apply, labelled as Laiki's, with the API's
// own JSON decoding (integers as int64), so that it compares equal to the
// live one.
func (o *Object) decode() (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := k8sjson.Unmarshal(o.raw, &u.Object); err != nil {
		return nil, fmt.Errorf("the rendered object: %w", err)
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = "laiki"
	labels[LabelInstance] = o.instance
	u.SetLabels(labels)
	return u, nil
}

// Objects turns the desired state into the objects to apply, sorted by
// kind, namespace and name.
func (a *Applier) Objects(d *workflow.Desired) ([]*Object, error) {
	var out []*Object
	for _, t := range d.Targets {
		for i := range t.Objects {
			raw, err := t.ObjectJSON(i)
			if err != nil {
				return nil, fmt.Errorf("target %s/%s: %w", t.Namespace, t.Name, err)
			}
			o := &Object{raw: raw, instance: a.instance(), target: t.Namespace + "/" + t.Name}
			o.APIVersion, o.Kind, o.Namespace, o.Name = objectID(t.Objects[i])
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out, nil
}

func objectKey(u *unstructured.Unstructured) string {
	return keyOf(u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName())
}

// keyOf is the one spelling of an object's key: what the render wants
// (Object.key) and what prune lists (objectKey) must meet in it.
func keyOf(apiVersion, kind, namespace, name string) string {
	return apiVersion + " " + kind + " " + namespace + "/" + name
}

// Apply makes the cluster match objs and prunes what Laiki made before and
// no longer wants. Every object is tried: one that fails is reported and
// never holds back the others. A kind whose API the cluster does not serve
// (the ShinyProxy operator's CRD not installed, say) is an error for its
// objects only.
func (a *Applier) Apply(ctx context.Context, objs []*Object) *Outcome {
	out := &Outcome{}
	a.live, a.lastLive = nil, a.live
	for key, obj := range a.wrote {
		if a.lastLive == nil {
			a.lastLive = map[string]*unstructured.Unstructured{}
		}
		a.lastLive[key] = obj
	}
	a.wrote = nil
	type nsState struct {
		missing bool // only in a dry run: it would be created
		err     error
	}
	namespaces := map[string]nsState{}
	wanted := map[string]bool{}
	// The changes in the order of the objects, those to apply filled in
	// below: each namespace first, sequentially, then the objects.
	var changes []Change
	var toApply []int // where in changes each of applying goes
	var applying []*Object
	renderedBy := map[string]string{} // the first target that rendered each object
	for _, obj := range objs {
		if first, twice := renderedBy[obj.key()]; twice {
			// Two targets would write one object, each over the other on
			// every run (and, applied concurrently, in no set order): the
			// first target's stands, and the other's is an error.
			changes = append(changes, obj.change(OpUpdate, fmt.Errorf("target %s renders this object too, and target %s first: one object, one target; %s's is applied", obj.target, first, first)))
			continue
		}
		renderedBy[obj.key()] = obj.target
		wanted[obj.key()] = true
		ns := obj.Namespace
		if _, done := namespaces[ns]; !done && ns != "" {
			switch {
			case !a.mayWrite(ns):
				namespaces[ns] = nsState{err: fmt.Errorf("not one of the namespaces this Laiki may write to (--namespaces %s): add it to the chart's namespaces", strings.Join(a.Namespaces, ","))}
			case len(a.Namespaces) > 0:
				namespaces[ns] = nsState{} // given, so it exists: Laiki may not make namespaces
			default:
				made := &Outcome{}
				missing, err := a.ensureNamespace(ctx, ns, made)
				changes = append(changes, made.Changes...)
				namespaces[ns] = nsState{missing, err}
			}
		}
		switch st := namespaces[ns]; {
		case st.err != nil:
			changes = append(changes, obj.change(OpCreate, fmt.Errorf("namespace %s: %w", ns, st.err)))
		case st.missing:
			// The server cannot dry-run an object in a namespace that does
			// not exist yet: the diff is the object as Laiki would send it.
			u, err := obj.decode()
			c := obj.change(OpCreate, err)
			if err == nil {
				c.Diff = Diff(nil, u)
			}
			changes = append(changes, c)
		default:
			toApply, applying = append(toApply, len(changes)), append(applying, obj)
			changes = append(changes, Change{})
		}
	}
	// A few objects at a time (as Flux's ssa.ResourceManager can check
	// drift concurrently): each is a round trip or three to the API server,
	// and with one target changed, most of a run was waiting on reads of
	// the unchanged ones. Each object's apply is on its own; the objects of
	// the changes keep their order.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(applyWorkers, len(toApply)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int(next.Add(1) - 1); k < len(toApply); k = int(next.Add(1) - 1) {
				changes[toApply[k]] = a.applyOne(ctx, applying[k])
			}
		}()
	}
	wg.Wait()
	out.Changes = append(out.Changes, changes...)
	a.prune(ctx, wanted, out)
	return out
}

// ensureNamespace creates a target's namespace when it is missing (in a dry
// run, reports that it would, and that it is missing). Laiki never deletes a
// namespace: other things than Laiki's may live there.
func (a *Applier) ensureNamespace(ctx context.Context, name string, out *Outcome) (missing bool, err error) {
	ns := &corev1.Namespace{}
	err = a.Reader.Get(ctx, client.ObjectKey{Name: name}, ns)
	if err == nil || !apierrors.IsNotFound(err) {
		return false, err
	}
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelManagedBy: "laiki"}}}
	var opts []client.CreateOption
	if a.DryRun {
		opts = append(opts, client.DryRunAll)
	}
	err = a.Client.Create(ctx, ns, opts...)
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	out.Changes = append(out.Changes, Change{Op: OpCreate, APIVersion: "v1", Kind: "Namespace", Name: name, Err: err})
	return a.DryRun && err == nil, err
}

func change(obj *unstructured.Unstructured, op string, err error) Change {
	return Change{Op: op, APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), Err: err}
}

func (o *Object) change(op string, err error) Change {
	return Change{Op: op, APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Err: err}
}

func (a *Applier) applyOne(ctx context.Context, o *Object) Change {
	// The digest of the desired object, once: a ShinyProxy resource holds
	// every app of its target. A dry run remembers nothing and needs none.
	key := o.key()
	var digest [32]byte
	if !a.DryRun {
		digest = o.digest()
	}
	if a.unmoved(ctx, key, digest, o) {
		return o.change(OpUnchanged, nil) // as found in force last time, and nobody wrote since
	}
	obj, err := o.decode()
	if err != nil {
		return o.change(OpUpdate, err)
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	err = a.Reader.Get(ctx, client.ObjectKeyFromObject(obj), live)
	if err == nil {
		a.keep(&a.live, key, observed(live)) // as read before this Apply wrote it (Live)
	}
	op := OpUpdate
	switch {
	case apierrors.IsNotFound(err):
		op, live = OpCreate, nil
	case err != nil:
		return change(obj, OpUpdate, err)
	}
	st, applied := a.appliedAs(key)
	if applied && live != nil && !a.DryRun && st.rv == live.GetResourceVersion() && st.digest == digest {
		return change(obj, OpUnchanged, nil) // as found in force last time, and nobody wrote since
	}
	if !a.DryRun && (live == nil || (applied && st.digest != digest)) {
		// Not there, or rendered otherwise than when it was last found in
		// force: there is something to write, and a dry run first would
		// only say so, at the cost of a server-side apply of the whole
		// object (for a ShinyProxy resource of hundreds of apps, most of
		// the wait of a run that changed one). Should the server find
		// nothing to change after all, it writes nothing and the version
		// stays: unchanged.
		return a.write(ctx, key, digest, obj, resourceVersion(live))
	}
	opts := []client.ApplyOption{client.FieldOwner(FieldManager), client.ForceOwnership}
	// What applying would make of the live object, asked of the server (a
	// server-side dry run, as fluxcd/pkg/ssa does): the fields Laiki owns
	// and no longer sets go, other managers' fields stay. Equal to the live
	// object: nothing to write. Comparing the desired object with the live
	// one instead would miss every removed key.
	probe := obj.DeepCopy()
	err = a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(probe), append(opts, client.DryRunAll)...)
	switch {
	case err != nil:
		return change(obj, op, err)
	case live != nil && SameObject(live, probe):
		a.remember(key, digest, live.GetResourceVersion())
		return change(obj, OpUnchanged, nil)
	case a.DryRun:
		c := change(obj, op, nil)
		c.Diff = Diff(live, probe)
		return c
	}
	return a.write(ctx, key, digest, obj, resourceVersion(live))
}

func resourceVersion(u *unstructured.Unstructured) string {
	if u == nil {
		return ""
	}
	return u.GetResourceVersion()
}

// write applies an object (server-side, forcing Laiki's ownership of the
// fields it sets) over the live version liveVersion ("" when there is none)
// and remembers what it left in force. The server's answer is read into
// obj: the caller is done with it (a copy of an object of hundreds of apps
// is megabytes, and four are written at a time).
func (a *Applier) write(ctx context.Context, key string, digest [32]byte, obj *unstructured.Unstructured, liveVersion string) Change {
	err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldManager), client.ForceOwnership)
	op := OpUpdate
	switch {
	case liveVersion == "":
		op = OpCreate
	case err == nil && obj.GetResourceVersion() == liveVersion:
		op = OpUnchanged // the server found nothing to change
	}
	if err == nil && obj.GetResourceVersion() != "" {
		a.remember(key, digest, obj.GetResourceVersion())
		a.keep(&a.wrote, key, observed(obj))
	}
	return change(obj, op, err)
}

// prune deletes the objects of every kind the workflows make that carry
// Laiki's labels, were applied by Laiki's field manager, and are no longer
// wanted.
func (a *Applier) prune(ctx context.Context, wanted map[string]bool, out *Outcome) {
	for _, k := range workflow.Kinds() {
		apiVersion, kind, _ := strings.Cut(k, " ")
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			continue
		}
		items, err := a.listMade(ctx, gv.WithKind(kind))
		if meta.IsNoMatchError(err) {
			continue // the cluster does not serve the kind: nothing of it to prune
		}
		if err != nil {
			out.Changes = append(out.Changes, Change{Op: OpPrune, APIVersion: apiVersion, Kind: kind, Name: "*", Err: fmt.Errorf("listing: %w", err)})
			continue
		}
		for _, obj := range items {
			if wanted[objectKey(obj)] || !appliedBy(obj, FieldManager) {
				continue
			}
			var opts []client.DeleteOption
			if a.DryRun {
				opts = append(opts, client.DryRunAll)
			}
			err := a.Client.Delete(ctx, obj, append(opts, client.PropagationPolicy(metav1.DeletePropagationBackground))...)
			if apierrors.IsNotFound(err) {
				continue
			}
			c := change(obj, OpPrune, err)
			if a.DryRun {
				c.Diff = Diff(obj, nil)
			}
			out.Changes = append(out.Changes, c)
		}
	}
}

// listMade lists the objects of a kind that this instance made. Outside a
// dry run only their metadata is fetched (all that prune needs: names,
// labels, managed fields): a ShinyProxy resource with hundreds of apps is
// large, and this runs on every reconcile.
func (a *Applier) listMade(ctx context.Context, gvk schema.GroupVersionKind) ([]*unstructured.Unstructured, error) {
	if len(a.Namespaces) == 0 {
		return a.listMadeIn(ctx, gvk, "")
	}
	var out []*unstructured.Unstructured
	for _, ns := range a.Namespaces {
		made, err := a.listMadeIn(ctx, gvk, ns)
		if err != nil {
			return nil, err
		}
		out = append(out, made...)
	}
	return out, nil
}

// listMadeIn is listMade in one namespace ("" all).
func (a *Applier) listMadeIn(ctx context.Context, gvk schema.GroupVersionKind, ns string) ([]*unstructured.Unstructured, error) {
	labels := client.MatchingLabels{LabelManagedBy: "laiki", LabelInstance: a.instance()}
	opts := []client.ListOption{labels}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	var out []*unstructured.Unstructured
	if a.DryRun { // the whole objects, for the diffs of what would be pruned
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := a.Reader.List(ctx, list, opts...); err != nil {
			return nil, err
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
		return out, nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := a.Reader.List(ctx, list, opts...); err != nil {
		return nil, err
	}
	for _, item := range list.Items {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		u.SetNamespace(item.Namespace)
		u.SetName(item.Name)
		u.SetLabels(item.Labels)
		// Who applied, not which fields: the field sets of a ShinyProxy
		// resource of hundreds of apps are most of its metadata, and
		// converting them was a fifth of the CPU of a reconcile that
		// changed one app.
		managers := make([]metav1.ManagedFieldsEntry, len(item.ManagedFields))
		for i, f := range item.ManagedFields {
			managers[i] = metav1.ManagedFieldsEntry{Manager: f.Manager, Operation: f.Operation}
		}
		u.SetManagedFields(managers)
		out = append(out, u)
	}
	return out, nil
}

// appliedBy reports whether a field manager applied (server-side) any
// field of the object.
func appliedBy(obj *unstructured.Unstructured, manager string) bool {
	for _, f := range obj.GetManagedFields() {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// SameObject reports whether two versions of an object are the same but
// for what the server changes on every write (resourceVersion, managed
// fields' times, generation).
func SameObject(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(c.Object, "metadata", "generation")
		return c.Object
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// Diff is a unified diff of an object before and after (either may be nil),
// without the fields the server keeps for itself.
func Diff(before, after *unstructured.Unstructured) string {
	text := func(u *unstructured.Unstructured) (string, string) {
		if u == nil {
			return "", "/dev/null"
		}
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
		for _, f := range []string{"resourceVersion", "uid", "generation", "creationTimestamp"} {
			unstructured.RemoveNestedField(c.Object, "metadata", f)
		}
		unstructured.RemoveNestedField(c.Object, "status")
		b, _ := yaml.Marshal(c.Object)
		name := c.GetKind() + "/" + c.GetName()
		if c.GetNamespace() != "" {
			name = c.GetKind() + "/" + c.GetNamespace() + "/" + c.GetName()
		}
		return string(b), name
	}
	a, an := text(before)
	b, bn := text(after)
	if before != nil {
		an = "live/" + an
	}
	if after != nil {
		bn = "laiki/" + bn
	}
	s, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b), FromFile: an, ToFile: bn, Context: 3,
	})
	return s
}

// Live returns what this Apply read of an object before writing: its
// metadata (without managedFields), status and spec.selector, what the
// checks of whether it serves read (nil when it did not exist or was not
// read). The rest is not kept: a ShinyProxy resource's spec holds every app
// of its target, and would stay in memory until the next run.
func (a *Applier) Live(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	return a.live[keyOf(apiVersion, kind, namespace, name)]
}

// unmoved reports whether obj is what was found in force last time on a
// live object nobody has written since: its resourceVersion, read alone
// (the object's metadata, not the object: a ShinyProxy resource holds every
// app of its target), is the one remembered, and what was read of it then
// is that version's, so it serves the serving check again.
func (a *Applier) unmoved(ctx context.Context, key string, digest [32]byte, o *Object) bool {
	st, ok := a.appliedAs(key)
	last := a.lastLive[key] // written before the objects are applied
	if !ok || a.DryRun || last == nil || last.GetResourceVersion() != st.rv || st.digest != digest {
		return false
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(o.gvk())
	if err := a.Reader.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, meta); err != nil || meta.GetResourceVersion() != st.rv {
		return false
	}
	a.keep(&a.live, key, last)
	return true
}

// observed is the part of a live object Live keeps.
func observed(live *unstructured.Unstructured) *unstructured.Unstructured {
	kept := &unstructured.Unstructured{Object: map[string]any{}}
	for _, k := range []string{"apiVersion", "kind", "metadata", "status"} {
		if v, ok := live.Object[k]; ok {
			kept.Object[k] = v
		}
	}
	if sel, ok, _ := unstructured.NestedFieldNoCopy(live.Object, "spec", "selector"); ok {
		kept.Object["spec"] = map[string]any{"selector": sel}
	}
	if md, ok := kept.Object["metadata"].(map[string]any); ok {
		md = maps.Clone(md)
		delete(md, "managedFields")
		kept.Object["metadata"] = md
	}
	return kept
}
