package grow_test

import (
	"fmt"
	"log"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/probe"
)

// Grow stories260k to twice its width with HyperCloning and check, in float64,
// that the grown model computes what the source computes.
func ExampleExpand() {
	ck, err := checkpoint.Open("../testdata/stories260k")
	if err != nil {
		log.Fatal(err)
	}
	defer ck.Close()
	src, err := graph.FromCheckpoint(ck)
	if err != nil {
		log.Fatal(err)
	}
	res, err := grow.Expand(src, &grow.HyperCloning{WidthFactor: 2, FFNFactor: 3})
	if err != nil {
		log.Fatal(err)
	}
	d := res.Graph.Dims
	fmt.Printf("hidden %d, heads %d, kv heads %d, head_dim %d, ffn %d, tied %v\n",
		d.Hidden, d.Heads, d.KVHeads, d.HeadDim, d.FFN, res.Graph.Tied)
	// res.Graph.Entries and checkpoint.WriteDir write it; here it is checked in memory.
	rep, err := probe.Check(src, res.Graph, &res.Mapping, probe.CheckOptions{Probes: 2, SeqLen: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Class, rep.Verdict)
	// Output:
	// hidden 128, heads 16, kv heads 8, head_dim 8, ffn 516, tied false
	// EXACT PASS
}

// Every registered operator, with the flags grow expand takes for it.
func ExampleOperators() {
	for _, op := range grow.Operators() {
		var flags []string
		for _, p := range op.Params() {
			flags = append(flags, "--"+p.Name)
		}
		fmt.Println(op.Name(), flags)
	}
	// Output:
	// duplicate [--layers --ranges]
	// hypercloning [--width-factor --ffn-factor --noise-snr-db --keep-tied --seed]
	// identity [--layers --insert --at]
	// lemon [--hidden --heads --kv-heads --ffn --head-dim --split-scale --layers --depth-init --keep-tied --seed]
	// msg [--hidden --heads --kv-heads --ffn --head-dim --layers --new-init --seed]
	// zeropad [--hidden --heads --kv-heads --ffn --head-dim --pad-std --keep-tied --seed]
}
