// Command prof writes a CPU profile of one of grow's hot paths without the
// CLI around it (bench helper, see bench/expand.sh, bench/scale.sh and
// docs/performance.md):
//
//	go run ./bench/prof expand SRC OUT cpu.prof  # 2× HyperCloning of SRC, written to OUT
//	go run ./bench/prof check SRC DST cpu.prof   # grow check SRC DST with the default options
//	go tool pprof -top cpu.prof
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/transform"
)

func main() {
	jobs := map[string]func(a, b string) error{"expand": expand, "check": check}
	job, ok := jobs[arg(1)]
	if len(os.Args) != 5 || !ok {
		fmt.Fprintln(os.Stderr, "usage: prof expand SRC OUT cpu.prof | prof check SRC DST cpu.prof")
		os.Exit(2)
	}
	if err := profile(os.Args[4], func() error { return job(os.Args[2], os.Args[3]) }); err != nil {
		fmt.Fprintln(os.Stderr, "prof:", err)
		os.Exit(1)
	}
}

func arg(i int) string {
	if i < len(os.Args) {
		return os.Args[i]
	}
	return ""
}

// profile runs f with the CPU profiler writing to path.
func profile(path string, f func() error) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return f()
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

// expand grows src 2× by HyperCloning and writes it to out.
func expand(src, out string) error {
	ck, g, err := open(src)
	if err != nil {
		return err
	}
	defer ck.Close()
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

// check checks dst against src under the claim dst records.
func check(srcDir, dstDir string) error {
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
	rep, err := probe.Check(src, dst, m, probe.CheckOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %.1f s, %.1f GFLOPS\n", rep.Verdict, rep.Cost.Seconds, rep.Cost.GFLOPS)
	return nil
}
