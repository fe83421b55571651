package operator

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/test/ecrserver"
	"github.com/laiki-platform/laiki/test/gittest"
)

const ecrRegion = "eu-west-1"

// awsEnv points the AWS SDK's default chain at the test ECR server, and
// nowhere else (no shared files, no instance metadata).
func awsEnv(srv *ecrserver.Server, secret string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + ecrserver.AccessKey, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_REGION=" + ecrRegion,
		"AWS_ENDPOINT_URL_ECR=" + srv.URL, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
}

// startECR starts an ECR wire-protocol server for a test and points the
// AWS SDK of this process at it.
func startECR(t *testing.T) *ecrserver.Server {
	t.Helper()
	srv, err := ecrserver.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for _, kv := range awsEnv(srv, ecrserver.SecretKey) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv
}

// ecrPlatform is a platform whose ShinyProxy target makes ECR repositories
// under team-a/, with a lifecycle policy, and a team source with the files.
func ecrPlatform(t *testing.T, ns string, repos ...string) (cfgFile, teamDir string) {
	t.Helper()
	return ecrPlatformWith(t, ns, ecrLifecycle, repos...)
}

// ecrLifecycle is laiki-ecr's lifecycle policy in the tests' platforms.
const ecrLifecycle = "    lifecycle-policy:\n      rules:\n        - rulePriority: 1\n          selection: {tagStatus: untagged, countType: sinceImagePushed, countUnit: days, countNumber: 14}\n          action: {type: expire}\n"

// ecrPlatformWith is ecrPlatform with other laiki-ecr keys (indented 4).
func ecrPlatformWith(t *testing.T, ns, settings string, repos ...string) (cfgFile, teamDir string) {
	t.Helper()
	dir := t.TempDir()
	writeEcrTarget(t, filepath.Join(dir, "platform"), ns, settings)
	teamDir = filepath.Join(dir, "team")
	files := map[string]string{}
	for _, r := range repos {
		files[r+".yaml"] = ecrFile(ns, r)
	}
	gittest.Write(t, teamDir, files)
	cfgFile = filepath.Join(dir, "laiki.yaml")
	text := "sources:\n  - {name: platform, path: platform, role: platform}\n  - name: team-a\n    path: team\n    allow: {target-namespaces: [" + ns + "]}\n"
	if err := os.WriteFile(cfgFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgFile, teamDir
}

// writeEcrTarget writes (or rewrites) the platform's ShinyProxy target with
// these laiki-ecr keys under name-prefix team-a/.
func writeEcrTarget(t *testing.T, dir, ns, settings string) {
	t.Helper()
	gittest.Write(t, dir, map[string]string{"shinyproxy.yaml": "laiki-metadata:\n  target-type: ShinyProxy\n  name: apps\n  namespace: " + ns +
		"\nlaiki-spec:\n  fqdn: apps.example.com\n  proxy:\n    title: Apps\n  laiki-ecr:\n    name-prefix: team-a/\n" + settings})
}

func ecrFile(ns, name string) string {
	return "laiki-metadata:\n  resource-type: AwsEcrRepository\n  target-name: apps\n  target-namespace: " + ns + "\nlaiki-spec:\n  name: " + name + "\n"
}

func runWithEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(laiki, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// writeCalls counts the calls that change something in ECR.
func writeCalls(srv *ecrserver.Server) int {
	n := 0
	for op, c := range srv.Calls() {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "Get") && !strings.HasPrefix(op, "List") {
			n += c
		}
	}
	return n
}

// `laiki apply` makes the ECR repositories through the real AWS SDK
// speaking ECR's wire protocol (signed with SigV4) to the test server:
// created with the enforced settings, an existing one adopted, drift set
// back to IMMUTABLE, nothing written when nothing changed, a removed
// resource's repository kept and tagged as orphaned, a throttling storm
// and server errors waited out, a name that the platform's prefix makes
// invalid refused before any call, bad credentials refused by the server;
// and `laiki ecr report` shows the evidence.
func TestEcrThroughApply(t *testing.T) {
	srv, err := ecrserver.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	env := awsEnv(srv, ecrserver.SecretKey)
	const ns = "team-ecr"
	cfg, team := ecrPlatform(t, ns, "app-one", "app-two", "app-three")
	// app-three exists already, made by hand and mutable.
	srv.Put(ecrserver.Repository{Name: "team-a/app-three", Region: ecrRegion, TagMutability: "MUTABLE", EncryptionType: "AES256", Tags: map[string]string{"owner": "someone"}})
	apply := func(extra ...string) result {
		return runWithEnv(t, env, append([]string{"apply", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(), "--instance", "ecr", "--aws-max-backoff", "100ms"}, extra...)...)
	}

	dry := apply("--dry-run")
	if dry.code != 1 || !strings.Contains(dry.stdout, "would be created AwsEcrRepository team-a/app-one") || !strings.Contains(dry.stdout, "failed AwsEcrRepository team-a/app-three") ||
		srv.Repo(ecrRegion, "team-a/app-one") != nil {
		t.Fatalf("dry run: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	if n := writeCalls(srv); n != 0 {
		t.Fatalf("the dry run made %d writes to ECR: %v", n, srv.Calls())
	}

	// app-three was made outside Laiki: not taken over, an error that says
	// how to adopt it; the others are made.
	refused := apply()
	if refused.code != 1 || !strings.Contains(refused.stdout, "failed AwsEcrRepository team-a/app-three: repository team-a/app-three exists and Laiki did not create it") {
		t.Fatalf("apply with a repository made outside Laiki: exit %d\n%s%s", refused.code, refused.stdout, refused.stderr)
	}
	if r := srv.Repo(ecrRegion, "team-a/app-three"); r.TagMutability != "MUTABLE" || len(r.Tags) != 1 {
		t.Fatalf("the repository made outside Laiki was touched: %+v", r)
	}
	// The platform adopts every repository it is asked for.
	writeEcrTarget(t, filepath.Join(filepath.Dir(cfg), "platform"), ns, ecrLifecycle+"    adopt: always\n")
	first := apply()
	if first.code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	for _, want := range []string{"unchanged AwsEcrRepository team-a/app-one", "unchanged AwsEcrRepository team-a/app-two", "adopted AwsEcrRepository team-a/app-three"} {
		if !strings.Contains(first.stdout+refused.stdout, want) {
			t.Errorf("apply output lacks %q:\n%s", want, first.stdout)
		}
	}
	for _, name := range []string{"team-a/app-one", "team-a/app-two", "team-a/app-three"} {
		r := srv.Repo(ecrRegion, name)
		if r == nil {
			t.Fatalf("no repository %s", name)
		}
		if r.TagMutability != "IMMUTABLE" || !r.ScanOnPush || r.EncryptionType != "AES256" || !strings.Contains(r.LifecyclePolicy, "expire") ||
			r.Tags["app.kubernetes.io/managed-by"] != "laiki" || r.Tags["laiki.io/instance"] != "ecr" || !strings.HasPrefix(r.Tags["laiki.io/resource"], "AwsEcrRepository "+ns+"/apps/") {
			t.Errorf("%s is not as the platform wants it: %+v", name, r)
		}
	}
	if r := srv.Repo(ecrRegion, "team-a/app-three"); r.Tags["owner"] != "someone" {
		t.Errorf("adoption dropped the repository's own tags: %v", r.Tags)
	}

	// Nothing changed: no write to ECR.
	before := writeCalls(srv)
	again := apply()
	if again.code != 0 || strings.Count(again.stdout, "unchanged AwsEcrRepository") != 3 {
		t.Errorf("second apply: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	if n := writeCalls(srv) - before; n != 0 {
		t.Errorf("an apply with nothing to change made %d writes to ECR", n)
	}

	// Drift, out of band, during a throttling storm with server errors.
	srv.Change(ecrRegion, "team-a/app-one", func(r *ecrserver.Repository) { r.TagMutability = "MUTABLE" })
	srv.Throttle(6)
	srv.Fail(2)
	drift := apply()
	if drift.code != 0 || !strings.Contains(drift.stdout, "corrected AwsEcrRepository team-a/app-one; tag mutability MUTABLE set back to IMMUTABLE") {
		t.Errorf("apply after drift: exit %d\n%s%s", drift.code, drift.stdout, drift.stderr)
	}
	if r := srv.Repo(ecrRegion, "team-a/app-one"); r.TagMutability != "IMMUTABLE" {
		t.Errorf("app-one is %s after the apply", r.TagMutability)
	}

	// A resource removed: its repository stays, tagged as orphaned.
	if err := os.Remove(filepath.Join(team, "app-two.yaml")); err != nil {
		t.Fatal(err)
	}
	gone := apply()
	if gone.code != 0 || !strings.Contains(gone.stdout, "orphaned AwsEcrRepository team-a/app-two") {
		t.Errorf("apply without app-two: exit %d\n%s%s", gone.code, gone.stdout, gone.stderr)
	}
	if r := srv.Repo(ecrRegion, "team-a/app-two"); r == nil || r.Tags["laiki.io/orphaned"] == "" {
		t.Errorf("app-two was not kept as an orphan: %+v", r)
	}

	// The evidence.
	rep := runWithEnv(t, env, "ecr", "report", "--config", cfg, "--cache-dir", t.TempDir(), "--instance", "ecr", "--kubeconfig", kubeconfig, "-o", "json")
	if rep.code != 0 {
		t.Fatalf("ecr report: exit %d\n%s%s", rep.code, rep.stdout, rep.stderr)
	}
	var report []reconcile.EcrRecord
	if err := json.Unmarshal([]byte(rep.stdout), &report); err != nil {
		t.Fatalf("%v\n%s", err, rep.stdout)
	}
	if len(report) != 3 {
		t.Fatalf("report: %+v", report)
	}
	for _, r := range report {
		if !r.Compliant || r.TagMutability != "IMMUTABLE" || r.LifecyclePolicy == "" || r.VerifiedAt.IsZero() || (r.Name == "team-a/app-two") != (r.Orphaned != "") ||
			r.Managed != map[bool]string{true: "adopted", false: "created"}[r.Name == "team-a/app-three"] || r.File == "" && r.Name != "team-a/app-two" {
			t.Errorf("report entry: %+v", r)
		}
	}
	table := runWithEnv(t, env, "ecr", "report", "--config", cfg, "--cache-dir", t.TempDir(), "--instance", "ecr", "--kubeconfig", kubeconfig)
	if table.code != 0 || !strings.Contains(table.stdout, "REPOSITORY") || !strings.Contains(table.stdout, "team-a/app-one") {
		t.Errorf("ecr report table: exit %d\n%s%s", table.code, table.stdout, table.stderr)
	}
	srv.Change(ecrRegion, "team-a/app-three", func(r *ecrserver.Repository) { r.TagMutability = "MUTABLE" })
	if bad := runWithEnv(t, env, "ecr", "report", "--config", cfg, "--cache-dir", t.TempDir(), "--instance", "ecr", "--kubeconfig", kubeconfig); bad.code != 1 {
		t.Errorf("a report with a mutable repository: exit %d, want 1\n%s", bad.code, bad.stdout)
	}
	if srv.Rejected() != 0 {
		t.Errorf("the server refused %d signatures of the SDK", srv.Rejected())
	}

	// A name the platform's prefix makes too long is refused before any call.
	long := "a" + strings.Repeat("b", 250)
	gittest.Write(t, team, map[string]string{"long.yaml": ecrFile(ns, long)})
	calls := srv.Calls()["CreateRepository"]
	tooLong := apply()
	if tooLong.code != 1 || !strings.Contains(tooLong.stderr, "with the platform's name prefix") {
		t.Errorf("a name too long with the prefix: exit %d\n%s%s", tooLong.code, tooLong.stdout, tooLong.stderr)
	}
	if srv.Repo(ecrRegion, "team-a/"+long) != nil || srv.Calls()["CreateRepository"] != calls {
		t.Error("the invalid name reached ECR")
	}
	if err := os.Remove(filepath.Join(team, "long.yaml")); err != nil {
		t.Fatal(err)
	}

	// Wrong credentials: the server refuses the signature, and it says so.
	wrong := runWithEnv(t, awsEnv(srv, "not-the-secret"), "apply", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(), "--instance", "ecr", "--aws-max-backoff", "100ms")
	if wrong.code != 1 || !strings.Contains(wrong.stdout, "signature") || srv.Rejected() == 0 {
		t.Errorf("wrong credentials: exit %d, %d refused\n%s%s", wrong.code, srv.Rejected(), wrong.stdout, wrong.stderr)
	}
}

// The operator makes the repositories too, and sets drift back on its next
// run, with an event that says so.
func TestEcrThroughOperator(t *testing.T) {
	srv := startECR(t)
	const ns = "team-ecr-op"
	file, _ := ecrPlatform(t, ns, "op-one")
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	startOperator(t, cfg, "ecr-op", time.Second, nil)
	eventually(t, 30*time.Second, func() bool {
		r := srv.Repo(ecrRegion, "team-a/op-one")
		return r != nil && r.TagMutability == "IMMUTABLE"
	}, func() string { return "no repository team-a/op-one" })
	srv.Change(ecrRegion, "team-a/op-one", func(r *ecrserver.Repository) { r.TagMutability = "MUTABLE" })
	eventually(t, 15*time.Second, func() bool { return srv.Repo(ecrRegion, "team-a/op-one").TagMutability == "IMMUTABLE" },
		func() string { return "the operator did not set team-a/op-one back to IMMUTABLE" })
	eventually(t, 15*time.Second, func() bool {
		events := &corev1.EventList{}
		_ = admin.List(context.Background(), events, client.InNamespace("laiki-system"))
		for _, e := range events.Items {
			if e.Reason == "ExternalCorrected" && strings.Contains(e.Message, "team-a/op-one; tag mutability MUTABLE set back to IMMUTABLE") {
				return true
			}
		}
		return false
	}, func() string { return "no event for the drift set back" })
}
