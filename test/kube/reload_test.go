package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The webhook picks up changed platform policies without a restart; a set
// that does not compile is refused and the set in force keeps deciding.
func TestWebhookReloadsPolicies(t *testing.T) {
	ctx := context.Background()
	c, _ := as(t, "alice", "team-a")
	rule := filepath.Join(platformDir, "no-beta.rego")
	t.Cleanup(func() {
		os.Remove(rule)
		time.Sleep(3 * refresh) // the next tests see the example platform again
	})
	try := func(id string) error {
		obj := object(t, app(id, ""))
		return c.Create(ctx, obj, client.DryRunAll)
	}
	if err := try("beta-one"); err != nil {
		t.Fatalf("before the rule: %v", err)
	}

	text := "package laiki.governance.nobeta\n\ndeny contains \"no beta apps\" if {\n\tstartswith(input[\"laiki-spec\"].id, \"beta-\")\n}\n"
	if err := os.WriteFile(rule, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for err = try("beta-two"); err == nil && time.Now().Before(deadline); err = try("beta-two") {
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil || !strings.Contains(err.Error(), "no beta apps") {
		t.Fatalf("the new rule never decided: %v", err)
	}

	// A broken version is refused: the rule in force still denies.
	if err := os.WriteFile(rule, []byte("package laiki.governance.nobeta\n\ndeny contains \"x\" if {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * refresh)
	if err := try("beta-three"); err == nil || !strings.Contains(err.Error(), "no beta apps") {
		t.Errorf("with a broken set read, the set in force must keep deciding: %v", err)
	}
	if err := try("gamma"); err != nil {
		t.Errorf("the set in force allows this app: %v", err)
	}
}
