package chart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/test/gittest"
)

// output collects a process's stderr for the test to search.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// kubeconfigFor writes a kubeconfig of a user of the test API server.
func kubeconfigFor(t *testing.T, name string, groups ...string) (string, client.Client) {
	t.Helper()
	user, err := env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(file, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(user.Config(), client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return file, c
}

// freePort is a free TCP port on 127.0.0.1.
var freePort = gittest.FreePort

// The README's path, on a real API server: helm install (the rendered
// chart, every object applied), the operator running as the chart's
// Deployment runs it (its arguments and environment, as the chart's
// ServiceAccount under the chart's RBAC), the platform and a team in Git,
// and then a first app from Git and one from kubectl appear in ShinyProxy;
// the webhook, with the certificate the operator made, refuses what the
// chart's policies refuse.
func TestInstallToFirstApp(t *testing.T) {
	const ns = "laiki-system"
	// The example platform's namespace: its targets' objects, and the
	// Laiki objects teams apply with kubectl, are there.
	const spNamespace = "shinyproxy"
	root := t.TempDir()

	// Step 1 of the README: the platform repository and a team's.
	platform := map[string]string{}
	for _, f := range []string{"shinyproxy.yaml", "app-defaults.yaml", "pre-puller.yaml"} {
		b, err := os.ReadFile(filepath.Join(repo, "examples", "platform", f))
		if err != nil {
			t.Fatal(err)
		}
		platform[f] = string(b)
	}
	gittest.Repo(t, root, "platform", platform)
	demo, err := os.ReadFile(filepath.Join(repo, "examples", "apps", "shinyproxy-demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	gittest.Repo(t, root, "team", map[string]string{"apps/shinyproxy-demo.yaml": string(demo)})
	daemon, _ := gittest.Daemon(t, root)

	// Step 2: values and helm install.
	values := fmt.Sprintf(`sources:
  - name: platform
    role: platform
    git: {url: %[1]s/platform.git, ref: main}
  - name: team-a
    git: {url: %[1]s/team.git, ref: main}
    allow: {resource-types: [ShinyProxyApp], target-namespaces: [shinyproxy]}
    subjects: {groups: [team-a]}
namespaces: [%[2]s]
interval: 2s
policies:
  registry.rego: |
    package laiki.governance.registry

    deny contains {"msg": "images from Docker Hub must be mirrored first", "field": ["container-image"]} if {
    	startswith(input["laiki-spec"]["container-image"], "docker.io/")
    }
`, daemon, spNamespace)
	// The targets' namespace exists: with namespaces set, Laiki may write
	// there and make none.
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: spNamespace}}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	valuesFile := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(valuesFile, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := render(t, ns, "-f", valuesFile)
	webhookPort := freePort(t)
	for _, o := range objs {
		if strings.HasSuffix(o.GetKind(), "WebhookConfiguration") {
			reachByURL(t, o, webhookPort)
		}
	}
	applyAll(t, objs, ns)

	// The operator, as the chart's Deployment runs it.
	var d appsv1.Deployment
	into(t, find(objs, "Deployment", "laiki"), &d)
	var cfg corev1.ConfigMap
	into(t, find(objs, "ConfigMap", "laiki-config"), &cfg)
	kubeconfig, _ := kubeconfigFor(t, "system:serviceaccount:"+ns+":"+d.Spec.Template.Spec.ServiceAccountName, "system:serviceaccounts", "system:serviceaccounts:"+ns)
	stderr := startOperator(t, d.Spec.Template.Spec.Containers[0], cfg.Data["laiki.yaml"], kubeconfig, ns, webhookPort)

	// Step 3: the first app appears in ShinyProxy.
	eventually(t, 60*time.Second, func() bool { return strings.Contains(appIDs(spNamespace), "shinyproxy-demo") }, func() string {
		return "apps " + appIDs(spNamespace) + "\noperator:\n" + tail(stderr.String())
	})

	// The operator's certificate is in both webhook configurations.
	eventually(t, 20*time.Second, func() bool {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		return admin.Get(ctx, client.ObjectKey{Name: "laiki"}, m) == nil && len(m.Webhooks[0].ClientConfig.CABundle) > 0 &&
			admin.Get(ctx, client.ObjectKey{Name: "laiki"}, v) == nil && len(v.Webhooks[0].ClientConfig.CABundle) > 0
	}, func() string { return "no CA bundle injected\n" + tail(stderr.String()) })

	// Step 4: a team applies an app with kubectl, as editors of the namespace
	// (the chart's laiki-edit role, aggregated to edit).
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team-a-edit", Namespace: spNamespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "laiki-edit"},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "team-a"}}}
	if err := admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	_, alice := kubeconfigFor(t, "alice", "team-a")
	app := appObject(t, "from-kubectl", "registry.example.com/team/from-kubectl:1")
	eventually(t, 20*time.Second, func() bool { return alice.Create(ctx, app.DeepCopy()) == nil }, func() string {
		return fmt.Sprint(alice.Create(ctx, app.DeepCopy()))
	})
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(app.GroupVersionKind())
	if err := admin.Get(ctx, client.ObjectKeyFromObject(app), stored); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := unstructured.NestedString(stored.Object, "spec", "container-memory-limit"); v == "" {
		t.Errorf("the mutating webhook did not apply the platform's defaults: %v", stored.Object["spec"])
	}
	eventually(t, 30*time.Second, func() bool { return strings.Contains(appIDs(spNamespace), "from-kubectl") }, func() string { return appIDs(spNamespace) })

	// The chart's policies decide through the webhook.
	err = alice.Create(ctx, appObject(t, "hub", "docker.io/someone/hub:1"))
	if err == nil || !strings.Contains(err.Error(), "images from Docker Hub must be mirrored first") {
		t.Errorf("the chart's policy must refuse this app: %v", err)
	}

	// What the operator keeps: the lease, the status, the accepted versions.
	lease := &coordinationv1.Lease{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "laiki-operator"}, lease); err != nil {
		t.Errorf("leader election lease: %v", err)
	}
	for _, name := range []string{reconcile.StatusConfigMap, reconcile.AcceptedConfigMap} {
		eventually(t, 10*time.Second, func() bool {
			return admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{}) == nil
		}, func() string { return "no ConfigMap " + name })
	}
	if strings.Contains(strings.ToLower(stderr.String()), "forbidden") {
		t.Errorf("the operator was refused something by the chart's RBAC:\n%s", grep(stderr.String(), "forbidden"))
	}
}

// reachByURL points a webhook configuration at the operator on 127.0.0.1:
// the test's API server has no Service network. Everything else (rules,
// the CA bundle the operator injects) is the chart's.
func reachByURL(t *testing.T, o *unstructured.Unstructured, port int) {
	t.Helper()
	hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
	for i, h := range hooks {
		m := h.(map[string]any)
		cc := m["clientConfig"].(map[string]any)
		svc := cc["service"].(map[string]any)
		delete(cc, "service")
		cc["url"] = fmt.Sprintf("https://localhost:%d%s", port, svc["path"])
		hooks[i] = m
	}
	if err := unstructured.SetNestedSlice(o.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// startOperator runs the laiki binary with the container's arguments and
// environment, as the kubelet would (with $(VAR) expanded), and the
// files and addresses of the pod put where a test process can have them.
func startOperator(t *testing.T, c corev1.Container, laikiYAML, kubeconfig, ns string, webhookPort int) *output {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "laiki.yaml"), []byte(laikiYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var environ []string
	for _, e := range c.Env {
		switch {
		case e.Value != "":
			vars[e.Name] = e.Value
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			vars[e.Name] = ns
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			// A Secret the chart made (the push secret), read as kubelet would.
			sec := &corev1.Secret{}
			if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: e.ValueFrom.SecretKeyRef.Name}, sec); err != nil {
				t.Fatalf("env %s: %v", e.Name, err)
			}
			vars[e.Name] = string(sec.Data[e.ValueFrom.SecretKeyRef.Key])
		default:
			t.Fatalf("env %s: the test does not know where it comes from", e.Name)
		}
	}
	vars["HOME"] = dir
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	replace := map[string]string{
		"--config":                    filepath.Join(dir, "laiki.yaml"),
		"--cache-dir":                 filepath.Join(dir, "cache"),
		"--cert-dir":                  filepath.Join(dir, "certs"),
		"--port":                      fmt.Sprint(webhookPort),
		"--metrics-bind-address":      fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--health-probe-bind-address": fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--push-bind-address":         fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	var args []string
	for _, a := range c.Args {
		a = envRef.ReplaceAllStringFunc(a, func(ref string) string { return vars[envRef.FindStringSubmatch(ref)[1]] })
		if name, _, ok := strings.Cut(a, "="); ok {
			if v, ok := replace[name]; ok {
				a = name + "=" + v
			}
		}
		args = append(args, a)
	}
	args = append(args, "--kubeconfig="+kubeconfig, "--host=127.0.0.1", "--webhook-cert-names=localhost")
	cmd := exec.Command(laiki, args...)
	cmd.Env = append(os.Environ(), environ...)
	out := &output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	t.Logf("laiki %s", strings.Join(args, " "))
	return out
}

// appObject is a ShinyProxyApp object for the example ShinyProxy target.
func appObject(t *testing.T, id, image string) *unstructured.Unstructured {
	t.Helper()
	text := "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: shinyproxy\n  target-namespace: shinyproxy\nlaiki-spec:\n  id: " + id + "\n  container-image: " + image + "\n"
	parsed := document.Parse(document.SourceRef{Name: "test", Role: "team"}, "app.yaml", []byte(text), document.DefaultLimits)
	if len(parsed.Documents) != 1 {
		t.Fatal(parsed.Findings)
	}
	obj, err := kube.ToObject(parsed.Documents[0])
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// appIDs lists the app ids of every ShinyProxy resource in a namespace.
func appIDs(namespace string) string {
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("openanalytics.eu/v1")
	list.SetKind("ShinyProxyList")
	if err := admin.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return err.Error()
	}
	var ids []string
	for _, sp := range list.Items {
		specs, _, _ := unstructured.NestedSlice(sp.Object, "spec", "proxy", "specs")
		for _, s := range specs {
			if m, ok := s.(map[string]any); ok {
				ids = append(ids, fmt.Sprint(m["id"]))
			}
		}
	}
	return strings.Join(ids, ",")
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func grep(s, part string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), part) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
