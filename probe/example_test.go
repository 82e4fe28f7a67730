package probe_test

import (
	"fmt"
	"log"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
)

func openExample(dir string) *graph.Graph {
	c, err := checkpoint.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	g, err := graph.FromCheckpoint(c)
	if err != nil {
		log.Fatal(err)
	}
	return g
}

// Run the trained stories260k Llama on "<s> Once upon" and greedily continue it.
func ExampleModel_Forward() {
	g := openExample("../testdata/stories260k")
	m, err := probe.New(g, probe.F64)
	if err != nil {
		log.Fatal(err)
	}
	ids := []int{1, 403, 407} // <s> ▁Once ▁upon
	r, err := m.Forward(ids)
	if err != nil {
		log.Fatal(err)
	}
	for t, row := range r.Logits {
		best := 0
		for i, v := range row {
			if v > row[best] {
				best = i
			}
		}
		fmt.Printf("after position %d the most likely next id is %d\n", t, best)
	}
	next, err := m.Greedy(ids, 6)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("greedy:", next, "hidden states:", len(r.Hidden))
	// Output:
	// after position 0 the most likely next id is 403
	// after position 1 the most likely next id is 407
	// after position 2 the most likely next id is 261
	// greedy: [261 378 432 383 286 261] hidden states: 6
}

// Compare a model with itself: every difference is exactly zero.
func ExampleCheck() {
	g := openExample("../testdata/stories260k")
	rep, err := probe.Check(g, g, nil, probe.CheckOptions{Probes: 2, SeqLen: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Class, rep.Verdict, rep.MaxAbs, rep.MaxKL, rep.Top1, rep.Positions)
	// Output:
	// EXACT PASS 0 0 1 32
}

// Check a model in slices of its blocks, as machines of a job array would,
// and merge the slices' reports into the verdict of the whole check.
func ExampleMerge() {
	g := openExample("../testdata/stories260k")
	plan, err := probe.PlanSlices(g.Dims.Layers, 2, nil)
	if err != nil {
		log.Fatal(err)
	}
	var reports []*probe.Report
	for _, b := range plan {
		rep, err := probe.Check(g, g, nil, probe.CheckOptions{Probes: 2, SeqLen: 16, Blocks: &b})
		if err != nil {
			log.Fatal(err)
		}
		reports = append(reports, rep) // on a cluster: written with json.Marshal, read back
	}
	merged, err := probe.Merge(reports)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plan, merged.MergedFrom, merged.Class, merged.Verdict, merged.MaxAbs, len(merged.LayerDev))
	// Output:
	// [0:2 2:5] [0:2 2:5] EXACT PASS 0 6
}

// Run a model reading its weights as the pass goes (Open): the logits of
// New, bit for bit, in the memory of one block of weights.
func ExampleOpen() {
	g := openExample("../testdata/stories260k")
	streamed, err := probe.Open(g, probe.F64)
	if err != nil {
		log.Fatal(err)
	}
	resident, err := probe.New(g, probe.F64)
	if err != nil {
		log.Fatal(err)
	}
	a, err := streamed.Forward([]int{1, 403, 407})
	if err != nil {
		log.Fatal(err)
	}
	b, err := resident.Forward([]int{1, 403, 407})
	if err != nil {
		log.Fatal(err)
	}
	same := true
	for t := range a.Logits {
		for i := range a.Logits[t] {
			same = same && a.Logits[t][i] == b.Logits[t][i]
		}
	}
	fmt.Println(streamed.Streamed(), same)
	// Output:
	// true true
}
