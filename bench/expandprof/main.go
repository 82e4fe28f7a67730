// Command expandprof writes a CPU profile of a 2× HyperCloning of a checkpoint,
// the hot path of `grow expand` without the CLI around it (bench helper, see
// bench/expand.sh and docs/performance.md).
//
//	go run ./bench/expandprof SRC OUT cpu.prof
//	go tool pprof -top cpu.prof
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/transform"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: expandprof SRC OUT cpu.prof")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "expandprof:", err)
		os.Exit(1)
	}
}

func run(src, out, prof string) error {
	ck, err := checkpoint.Open(src)
	if err != nil {
		return err
	}
	defer ck.Close()
	g, err := graph.FromCheckpoint(ck)
	if err != nil {
		return err
	}
	f, err := os.Create(prof)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	r, err := grow.Expand(g, &grow.HyperCloning{WidthFactor: 2})
	if err != nil {
		return err
	}
	es, err := r.Graph.Entries("")
	if err != nil {
		return err
	}
	return checkpoint.WriteDir(out, transform.Pipeline(r.Graph, es), checkpoint.WriteOptions{Force: true})
}
