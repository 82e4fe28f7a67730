// Command checkprof writes a CPU profile of `grow check SRC DST` with the
// default options (8 probes × 32 tokens, f64), the streaming check without
// the CLI around it (bench helper, see bench/scale.sh and docs/performance.md).
//
//	go run ./bench/checkprof SRC DST cpu.prof
//	go tool pprof -top cpu.prof
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: checkprof SRC DST cpu.prof")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "checkprof:", err)
		os.Exit(1)
	}
}

// open reads a checkpoint's graph.
func open(dir string) (*checkpoint.Checkpoint, *graph.Graph, error) {
	ck, err := checkpoint.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	g, err := graph.FromCheckpoint(ck)
	if err != nil {
		ck.Close()
		return nil, nil, err
	}
	return ck, g, nil
}

func run(srcDir, dstDir, prof string) error {
	cs, src, err := open(srcDir)
	if err != nil {
		return err
	}
	defer cs.Close()
	cd, dst, err := open(dstDir)
	if err != nil {
		return err
	}
	defer cd.Close()
	m, _, err := claim.ReadMapping(cd)
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
	rep, err := probe.Check(src, dst, m, probe.CheckOptions{})
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	fmt.Printf("%s: %.1f s, %.1f GFLOPS\n", rep.Verdict, rep.Cost.Seconds, rep.Cost.GFLOPS)
	return nil
}
