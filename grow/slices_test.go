package grow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/probe"
)

// TestSlicedChecks: for every registered operator's examples on every model
// type, and for the test models (the trained stories260k, GPT-2 and BERT with
// real tokenizers) grown in width and in depth, the check cut into slices (every
// plan of 1 to 4 slices) and merged gives the whole check's verdict; one slice
// gives its report exactly, more slices its numbers within the rounding the
// claim allows (the slices restart from the source's mapped hidden states).
func TestSlicedChecks(t *testing.T) {
	type pair struct {
		name string
		src  *graph.Graph
		res  *grow.Result
	}
	var pairs []pair
	tests := map[string]*graph.Graph{}
	for _, name := range []string{"stories260k", "gpt2-random-realtok", "bert-random-realtok"} {
		tests[name] = reference.OpenGraph(t, "../testdata/"+name)
	}
	add := func(name string, src *graph.Graph, cfg grow.Operator) {
		res, err := grow.Expand(src, cfg)
		var oe *grow.OptionError
		if errors.As(err, &oe) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pairs = append(pairs, pair{name, src, res})
	}
	for name, g := range tests {
		add(name+"/hypercloning", g, &grow.HyperCloning{WidthFactor: 2})
		add(name+"/identity", g, &grow.Identity{Layers: 2 * g.Dims.Layers})
	}
	for _, mt := range family.ModelTypes() {
		d, _ := family.Lookup(mt)
		spec := conformanceShapes(mt, d.Features)[0]
		spec.L = 4
		src := reference.Synth(spec)
		for _, op := range grow.Operators() {
			for ei, cfg := range op.(grow.Examples).Examples(src) {
				add(fmt.Sprintf("%s/%s#%d", mt, op.Name(), ei), src, cfg)
			}
		}
	}
	if len(pairs) < 2*len(family.ModelTypes()) {
		t.Fatalf("only %d cases", len(pairs))
	}
	for _, p := range pairs {
		opts := probe.CheckOptions{Probes: 3, SeqLen: 9}
		if js, ok := p.res.Files[claim.GrowthStateFile]; ok {
			var gs claim.Growth
			if err := json.Unmarshal(js, &gs); err != nil {
				t.Fatal(err)
			}
			opts.Growth = probe.GrowthMasksOf(&gs)
		}
		whole, err := probe.Check(p.src, p.res.Graph, &p.res.Mapping, opts)
		if err != nil {
			t.Errorf("%s: %v", p.name, err)
			continue
		}
		for n := 1; n <= 4; n++ {
			plan, err := probe.PlanSlices(p.res.Graph.Dims.Layers, n, p.res.Mapping.Layers)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			var reps []*probe.Report
			for _, b := range plan {
				o := opts
				o.Blocks = &b
				r, err := probe.Check(p.src, p.res.Graph, &p.res.Mapping, o)
				if err != nil {
					t.Fatalf("%s: slice %s: %v", p.name, b, err)
				}
				reps = append(reps, r)
			}
			merged, err := probe.Merge(reps)
			if err != nil {
				t.Fatalf("%s: %d slices: %v", p.name, len(plan), err)
			}
			sameReport(t, fmt.Sprintf("%s: %d slices %v", p.name, len(plan), plan), merged, whole, len(plan) == 1)
		}
	}
	t.Logf("%d cases, each merged from 1 to 4 slices", len(pairs))
}

// sameReport compares a merged report with the whole check's: the outcome
// exactly; the verdict and the numbers exactly when exact is set, else, for
// a claim that promises them (EXACT, BIT-EXACT), the verdict exactly and the
// numbers within the f64 rule of EXACT (1e-9 relative). The verdict of a
// claim that promises nothing quotes the logits difference, which a slice
// that restarts from the source's states changes.
func sameReport(t *testing.T, what string, got, want *probe.Report, exact bool) {
	t.Helper()
	promise := want.Class == claim.Exact || want.Class == claim.BitExact
	if got.Outcome != want.Outcome || got.Class != want.Class || ((exact || promise) && got.Verdict != want.Verdict) {
		t.Errorf("%s: merged %s %q, whole %s %q", what, got.Outcome, got.Verdict, want.Outcome, want.Verdict)
		return
	}
	if exact {
		g, w := *got, *want
		g.Cost, w.Cost, g.MergedFrom = nil, nil, nil
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s: the one-slice merge differs from the whole check:\n%s\n%s", what, gj, wj)
		}
		return
	}
	if !promise {
		return
	}
	close := func(name string, a, b, scale float64) {
		if d := math.Abs(a - b); d > 1e-9*math.Max(1, scale) || math.IsNaN(d) {
			t.Errorf("%s: %s merged %.6g, whole %.6g", what, name, a, b)
		}
	}
	close("max |Δlogits|", got.MaxAbs, want.MaxAbs, want.MaxLogit)
	close("max KL", got.MaxKL, want.MaxKL, 1)
	close("top-1", got.Top1, want.Top1, 0)
	for j := range want.LayerDev {
		close(fmt.Sprintf("hidden state %d", j), got.LayerDev[j], want.LayerDev[j], 1)
	}
}
