package graph_test

import (
	"fmt"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

func ExampleFromCheckpoint() {
	c, err := checkpoint.Open("../testdata/gpt2-random-realtok")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	g, err := graph.FromCheckpoint(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Family, "hidden", g.Hidden, "layers", g.Dims.Layers, "tied", g.Tied)
	// GPT-2 stores c_attn as one Conv1D [in, 3·out] matrix; the graph shows q, k
	// and v as [out, in] views of it.
	q := g.Layers[0].Q.W
	fmt.Println("q", q.Shape(), q.(*graph.View))
	for _, r := range g.Roles()[:3] {
		fmt.Println(r.Role, "←", r.Names[0])
	}
	// Back to checkpoint names: unchanged views are byte copies of the source.
	entries, err := g.Entries("")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(entries), "tensors to write, e.g.", entries[4].Name, entries[4].Shape)
	// Output:
	// gpt2 hidden 2 layers 1 tied true
	// q [2 2] transformer.h.0.attn.c_attn.weightᵀ[0:2]
	// embed ← transformer.wte.weight
	// pos ← transformer.wpe.weight
	// layers.0.attn_norm.weight ← transformer.h.0.ln_1.weight
	// 16 tensors to write, e.g. transformer.h.0.attn.c_attn.weight [2 6]
}
