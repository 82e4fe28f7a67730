package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// version is the tool version recorded in every checkpoint grow writes.
var version = "0.1.0-dev"

// errCheckFailed is returned by commands whose equivalence check failed; it maps
// to exit status 1 without a usage message.
var errCheckFailed = errors.New("check failed")

// errInterrupted is returned when SIGINT or SIGTERM stopped a command; it maps
// to exit status 130, as a shell reports a command ended by Ctrl-C.
var errInterrupted = errors.New("interrupted")

// usageError marks a command line that could not be parsed (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode maps an error to the exit status: 2 for a command line that could not
// be parsed, 130 for an interrupted command, 1 for everything else (a failed
// check included).
func exitCode(err error) int {
	var u usageError
	switch {
	case errors.As(err, &u):
		return 2
	case errors.Is(err, errInterrupted):
		return 130
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "grow",
		Short: "Grow, shrink and re-tokenize transformer checkpoints, and prove the result",
		Long: `grow reads Hugging Face checkpoints (GPT-2, Llama/Mistral/Qwen2, BERT) into an
architecture-neutral weight graph, transforms them (width growth, conversion), writes
checkpoints that transformers loads unchanged, and runs source and result side by side
to show how far their outputs differ.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newInspectCmd(),
		newConvertCmd(),
		newProbeCmd(),
		newCheckCmd(),
		newExpandCmd(),
	)
	// Wrong positional arguments are usage errors too.
	for _, c := range root.Commands() {
		if validate := c.Args; validate != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := validate(cmd, args); err != nil {
					return usageError{err}
				}
				return nil
			}
		}
	}
	return root
}
