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

func exitCode(err error) int {
	if errors.Is(err, errCheckFailed) {
		return 1
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
	root.AddCommand(
		newInspectCmd(),
		newConvertCmd(),
		newProbeCmd(),
		newCheckCmd(),
		newExpandCmd(),
	)
	return root
}
