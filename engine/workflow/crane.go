package workflow

import (
	"fmt"
	"path"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
)

// Crane: a Crane server's configuration (Crane's own application.yml keys:
// app, server, spring, logging, ...) plus laiki-storage, the Laiki setting
// that says how app containers reach Crane's storage. Laiki removes
// laiki-storage from the configuration it renders for Crane.
func init() {
	types.RegisterTarget(&types.TargetType{
		Name:   "Crane",
		Kind:   "CraneTarget",
		Schema: schema.FromGoType("Crane target", reflect.TypeOf(v1alpha1.CraneTargetSpec{}), ""),
	})
	// Its workflow.
	Register(&Workflow{Name: "ShinyProxyAppToCraneWorkflow", TargetType: "Crane", Makes: []string{"v1 ConfigMap"}, Render: renderCrane,
		Explain: explainCrane})
}

// DataMountPath is where an app's Crane data repository appears in its container.
const DataMountPath = "/mnt/data"

const dataVolumeName = "laiki-crane-data"

// explainCrane: the volume and pod patches that mount an app's data are
// the Crane workflow's, made for its crane-data-repository.
func explainCrane(r *pipeline.Resource, field []string, _ any) string {
	spec, _ := r.Spec.(map[string]any)
	if _, asks := spec["crane-data-repository"]; !asks || (field[0] != "kubernetes-pod-patches" && field[0] != "container-volumes") {
		return ""
	}
	return "crane-data-repository, " + r.Doc.PosOf(document.KeySpec, "crane-data-repository").String()
}

// craneRepo is what an app's crane-data-repository asks for, bound to a Crane target.
type craneRepo struct {
	app      *pipeline.Resource
	crane    *document.Document
	name     string
	readOnly bool
	spec     map[string]any // the crane-data-repository block
}

// craneRepoFor finds the Crane target an app's data repository lives in: the
// one named by crane-data-repository.crane, or the only Crane target of the
// app's namespace. It returns nil, nil when the app asks for none.
func craneRepoFor(c *Context, app *pipeline.Resource) (*craneRepo, *finding.Finding) {
	spec, _ := app.Spec.(map[string]any)
	block, ok := spec["crane-data-repository"].(map[string]any)
	if !ok {
		return nil, nil
	}
	fail := func(format string, args ...any) (*craneRepo, *finding.Finding) {
		f := errorAt(app.Doc, "laiki-spec.crane-data-repository", CheckWorkflow, format, args...)
		f.Resource = app.Key()
		return nil, &f
	}
	cranes := c.Targets(app.Doc.TargetNamespace, "Crane")
	var crane *document.Document
	if want, _ := block["crane"].(string); want != "" {
		for _, t := range cranes {
			if t.Name == want {
				crane = t
			}
		}
		if crane == nil {
			return fail("no Crane target %s in namespace %s for this app's data repository", want, app.Doc.TargetNamespace)
		}
	} else {
		switch len(cranes) {
		case 0:
			return fail("the app asks for a Crane data repository, and namespace %s has no Crane target", app.Doc.TargetNamespace)
		case 1:
			crane = cranes[0]
		default:
			return fail("namespace %s has %d Crane targets: name one with crane-data-repository.crane", app.Doc.TargetNamespace, len(cranes))
		}
	}
	name, _ := block["name"].(string)
	if name == "" {
		name = app.ID
	}
	// A name belongs to the first app that asks for it (by id, then
	// target), or to the platform when Crane's configuration has it.
	craneSpec, _ := crane.Spec.(map[string]any)
	if _, taken := dig(craneSpec, "app", "repositories", name); taken {
		return fail("Crane repository %s is already in the configuration of Crane target %s/%s: give this one another crane-data-repository.name", name, crane.Namespace, crane.Name)
	}
	if owner := c.craneOwner(crane, name); owner != app {
		return fail("Crane repository %s already belongs to %s (%s:%d): give this one another crane-data-repository.name", name, owner.Key(), owner.Doc.File, owner.Doc.Line)
	}
	ro, _ := block["mount-read-only"].(bool)
	return &craneRepo{app: app, crane: crane, name: name, readOnly: ro, spec: block}, nil
}

// craneOwner returns the app that owns a repository name in a Crane target:
// the claim of the source that owns the name (pipeline.Result.Owners: the
// source whose app the platform accepted with it first), else the app whose
// own id is the name (the name it gets by default), else the first app
// that asks for it by id. So a team cannot take another team's repository
// by naming it, whatever its ids sort like.
func (c *Context) craneOwner(crane *document.Document, name string) *pipeline.Resource {
	owner := c.craneOwnerOf(crane, name)
	if c.asked != nil {
		printOf := func(owner *pipeline.Resource) string {
			if owner == nil {
				return "none"
			}
			return resourcesPrint([]*pipeline.Resource{owner})
		}
		c.asked.note(printOf(owner), func(c *Context) string { return printOf(c.craneOwnerOf(crane, name)) })
	}
	return owner
}

func (c *Context) craneOwnerOf(crane *document.Document, name string) *pipeline.Resource {
	if c.craneOwners == nil {
		c.craneOwners = map[string]*pipeline.Resource{}
		rank := map[string]int{}
		for _, r := range c.accepted { // sorted by id, then target
			spec, _ := r.Spec.(map[string]any)
			block, ok := spec["crane-data-repository"].(map[string]any)
			if !ok {
				continue
			}
			n, _ := block["name"].(string)
			if n == "" {
				n = r.ID
			}
			// The owner is keyed by namespace: every Crane target an app
			// could reach is in its namespace.
			key := r.Doc.TargetNamespace + "\x00" + n
			score := 1
			switch {
			case c.result.Owners[pipeline.CraneClaim(r.Doc.TargetNamespace, n)] == r.Doc.Source.Name:
				score = 3
			case r.ID == n:
				score = 2
			}
			if score > rank[key] {
				c.craneOwners[key], rank[key] = r, score
			}
		}
	}
	return c.craneOwners[crane.Namespace+"\x00"+name]
}

func dig(v any, path ...string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// renderCrane writes Crane's configuration: the platform's, less Laiki's
// laiki-storage, with a repository under app.repositories for every app that
// asks for one, with its read and write access. A ConfigMap carries it.
func renderCrane(c *Context, t *document.Document, out *Target, _ *Desired) []finding.Finding {
	var fs []finding.Finding
	cfg := out.Config.Node
	remove(cfg, "laiki-storage")
	app := get(cfg, "app")
	if app == nil || app.Kind != yaml.MappingNode {
		app = mapping()
		set(cfg, "app", app)
	}
	repos := get(app, "repositories")
	if repos == nil || repos.Kind != yaml.MappingNode {
		repos = mapping()
		set(app, "repositories", repos)
	}
	for _, r := range c.InNamespace(t.Namespace, "ShinyProxyApp") {
		repo, _ := craneRepoFor(c, r) // the ShinyProxy workflow reports failures, once
		if repo == nil || repo.crane != t {
			continue
		}
		entry := mapping()
		for _, k := range []string{"read-access", "write-access"} {
			if access, ok := repo.spec[k].(map[string]any); ok {
				set(entry, k, node(access))
			}
		}
		set(repos, repo.name, entry)
	}
	out.ConfigFile = "application.yml"
	var text strings.Builder
	enc := yaml.NewEncoder(&text)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		fs = append(fs, errorAt(t, "laiki-spec", CheckWorkflow, "Crane configuration: %v", err))
	}
	out.Objects = append(out.Objects, Ordered{mapping(
		"apiVersion", "v1",
		"kind", "ConfigMap",
		"metadata", mapping("name", KubeName(t.Name)+"-config", "namespace", KubeNamespace(t), "labels", managedLabels(t, "crane")),
		"data", mapping("application.yml", text.String()),
	)})
	if pvc := craneClaim(t); pvc != nil {
		out.Objects = append(out.Objects, Ordered{pvc})
	}
	return fs
}

// laikiStorage is one backend's block (kubernetes, docker) of a Crane
// target's laiki-storage.
func laikiStorage(crane *document.Document, backend string) map[string]any {
	spec, _ := crane.Spec.(map[string]any)
	storage, _ := spec["laiki-storage"].(map[string]any)
	block, _ := storage[backend].(map[string]any)
	return block
}

// craneClaimName is the claim that holds a Crane target's storage.
func craneClaimName(crane *document.Document) string {
	if claim, _ := laikiStorage(crane, "kubernetes")["persistent-volume-claim"].(string); claim != "" {
		return claim
	}
	return KubeName(crane.Name) + "-storage"
}

// craneClaim is the PersistentVolumeClaim for a Crane target's storage, when
// laiki-storage.kubernetes.claim asks Laiki to make it. Its kind is not in
// the workflow's Makes: Laiki never prunes a claim, which holds the data.
func craneClaim(t *document.Document) *yaml.Node {
	k8s := laikiStorage(t, "kubernetes")
	claim, ok := k8s["claim"].(map[string]any)
	if !ok || k8s["csi"] != nil {
		return nil
	}
	spec := mapping("accessModes", []any{"ReadWriteMany"})
	if class, _ := claim["storage-class-name"].(string); class != "" {
		set(spec, "storageClassName", node(class))
	}
	set(spec, "resources", mapping("requests", mapping("storage", fmt.Sprint(claim["size"]))))
	return mapping(
		"apiVersion", "v1",
		"kind", "PersistentVolumeClaim",
		"metadata", mapping("name", craneClaimName(t), "namespace", KubeNamespace(t), "labels", managedLabels(t, "crane-storage")),
		"spec", spec,
	)
}

// mountCraneRepo adds the repository's storage to the app node as the
// ShinyProxy container backend needs it: a pod patch on Kubernetes, a bind
// mount on Docker. Laiki's own patch is trusted; the baseline still refuses
// pod patches and host paths written by teams.
func mountCraneRepo(app *yaml.Node, repo *craneRepo, backend string) *finding.Finding {
	fail := func(format string, args ...any) *finding.Finding {
		f := errorAt(repo.app.Doc, "laiki-spec.crane-data-repository", CheckWorkflow, format, args...)
		f.Resource = repo.app.Key()
		return &f
	}
	if backend == "kubernetes" {
		return mountOnKubernetes(app, repo, fail)
	}
	return mountOnDocker(app, repo, backend, fail) // docker and docker-swarm
}

// The pod's lists that Laiki's patch adds the data volume and its mount to.
const (
	podVolumes = "/spec/volumes"
	podMounts  = "/spec/containers/0/volumeMounts"
)

// mountOnKubernetes appends to the app's kubernetes-pod-patches the ops
// that add the data volume and its mount, after the app's own ops (which
// ShinyProxy applies in order, before kubernetes-authorized-pod-patches).
func mountOnKubernetes(app *yaml.Node, repo *craneRepo, fail func(string, ...any) *finding.Finding) *finding.Finding {
	earlier, err := earlierPodPatches(app)
	if err != nil {
		return fail("kubernetes-pod-patches is not a YAML list of patches, so the data volume cannot be added: %v", err)
	}
	// Only what Laiki knows decides whether a list is there to append to:
	// container-volumes (from which ShinyProxy makes both lists) and the
	// earlier ops. A list that exists must be appended to, as a whole array
	// would replace it; one that does not must be created, as appending to
	// it fails and the app does not start.
	made := hasContainerVolumes(app)
	ops := append(earlier,
		addToList(podVolumes, listExistsAfter(podVolumes, made, earlier), craneVolume(repo)),
		addToList(podMounts, listExistsAfter(podMounts, made, earlier), craneMount(repo)))
	text, err := yaml.Marshal(ops)
	if err != nil {
		return fail("pod patch: %v", err)
	}
	set(app, "kubernetes-pod-patches", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(text), Style: yaml.LiteralStyle})
	return nil
}

// craneVolume is the pod volume of the Crane target's storage: its CSI
// volume, else its claim.
func craneVolume(repo *craneRepo) map[string]any {
	volume := map[string]any{"name": dataVolumeName}
	if csi, ok := laikiStorage(repo.crane, "kubernetes")["csi"].(map[string]any); ok {
		src := map[string]any{"driver": csi["driver"], "readOnly": repo.readOnly}
		if attrs, ok := csi["volume-attributes"].(map[string]any); ok {
			src["volumeAttributes"] = attrs
		}
		volume["csi"] = src
	} else {
		volume["persistentVolumeClaim"] = map[string]any{"claimName": craneClaimName(repo.crane), "readOnly": repo.readOnly}
	}
	return volume
}

// craneMount mounts the repository's own directory of the storage, and
// only it, at /mnt/data.
func craneMount(repo *craneRepo) map[string]any {
	return map[string]any{"name": dataVolumeName, "mountPath": DataMountPath, "subPath": repo.name, "readOnly": repo.readOnly}
}

// earlierPodPatches are the ops the app's kubernetes-pod-patches (its own,
// or a pre-processor's) already hold: ShinyProxy reads them as YAML.
func earlierPodPatches(app *yaml.Node) ([]any, error) {
	n := get(app, "kubernetes-pod-patches")
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("ShinyProxy reads it as a string") // its value would be lost
	}
	var ops []any
	if err := yaml.Unmarshal([]byte(n.Value), &ops); err != nil {
		return nil, err
	}
	return ops, nil
}

// hasContainerVolumes says whether ShinyProxy gives the pod volumes and
// mounts of its own: one per container-volumes entry (a list, as the
// ShinyProxyApp schema has it).
func hasContainerVolumes(app *yaml.Node) bool {
	v := get(app, "container-volumes")
	return v != nil && len(v.Content) > 0
}

// addToList is the op that adds item to the list at pointer list: appended
// when the list exists, else the list made with item alone.
func addToList(list string, exists bool, item any) map[string]any {
	if exists {
		return map[string]any{"op": "add", "path": list + "/-", "value": item}
	}
	return map[string]any{"op": "add", "path": list, "value": []any{item}}
}

// listExistsAfter says whether the list at pointer list is there after ops,
// given whether it was before them. Only an op at the list or at one of its
// parents changes that (an op inside it needs it there already, or fails
// on its own).
func listExistsAfter(list string, before bool, ops []any) bool {
	exists := before
	for _, o := range ops {
		op, _ := o.(map[string]any)
		kind, _ := op["op"].(string)
		path, _ := op["path"].(string)
		if from, _ := op["from"].(string); kind == "move" && pointerCovers(from, list) {
			exists = false
		}
		if !pointerCovers(path, list) {
			continue
		}
		switch kind {
		case "remove":
			exists = false // or, for a container, another one in its place: unknown, so none
		case "add", "replace":
			exists = isListAt(op["value"], strings.TrimPrefix(list, path))
		case "copy", "move":
			// A part of the pod Laiki does not see: taken to be the list, so
			// that a wrong guess fails the app's start, where ShinyProxy
			// says so, rather than drop a volume without a word.
			exists = true
		}
	}
	return exists
}

// pointerCovers says whether an op at path sets or removes what is at pointer
// target: path is target or one of its parents.
func pointerCovers(path, target string) bool {
	return path == target || strings.HasPrefix(target, path+"/")
}

// isListAt says whether v holds a list at the relative pointer rel.
func isListAt(v any, rel string) bool {
	for _, tok := range strings.Split(rel, "/")[1:] {
		switch c := v.(type) {
		case map[string]any:
			v = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return false
			}
			v = c[i]
		default:
			return false
		}
	}
	_, ok := v.([]any)
	return ok
}

// mountOnDocker bind-mounts the repository's directory of the Crane
// target's host directory through container-volumes.
func mountOnDocker(app *yaml.Node, repo *craneRepo, backend string, fail func(string, ...any) *finding.Finding) *finding.Finding {
	host, _ := laikiStorage(repo.crane, "docker")["host-path"].(string)
	if host == "" {
		spec, _ := repo.crane.Spec.(map[string]any)
		craneApp, _ := spec["app"].(map[string]any)
		if loc, _ := craneApp["storage-location"].(string); strings.HasPrefix(loc, "/") {
			host = loc
		}
	}
	if host == "" {
		return fail("Crane target %s/%s says no host directory for its storage (laiki-storage.docker.host-path), so the data repository cannot be mounted on %s", repo.crane.Namespace, repo.crane.Name, backend)
	}
	bind := path.Join(host, repo.name) + ":" + DataMountPath
	if repo.readOnly {
		bind += ":ro"
	}
	vols := get(app, "container-volumes")
	if vols == nil {
		vols = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		set(app, "container-volumes", vols)
	}
	vols.Content = append(vols.Content, str(bind))
	return nil
}

// containerBackend reads ShinyProxy's backend, in either spelling ShinyProxy accepts.
func containerBackend(target *document.Document) string {
	spec, _ := target.Spec.(map[string]any)
	proxy, _ := spec["proxy"].(map[string]any)
	for _, k := range []string{"container-backend", "containerBackend"} {
		if b, ok := proxy[k].(string); ok && b != "" {
			return strings.ToLower(b)
		}
	}
	return "docker"
}
