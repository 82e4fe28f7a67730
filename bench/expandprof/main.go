// Command expandprof profiles a HyperCloning ×2 of a checkpoint (bench helper).
package main

import (
	"os"
	"runtime/pprof"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
)

func main() {
	ck, err := checkpoint.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	g, err := graph.FromCheckpoint(ck)
	if err != nil {
		panic(err)
	}
	f, _ := os.Create(os.Args[3])
	pprof.StartCPUProfile(f)
	defer pprof.StopCPUProfile()
	r, err := grow.Expand(g, grow.Options{Method: grow.HyperCloning, WidthFactor: 2})
	if err != nil {
		panic(err)
	}
	es, err := r.Graph.Entries("")
	es = grow.Pipeline(r.Graph, es)
	if err != nil {
		panic(err)
	}
	if err := checkpoint.WriteDir(os.Args[2], es, checkpoint.WriteOptions{Force: true}); err != nil {
		panic(err)
	}
}
