package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
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

// The ECR an auditor would sign (issue 20), point by point, through `laiki
// apply` and the operator on the real API server and the ECR wire-protocol
// server.

// ecrApply runs `laiki apply` for a platform as one instance.
func ecrApply(t *testing.T, srv *ecrserver.Server, cfg, instance string, extra ...string) result {
	t.Helper()
	return runWithEnv(t, awsEnv(srv, ecrserver.SecretKey), append([]string{"apply", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(),
		"--instance", instance, "--aws-max-backoff", "100ms"}, extra...)...)
}

// ecrReport runs `laiki ecr report -o json` and reads it.
func ecrReport(t *testing.T, srv *ecrserver.Server, cfg, instance string) (map[string]reconcile.EcrRecord, result) {
	t.Helper()
	r := runWithEnv(t, awsEnv(srv, ecrserver.SecretKey), "ecr", "report", "--config", cfg, "--cache-dir", t.TempDir(), "--instance", instance,
		"--kubeconfig", kubeconfig, "-o", "json")
	var list []reconcile.EcrRecord
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("ecr report: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	out := map[string]reconcile.EcrRecord{}
	for _, rec := range list {
		out[rec.Name] = rec
	}
	return out, r
}

func platformDir(cfg string) string { return filepath.Join(filepath.Dir(cfg), "platform") }

func mustContain(t *testing.T, what string, r result, code int, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit %d, want %d\n%s%s", what, r.code, code, r.stdout, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("%s: the output lacks %q:\n%s%s", what, w, r.stdout, r.stderr)
		}
	}
}

// Point 1. team-a/legacy, made by the data engineers (MUTABLE, tagged
// owner=data-engineering, with a repository policy), is not taken over when
// a team file names it: an error that says how to adopt it, said once, the
// repository untouched; another instance's repository neither. Adopted
// once the platform adopts on request and the file asks, it is never
// deleted when the file goes, though empty and under delete-if-empty.
func TestEcrAdoptionByConsent(t *testing.T) {
	srv, err := ecrserver.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const ns, inst = "ecr-adopt", "ecr-adopt"
	cfg, team := ecrPlatformWith(t, ns, "    on-delete: delete-if-empty\n", "legacy", "shared")
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"data","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`
	srv.Put(ecrserver.Repository{Name: "team-a/legacy", Region: ecrRegion, TagMutability: "MUTABLE", Tags: map[string]string{"owner": "data-engineering"}, RepositoryPolicy: policy})
	srv.Put(ecrserver.Repository{Name: "team-a/shared", Region: ecrRegion, TagMutability: "MUTABLE",
		Tags: map[string]string{reconcile.TagManagedBy: "laiki", reconcile.TagInstance: "other-laiki"}})
	untouched := func(when string) {
		t.Helper()
		if r := srv.Repo(ecrRegion, "team-a/legacy"); r == nil || r.TagMutability != "MUTABLE" || len(r.Tags) != 1 || r.RepositoryPolicy != policy {
			t.Errorf("%s: team-a/legacy was touched: %+v", when, r)
		}
		if r := srv.Repo(ecrRegion, "team-a/shared"); r == nil || r.TagMutability != "MUTABLE" || r.Tags[reconcile.TagInstance] != "other-laiki" {
			t.Errorf("%s: another instance's repository was touched: %+v", when, r)
		}
	}
	first := ecrApply(t, srv, cfg, inst)
	mustContain(t, "apply", first, 1, "failed AwsEcrRepository team-a/legacy: repository team-a/legacy exists and Laiki did not create it (tags owner=data-engineering)",
		"laiki-ecr.adopt on target "+ns+"/apps", `failed AwsEcrRepository team-a/shared: repository team-a/shared belongs to Laiki instance "other-laiki"`)
	untouched("refused")
	before := writeCalls(srv)
	mustContain(t, "apply again", ecrApply(t, srv, cfg, inst), 1, "stalled AwsEcrRepository team-a/legacy", "stalled AwsEcrRepository team-a/shared")
	if n := writeCalls(srv) - before; n != 0 {
		t.Errorf("a refusal said again made %d writes", n)
	}
	untouched("refused again")

	// The platform adopts on request, and the team asks.
	writeEcrTarget(t, platformDir(cfg), ns, "    on-delete: delete-if-empty\n    adopt: on-request\n")
	gittest.Write(t, team, map[string]string{"legacy.yaml": ecrFile(ns, "legacy") + "  adopt: true\n"})
	mustContain(t, "apply with adoption asked for", ecrApply(t, srv, cfg, inst), 1, "adopted AwsEcrRepository team-a/legacy", `team-a/shared belongs to Laiki instance "other-laiki"`)
	r := srv.Repo(ecrRegion, "team-a/legacy")
	if r.TagMutability != "IMMUTABLE" || r.Tags["owner"] != "data-engineering" || r.Tags[reconcile.TagInstance] != inst || r.Tags[reconcile.TagOnDelete] != "keep" {
		t.Errorf("adopted: %+v", r)
	}
	// The team deletes its file: kept, never deleted.
	if err := os.Remove(filepath.Join(team, "legacy.yaml")); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "apply without legacy", ecrApply(t, srv, cfg, inst), 1, "orphaned AwsEcrRepository team-a/legacy", "the adoption did not allow deleting it")
	mustContain(t, "apply without legacy, again", ecrApply(t, srv, cfg, inst, "--ecr-drift-interval", "1ms"), 1)
	if srv.Repo(ecrRegion, "team-a/legacy") == nil || srv.Calls()["DeleteRepository"] != 0 {
		t.Errorf("an adopted repository was deleted: %v", srv.Calls())
	}
	if r := srv.Repo(ecrRegion, "team-a/shared"); r.Tags[reconcile.TagInstance] != "other-laiki" {
		t.Errorf("another instance's repository: %+v", r)
	}
}

// Point 2. A target's last repositories leave Git: retired by the next
// apply (a new process, so from the records alone): the empty one deleted
// (delete-if-empty), the one with images kept and tagged orphaned, and
// reported, non-compliant once made MUTABLE by hand. The operator, stopped
// and started again, retires too, and the report names the Git commit that
// asked for the repository.
func TestEcrTrackedAfterRestart(t *testing.T) {
	srv := startECR(t)
	const ns, inst = "ecr-last", "ecr-last"
	cfg, team := ecrPlatformWith(t, ns, "    on-delete: delete-if-empty\n", "kept", "empty")
	mustContain(t, "apply", ecrApply(t, srv, cfg, inst), 0, "created AwsEcrRepository team-a/kept", "created AwsEcrRepository team-a/empty")
	srv.Change(ecrRegion, "team-a/kept", func(r *ecrserver.Repository) { r.Images = 1 })
	for _, f := range []string{"kept.yaml", "empty.yaml"} {
		if err := os.Remove(filepath.Join(team, f)); err != nil {
			t.Fatal(err)
		}
	}
	mustContain(t, "apply with no repository left", ecrApply(t, srv, cfg, inst), 0, "deleted AwsEcrRepository team-a/empty", "orphaned AwsEcrRepository team-a/kept")
	if srv.Repo(ecrRegion, "team-a/empty") != nil || srv.Repo(ecrRegion, "team-a/kept").Tags[reconcile.TagOrphaned] == "" {
		t.Errorf("retired: %+v %+v", srv.Repo(ecrRegion, "team-a/empty"), srv.Repo(ecrRegion, "team-a/kept"))
	}
	deletes := srv.Calls()["DeleteRepository"]
	mustContain(t, "apply again", ecrApply(t, srv, cfg, inst), 0, "unchanged AwsEcrRepository team-a/kept")
	if srv.Calls()["DeleteRepository"] != deletes {
		t.Errorf("the kept repository got a DeleteRepository again: %v", srv.Calls())
	}
	rep, r := ecrReport(t, srv, cfg, inst)
	if k := rep["team-a/kept"]; r.code != 0 || len(rep) != 1 || k.Orphaned == "" || k.Managed != "created" || !k.Compliant || !strings.HasSuffix(k.File, "kept.yaml") {
		t.Errorf("report: exit %d %+v", r.code, rep)
	}
	srv.Change(ecrRegion, "team-a/kept", func(r *ecrserver.Repository) { r.TagMutability = "MUTABLE" })
	if rep, r := ecrReport(t, srv, cfg, inst); r.code != 1 || rep["team-a/kept"].Compliant {
		t.Errorf("a kept repository made MUTABLE: exit %d %+v", r.code, rep)
	}

	// The operator, restarted, from a Git source.
	root := t.TempDir()
	_, work := gittest.Repo(t, root, "team", map[string]string{"op-last.yaml": ecrFile("ecr-op-last", "op-last")})
	daemon, _ := gittest.Daemon(t, root)
	commit := gittest.Git(t, work, "rev-parse", "HEAD")
	file, _ := ecrPlatform(t, "ecr-op-last")
	gitCfg := strings.Replace(mustRead(t, file), "  - name: team-a\n    path: team\n", "  - name: team-a\n    git: {url: "+daemon+"/team.git, ref: main}\n", 1)
	if err := os.WriteFile(file, []byte(gitCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	s := startOperator(t, loaded, "ecr-op-last", time.Second, nil)
	// Stopped once the run that made it has recorded who asked for it (a
	// stop between CreateRepository and that record leaves a repository
	// tracked without its file and commit).
	eventually(t, 30*time.Second, func() bool {
		if srv.Repo(ecrRegion, "team-a/op-last") == nil {
			return false
		}
		rep, _ := ecrReport(t, srv, file, "ecr-op-last")
		return rep["team-a/op-last"].Commit == commit
	}, func() string { return "no team-a/op-last recorded with its commit" })
	s.cancel()
	<-s.stopped
	gittest.Commit(t, work, nil, "the last repository goes", "op-last.yaml")
	again := startOperator(t, loaded, "ecr-op-last", time.Second, nil)
	eventually(t, 30*time.Second, func() bool { return srv.Repo(ecrRegion, "team-a/op-last").Tags[reconcile.TagOrphaned] != "" },
		func() string {
			last := again.runs.last()
			var ext []string
			if last.run != nil {
				for _, c := range last.run.External {
					ext = append(ext, c.Op+" "+c.String())
				}
			}
			return fmt.Sprintf("team-a/op-last not orphaned after a restart: %v; last run: %v %v", srv.Repo(ecrRegion, "team-a/op-last").Tags, last.err, ext)
		})
	if rep, _ := ecrReport(t, srv, file, "ecr-op-last"); rep["team-a/op-last"].Commit != commit || rep["team-a/op-last"].Orphaned == "" {
		t.Errorf("the operator's repository in the report: %+v (commit %s)", rep["team-a/op-last"], commit)
	}
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Point 3. Scanning off at the registry (a registry-level scanning
// configuration that leaves team-a out) is what AWS applies, whatever the
// repository's own scan on push says: apply says so at the drift check,
// and the report marks the repository non-compliant.
func TestEcrScanningOffAtTheRegistry(t *testing.T) {
	srv := startECR(t)
	const ns, inst = "ecr-scan", "ecr-scan"
	cfg, _ := ecrPlatformWith(t, ns, "", "scanned")
	mustContain(t, "apply", ecrApply(t, srv, cfg, inst), 0, "created AwsEcrRepository team-a/scanned")
	srv.SetRegistryScanning(ecrRegion, ecrserver.ScanningConfiguration{ScanType: "BASIC", Rules: []ecrserver.ScanningRule{{ScanFrequency: "SCAN_ON_PUSH", Filters: []string{"prod-*"}}}})
	mustContain(t, "apply at the drift check", ecrApply(t, srv, cfg, inst, "--ecr-drift-interval", "1ms"), 1,
		"failed AwsEcrRepository team-a/scanned: scanning is off as ECR applies it (scan frequency MANUAL)")
	rep, r := ecrReport(t, srv, cfg, inst)
	if s := rep["team-a/scanned"]; r.code != 1 || s.Compliant || s.ScanFrequency != "MANUAL" || !s.ScanOnPush {
		t.Errorf("report: exit %d %+v", r.code, s)
	}
}

// Point 4. A repository creation template for the prefix is the backstop:
// made by apply; a repository a push creates under the prefix comes up
// IMMUTABLE from it; that one and one made by hand are reported as
// unmanaged and non-compliant.
func TestEcrUnmanagedUnderThePrefix(t *testing.T) {
	srv := startECR(t)
	const ns, inst = "ecr-prefix", "ecr-prefix"
	// b: one character under the prefix is a valid repository (team-a/b).
	cfg, _ := ecrPlatformWith(t, ns, ecrLifecycle+"    creation-template: [CREATE_ON_PUSH, REPLICATION]\n", "app", "b")
	mustContain(t, "apply", ecrApply(t, srv, cfg, inst), 0, "created AwsEcrRepositoryCreationTemplate team-a/", "created AwsEcrRepository team-a/b")
	if tm := srv.Template(ecrRegion, "team-a"); tm == nil || tm.TagMutability != "IMMUTABLE" || tm.EncryptionType != "AES256" || !strings.Contains(tm.LifecyclePolicy, "expire") {
		t.Fatalf("template: %+v", tm)
	}
	if err := srv.Push(ecrRegion, "team-a/pushed", ecrserver.Image{Digest: "sha256:1"}); err != nil {
		t.Fatal(err)
	}
	if r := srv.Repo(ecrRegion, "team-a/pushed"); r.TagMutability != "IMMUTABLE" {
		t.Errorf("a repository made by a push: %+v", r)
	}
	srv.Put(ecrserver.Repository{Name: "team-a/by-hand", Region: ecrRegion})
	rep, r := ecrReport(t, srv, cfg, inst)
	if r.code != 1 || rep["team-a/pushed"].Managed != "unmanaged" || rep["team-a/pushed"].Compliant || rep["team-a/by-hand"].Managed != "unmanaged" || !rep["team-a/app"].Compliant || !rep["team-a/b"].Compliant {
		t.Errorf("report: exit %d %+v", r.code, rep)
	}
	mustContain(t, "apply again", ecrApply(t, srv, cfg, inst), 0, "unchanged AwsEcrRepositoryCreationTemplate team-a/")
}

// Point 5. A lifecycle policy that would expire the image a running app
// uses is refused before it is set (ECR's preview), an error said once;
// archive instead of expire is refused alike (archived images cannot be
// pulled); once the app runs a newer image, the policy is set.
func TestEcrLifecyclePreviewProtectsRunningApps(t *testing.T) {
	srv := startECR(t)
	const ns, inst = "ecr-preview", "ecr-preview"
	cfg, team := ecrPlatformWith(t, ns, "", "dash")
	uri := ecrserver.Account + ".dkr.ecr." + ecrRegion + ".amazonaws.com/team-a/dash"
	gittest.Write(t, team, map[string]string{"app.yaml": appFile(ns, "dash", uri+":1.0")})
	mustContain(t, "apply", ecrApply(t, srv, cfg, inst), 0, "created AwsEcrRepository team-a/dash")
	old := time.Now().Add(-90 * 24 * time.Hour)
	srv.Change(ecrRegion, "team-a/dash", func(r *ecrserver.Repository) {
		r.ImageList = []ecrserver.Image{{Digest: "sha256:10", Tags: []string{"1.0"}, PushedAt: old}, {Digest: "sha256:20", Tags: []string{"2.0"}, PushedAt: time.Now()}}
	})
	expireOld := "    lifecycle-policy:\n      rules:\n        - rulePriority: 1\n          selection: {tagStatus: any, countType: sinceImagePushed, countUnit: days, countNumber: 30}\n          action: {type: expire}\n"
	writeEcrTarget(t, platformDir(cfg), ns, expireOld)
	mustContain(t, "apply with a lifecycle policy", ecrApply(t, srv, cfg, inst), 1,
		"failed AwsEcrRepository team-a/dash: the platform's lifecycle policy is not set: ECR's preview says it would expire (delete) team-a/dash:1.0, which ShinyProxyApp "+ns+"/apps/dash run")
	if r := srv.Repo(ecrRegion, "team-a/dash"); r.LifecyclePolicy != "" || len(r.ImageList) != 2 {
		t.Fatalf("the policy was set: %+v", r)
	}
	previews := srv.Calls()["StartLifecyclePolicyPreview"]
	mustContain(t, "apply again", ecrApply(t, srv, cfg, inst), 1, "stalled AwsEcrRepository team-a/dash")
	if srv.Calls()["StartLifecyclePolicyPreview"] != previews {
		t.Error("a refused policy was previewed again with nothing changed")
	}
	writeEcrTarget(t, platformDir(cfg), ns, expireOld+"    lifecycle-action: archive\n")
	mustContain(t, "apply with archive", ecrApply(t, srv, cfg, inst), 1, "would archive (archived images cannot be pulled) team-a/dash:1.0")
	gittest.Write(t, team, map[string]string{"app.yaml": appFile(ns, "dash", uri+":2.0")})
	mustContain(t, "apply once the app runs 2.0", ecrApply(t, srv, cfg, inst), 0, "corrected AwsEcrRepository team-a/dash; lifecycle policy set")
	if r := srv.Repo(ecrRegion, "team-a/dash"); !strings.Contains(r.LifecyclePolicy, `"targetStorageClass":"archive"`) {
		t.Errorf("the policy: %s", r.LifecyclePolicy)
	}
}

// Point 6. A lifecycle and a repository policy the platform drops from
// laiki-ecr are deleted from the repository.
func TestEcrDroppedPoliciesDeleted(t *testing.T) {
	srv := startECR(t)
	const ns, inst = "ecr-drop", "ecr-drop"
	cfg, _ := ecrPlatformWith(t, ns, ecrLifecycle+"    repository-policy: {Version: \"2012-10-17\", Statement: []}\n", "pol")
	mustContain(t, "apply", ecrApply(t, srv, cfg, inst), 0, "created AwsEcrRepository team-a/pol")
	if r := srv.Repo(ecrRegion, "team-a/pol"); r.LifecyclePolicy == "" || r.RepositoryPolicy == "" {
		t.Fatalf("policies: %+v", r)
	}
	writeEcrTarget(t, platformDir(cfg), ns, "")
	mustContain(t, "apply without the policies", ecrApply(t, srv, cfg, inst), 0, "lifecycle policy deleted", "repository policy deleted")
	if r := srv.Repo(ecrRegion, "team-a/pol"); r.LifecyclePolicy != "" || r.RepositoryPolicy != "" {
		t.Errorf("the dropped policies stay: %+v", r)
	}
}

// Point 7. ECR cannot change a repository's encryption: the operator says
// so once (one event), keeps running at its interval without backing off,
// and makes no call for it but the listing; apply says failed, then
// stalled.
func TestEcrEncryptionMismatchOnce(t *testing.T) {
	srv := startECR(t)
	const ns, inst = "ecr-kms", "ecr-kms"
	file, _ := ecrPlatformWith(t, ns, "    adopt: always\n", "kms")
	srv.Put(ecrserver.Repository{Name: "team-a/kms", Region: ecrRegion, TagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: "KMS", KMSKey: "arn:aws:kms:eu-west-1:123456789012:key/other"})
	mustContain(t, "apply", ecrApply(t, srv, file, inst), 1, "failed AwsEcrRepository team-a/kms", "ECR cannot change a repository's encryption")
	mustContain(t, "apply again", ecrApply(t, srv, file, inst), 1, "stalled AwsEcrRepository team-a/kms")

	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	s := startOperator(t, cfg, inst, time.Second, nil)
	eventually(t, 30*time.Second, func() bool { return s.runs.count() >= 2 }, func() string { return "no runs" })
	n, calls := s.runs.count(), srv.Calls()
	eventually(t, 30*time.Second, func() bool { return s.runs.count() >= n+4 }, func() string {
		return fmt.Sprintf("the operator backs off: %d runs", s.runs.count())
	})
	for op, c := range srv.Calls() {
		if op != "DescribeRepositories" && c != calls[op] {
			t.Errorf("the stalled repository cost %d %s calls", c-calls[op], op)
		}
	}
	events := &corev1.EventList{}
	if err := admin.List(context.Background(), events, client.InNamespace("laiki-system")); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Reason == "ExternalFailed" && strings.Contains(e.Message, "team-a/kms") && e.Count > 1 {
			t.Errorf("the encryption mismatch was said %d times: %s", e.Count, e.Message)
		}
	}
}

// Point 8. A steady state makes no write and one listing per registry a
// run: three applies, then the operator's runs.
func TestEcrSteadyStateCalls(t *testing.T) {
	srv := startECR(t)
	const ns, inst = "ecr-steady", "ecr-steady"
	file, _ := ecrPlatform(t, ns, "one", "two", "three")
	mustContain(t, "apply", ecrApply(t, srv, file, inst), 0, "created AwsEcrRepository team-a/three")
	for i := 0; i < 3; i++ {
		before := srv.Calls()
		mustContain(t, "steady apply", ecrApply(t, srv, file, inst), 0, "unchanged AwsEcrRepository team-a/one", "unchanged AwsEcrRepository team-a/two")
		for op, c := range srv.Calls() {
			if d := c - before[op]; op == "DescribeRepositories" && d != 1 || op != "DescribeRepositories" && d != 0 {
				t.Errorf("a steady apply made %d %s calls", d, op)
			}
		}
	}
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	s := startOperator(t, cfg, inst, time.Second, nil)
	eventually(t, 30*time.Second, func() bool { return s.runs.count() >= 1 }, func() string { return "no run" })
	n, before := s.runs.count(), srv.Calls()
	eventually(t, 30*time.Second, func() bool { return s.runs.count() >= n+3 }, func() string { return "fewer than 3 runs" })
	runs := s.runs.count() - n
	for op, c := range srv.Calls() {
		if d := c - before[op]; op == "DescribeRepositories" && d > runs+1 || op != "DescribeRepositories" && d != 0 {
			t.Errorf("%d steady operator runs made %d %s calls", runs, d, op)
		}
	}
}

// Point 10. The report says [] when there is nothing, and a report against
// an endpoint that does not answer fails within its timeout, saying so.
func TestEcrReportEdges(t *testing.T) {
	srv := startECR(t)
	cfg, _ := ecrPlatformWith(t, "ecr-edges", "")
	r := runWithEnv(t, awsEnv(srv, ecrserver.SecretKey), "ecr", "report", "--config", cfg, "--cache-dir", t.TempDir(), "--instance", "ecr-edges",
		"--kubeconfig", kubeconfig, "-o", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("an empty report: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	dead := &ecrserver.Server{URL: "http://127.0.0.1:" + fmt.Sprint(gittest.FreePort(t))}
	withRepo, _ := ecrPlatformWith(t, "ecr-edges", "", "app")
	start := time.Now()
	r = runWithEnv(t, awsEnv(dead, ecrserver.SecretKey), "ecr", "report", "--config", withRepo, "--cache-dir", t.TempDir(), "--instance", "ecr-edges",
		"--status-namespace", "", "--aws-timeout", "2s", "--aws-max-backoff", "1s")
	if took := time.Since(start); r.code != 2 || took > 20*time.Second || !strings.Contains(r.stderr, "no answer from ECR within 2s") {
		t.Errorf("a report against an endpoint that does not answer: exit %d after %s\n%s", r.code, took.Round(time.Second), r.stderr)
	}
}
