// Command grow grows, shrinks and re-tokenizes pretrained transformer checkpoints
// without losing what they learned, and proves each result with a forward pass.
//
// Run "grow help" for the commands.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "grow:", err)
		os.Exit(exitCode(err))
	}
}
