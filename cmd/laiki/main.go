// Command laiki assembles a ShinyProxy platform from one small file per app,
// inside the limits the platform owner sets. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/version"
)

// Exit codes, the same for every command: 0 all accepted, 1 something
// rejected or in error, 2 Laiki itself could not run.
const (
	exitOK       = 0
	exitRejected = 1
	exitCannot   = 2
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func cannot(err error) error { return &exitError{code: exitCannot, err: err} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "laiki",
		Short:         "Assemble a ShinyProxy platform from one file per app, within the platform's rules",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("laiki {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cannot(fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath()))
	})
	root.AddCommand(newCheck(), newRender(), newExplain(), newConvert(), newWebhook(), newApply(), newOperator(), newEcr(), newPolicy(), newSchema(), newVersion())
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	if err == nil {
		os.Exit(exitOK)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "laiki:", ee.err)
		}
		os.Exit(ee.code)
	}
	// Errors cobra makes itself (an unknown command, say) are usage errors.
	fmt.Fprintln(os.Stderr, "laiki:", err)
	os.Exit(exitCannot)
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this laiki",
		Args:  cobra.NoArgs,
		Run:   func(c *cobra.Command, _ []string) { fmt.Fprintln(c.OutOrStdout(), "laiki", version.String()) },
	}
}
