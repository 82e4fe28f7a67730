// Command grow grows pretrained transformer checkpoints without losing what they
// learned, converts them, and proves each result with a forward pass.
//
// Run "grow help" for the commands.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:]))
}
