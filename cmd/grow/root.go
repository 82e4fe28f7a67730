package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// errCheckFailed is returned by commands whose equivalence check failed; it maps
// to exit status 1 without a usage message.
var errCheckFailed = errors.New("check failed")

// errNothingToVerify is returned by grow check when nothing failed but no
// claim that promises something was verified; it maps to exit status 3.
var errNothingToVerify = errors.New("nothing to verify")

// errInterrupted is returned when SIGINT or SIGTERM stopped a command; it maps
// to exit status 130, as a shell reports a command ended by Ctrl-C.
var errInterrupted = errors.New("interrupted")

// Exit statuses: the contract README.md states and TestExitStatus checks.
const (
	exitOK          = 0
	exitFailure     = 1   // an error, or a failed check
	exitUsage       = 2   // a command line that cannot be used
	exitUnverified  = 3   // a check with nothing to verify
	exitInterrupted = 130 // SIGINT or SIGTERM
)

// usageError marks a command line that cannot be used (exit status 2): an
// unknown command or flag, a missing argument or required flag, a bad value.
// It is reported with the usage line of the command that was run.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message (%w wraps as in
// fmt.Errorf).
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// ranError marks an error returned by a command's RunE, as opposed to one that
// cobra found in the command line before running anything.
type ranError struct{ err error }

func (e ranError) Error() string { return e.err.Error() }
func (e ranError) Unwrap() error { return e.err }

// exitCode maps an error to the exit status: 2 for a command line that cannot
// be used, 3 for a check that had nothing to verify, 130 for an interrupted
// command, 1 for everything else (a failed check included).
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &u):
		return exitUsage
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, errNothingToVerify):
		return exitUnverified
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "grow COMMAND",
		Short: "Grow transformer checkpoints and prove the result",
		Long: `grow reads Hugging Face checkpoints (GPT-2, Llama/Mistral/Qwen2/Qwen3, Phi-3, BERT)
into an architecture-neutral weight graph, grows their width or depth so that they compute
the same function (grow expand), converts their dtype or sharding (grow convert), writes
checkpoints that transformers loads unchanged, and runs source and result side by
side to show how far their outputs differ (grow check). It also initialises a smaller
model from a larger one (grow shrink), models of any depth from a compact learngene
(grow learngene), and extends a vocabulary with initialised embeddings (grow tokens).

Exit status: 0 success, 1 an error or a failed check, 2 a command line that cannot
be used, 3 a check with nothing to verify (no claim, or one that promises nothing:
the numbers are reported), 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			interruptNote(cmd.CommandPath() + ": interrupted")
			return finiteFlags(cmd)
		},
	}
	root.SetVersionTemplate(versionText() + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagError(err)} })
	root.AddCommand(
		newInspectCmd(),
		newConvertCmd(),
		newProbeCmd(),
		newCheckCmd(),
		newExpandCmd(),
		newMSGCmd(),
		newShrinkCmd(),
		newLearngeneCmd(),
		newTokensCmd(),
		newVersionCmd(),
	)
	for _, c := range root.Commands() {
		markRunErrors(c)
	}
	return root
}

// markRunErrors wraps c's RunE so that its errors are ranError: whatever else
// fails reached cobra's own checks of the command line and is a usage error.
func markRunErrors(c *cobra.Command) {
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
	run := c.RunE
	if run == nil {
		return
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := run(cmd, args); err != nil {
			return ranError{err}
		}
		return nil
	}
}

// execute runs the grow command line args and returns the command that ran (or
// that the command line named) and its error, classified for exitCode: an error
// cobra found before running a command is a usageError.
func execute(args []string, stdout, stderr io.Writer) (*cobra.Command, error) {
	root := newRootCmd()
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return cmd, nil
	}
	var r ranError
	var u usageError
	if !errors.As(err, &r) && !errors.As(err, &u) {
		err = usageError{err}
	}
	return cmd, err
}

// report prints err of cmd on w: "grow CMD: message", and for a usage error
// the command's usage line and where its help is.
func report(w io.Writer, cmd *cobra.Command, err error) {
	path := "grow"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	msg := err.Error()
	if cmd != nil && cmd.HasParent() {
		msg = strings.TrimPrefix(msg, cmd.Name()+": ")
	}
	fmt.Fprintf(w, "%s: %s\n", path, msg)
	if exitCode(err) == exitUsage && cmd != nil {
		fmt.Fprintf(w, "usage: %s\n", cmd.UseLine())
		what := "flag"
		if !cmd.HasParent() {
			what = "command"
		}
		fmt.Fprintf(w, "Run '%s --help' for every %s.\n", path, what)
	}
}

// flagError rewrites pflag's complaint about a flag value in the user's
// words: `--width-factor "1.5": want a whole number` instead of a strconv
// error.
func flagError(err error) error {
	var iv *pflag.InvalidValueError
	if !errors.As(err, &iv) {
		return err
	}
	want := "a valid value"
	switch iv.GetFlag().Value.Type() {
	case "int", "int64", "int32", "uint", "uint64":
		want = "a whole number"
	case "float64", "float32":
		want = "a number"
	case "bool":
		want = "true or false"
	}
	return fmt.Errorf("--%s %q: want %s", iv.GetFlag().Name, iv.GetValue(), want)
}

// finiteFlags refuses a NaN or an infinity given to any number flag of cmd
// (--tol, --noise-snr-db, --split-scale, --pad-std, ...): strconv reads
// "nan" and "inf" as numbers, and none of grow's flags means anything by them.
func finiteFlags(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || !f.Changed {
			return
		}
		switch f.Value.Type() {
		case "float64", "float32":
		default:
			return
		}
		v, perr := strconv.ParseFloat(f.Value.String(), 64)
		if perr == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			err = usagef("--%s %s: want a finite number", f.Name, f.Value.String())
		}
	})
	return err
}

// exactArgs is cobra.ExactArgs with a message that names the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return usagef("takes no arguments, got %d", len(args))
		}
		what := "argument"
		if len(names) != 1 {
			what += "s"
		}
		return usagef("want %d %s (%s), got %d", len(names), what, strings.Join(names, " "), len(args))
	}
}
