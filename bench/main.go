// Command bench runs the benchmarks of `make bench` and prints a table of
// Laiki and each peer, with the ratios. See BENCHMARKS.md.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type tools struct{ laiki, conftest, opa, conftestVersion, opaVersion string }

func buildTools(root string) (*tools, error) {
	cmd := exec.Command(filepath.Join(root, "bench", "tools.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench/tools.sh: %w", err)
	}
	t := &tools{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[0] {
		case "laiki":
			t.laiki = f[1]
		case "conftest":
			t.conftest, t.conftestVersion = f[1], f[2]
		case "opa":
			t.opa, t.opaVersion = f[1], f[2]
		}
	}
	return t, nil
}

func main() {
	only := flag.String("only", "check,admission,reconcile", "which benchmarks to run")
	apps := flag.Int("apps", 10000, "apps for the pull-request check")
	rates := flag.String("rates", "500,1000,2000,4000,6000,8000,10000", "request rates of the admission benchmark, per second")
	duration := flag.Duration("duration", 5*time.Second, "how long each admission rate is held")
	serve := flag.String("serve-webhook", "", "(internal) serve Laiki's webhook on this laiki.yaml")
	sizes := flag.String("reconcile-apps", "1000,10000", "app counts of the reconcile benchmark")
	child := flag.Int("reconcile-child", 0, "(internal) run the reconcile benchmark for this many apps")
	flag.Parse()
	root, _ := filepath.Abs("..")
	if *child > 0 {
		if err := reconcileChild(root, *child); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	if *serve != "" {
		if err := serveWebhook(*serve); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	t, err := buildTools(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if strings.Contains(*only, "check") {
		if err := benchCheck(t, *apps); err != nil {
			fmt.Fprintln(os.Stderr, "check:", err)
			os.Exit(1)
		}
	}
	if strings.Contains(*only, "admission") {
		if err := benchAdmission(t, ints("-rates", *rates), *duration); err != nil {
			fmt.Fprintln(os.Stderr, "admission:", err)
			os.Exit(1)
		}
	}
	if strings.Contains(*only, "reconcile") {
		if err := benchReconcile(ints("-reconcile-apps", *sizes)); err != nil {
			fmt.Fprintln(os.Stderr, "reconcile:", err)
			os.Exit(1)
		}
	}
}

// ints reads a flag's comma-separated numbers, or stops.
func ints(flag, list string) []int {
	var out []int
	for _, r := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			fmt.Fprintln(os.Stderr, flag+":", err)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

// goal prints one of issue 22's goals: Laiki's figure, the peer's (or,
// for a goal with no peer, the bound itself), the ratio of the two and
// whether it is met, so that a run says plainly where Laiki stands.
func goal(what, laiki, peer string, ratio float64, met bool) {
	word := "missed"
	if met {
		word = "met"
	}
	r := "-"
	if ratio > 0 && !math.IsInf(ratio, 0) {
		r = fmt.Sprintf("%.2fx", ratio)
	}
	fmt.Printf("  goal %-58s laiki %-12s vs %-18s ratio %-7s %s\n", what+":", laiki, peer, r, word)
}
