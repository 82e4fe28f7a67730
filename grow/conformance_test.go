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
)

// conformanceShapes are the source shapes the conformance suite grows, for a
// family with features ft: a tied model with grouped-query attention where the
// family has it, an untied one with biases and multi-query attention, and,
// where head_dim is explicit, one whose head_dim is not hidden/heads. BERT
// models are tied; the second is an encoder without a masked-LM head.
func conformanceShapes(modelType string, ft family.Features) []reference.Spec {
	kv := func(h, k int) int {
		if ft.GQA {
			return k
		}
		return h
	}
	out := []reference.Spec{
		{ModelType: modelType, D: 32, H: 4, K: kv(4, 2), I: 48, V: 40, L: 2, P: 16, Tied: true, MLM: true, Seed: 1},
		{ModelType: modelType, D: 24, H: 3, K: kv(3, 1), I: 40, V: 40, L: 2, P: 16, Bias: true, Seed: 2},
	}
	if ft.HeadDim != family.Derived {
		out = append(out, reference.Spec{ModelType: modelType, D: 24, H: 4, K: kv(4, 2), HeadDim: 8, I: 40, V: 40, L: 2, P: 16, Seed: 3})
	}
	return out
}

// TestConformance runs every registered operator, in each configuration it
// names (grow.Examples), on synthetic models of every registered model type,
// and compares the result with its source under internal/reference's float64
// forward pass: the logits and every hidden state under the operator's
// recorded hidden and layer maps, judged by the class it claims. A new family
// or operator gets its cases here without new test code.
func TestConformance(t *testing.T) {
	ran, refused := 0, 0
	for _, mt := range family.ModelTypes() {
		d, _ := family.Lookup(mt)
		for si, spec := range conformanceShapes(mt, d.Features) {
			src := reference.Synth(spec)
			// Each operator also runs after HyperCloning ×2 (a chained run),
			// judged against the original source by the composed claim.
			starts := []*grow.Result{nil}
			hc, err := grow.Expand(src, &grow.HyperCloning{WidthFactor: 2})
			var oe *grow.OptionError
			switch {
			case errors.As(err, &oe): // a family HyperCloning refuses: no chain
				t.Logf("%s/shape%d: HyperCloning ×2 refused: %v", mt, si, err)
			case err != nil:
				t.Fatalf("%s/shape%d: HyperCloning ×2: %v", mt, si, err)
			default:
				starts = append(starts, hc)
			}
			for ci, start := range starts {
				base := src
				if start != nil {
					base = start.Graph
				}
				r, f := conformOperators(t, fmt.Sprintf("%s/shape%d/chain%d", mt, si, ci), src, base, start)
				ran, refused = ran+r, refused+f
			}
		}
	}
	t.Logf("conformance: %d (operator, model type, shape) cases ran, %d refused by the operator", ran, refused)
	if ran < 2*len(family.ModelTypes())*len(grow.Operators()) {
		t.Errorf("only %d cases ran", ran)
	}
}

// conformOperators runs every registered operator's examples on base, which
// is src itself (start nil) or start's result, and compares each result with
// src under the operator's claim, composed after start's.
func conformOperators(t *testing.T, prefix string, src, base *graph.Graph, start *grow.Result) (ran, refused int) {
	t.Helper()
	for _, op := range grow.Operators() {
		ex, ok := op.(grow.Examples)
		if !ok {
			t.Errorf("%s has no examples for the conformance suite", op.Name())
			continue
		}
		for ei, cfg := range ex.Examples(base) {
			name := fmt.Sprintf("%s/%s#%d", prefix, op.Name(), ei)
			res, err := grow.Expand(base, cfg)
			var oe *grow.OptionError
			if errors.As(err, &oe) {
				refused++
				t.Logf("%s: refused: %v", name, err)
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if start != nil {
				m, err := start.Mapping.Then(res.Mapping)
				if err != nil {
					t.Logf("%s: no composed claim: %v", name, err)
					continue
				}
				res.Mapping = m
			}
			ran++
			conform(t, name, src, res)
		}
	}
	return ran, refused
}

// conform compares the result of one case with its source on two probes.
func conform(t *testing.T, name string, src *graph.Graph, res *grow.Result) {
	t.Helper()
	m := res.Mapping
	masks := growthMasks(t, res)
	for _, ids := range [][]int{{1, 7, 3, 39, 0, 12, 5}, {4, 4, 2}} {
		a, b := reference.Forward(t, src, ids, nil), reference.ForwardMasked(t, res.Graph, ids, nil, masks)
		scale, dev := 0.0, 0.0
		for p := range a.Logits {
			la := a.Logits[p]
			if len(la) != len(b.Logits[p]) { // an encoder's output is its hidden state
				la = m.Hidden.Apply(la)
			}
			for i := range la {
				scale = math.Max(scale, math.Abs(la[i]))
				dev = math.Max(dev, math.Abs(la[i]-b.Logits[p][i]))
			}
		}
		if !within(m.Class, dev, scale) {
			t.Errorf("%s: %s claimed, logits differ by %.3g (max |logits| %.3g)", name, m.Class, dev, scale)
		}
		layers := m.Layers
		if layers == nil {
			for j := range b.Hidden {
				layers = append(layers, j)
			}
		}
		for j, s := range layers {
			if s < 0 {
				continue
			}
			scale, dev = 0, 0
			for p := range b.Hidden[j] {
				ha := m.Hidden.Apply(a.Hidden[s][p])
				for i := range ha {
					scale = math.Max(scale, math.Abs(ha[i]))
					dev = math.Max(dev, math.Abs(ha[i]-b.Hidden[j][p][i]))
				}
			}
			if !within(m.Class, dev, scale) {
				t.Errorf("%s: %s claimed, hidden state %d differs from the mapped source state %d by %.3g", name, m.Class, j, s, dev)
			}
		}
	}
}

// within reports whether a deviation dev at magnitude scale meets class in
// float64: BIT-EXACT 0, EXACT 1e-9 relative; other classes promise nothing.
func within(class string, dev, scale float64) bool {
	switch class {
	case claim.BitExact:
		return dev == 0
	case claim.Exact:
		return dev <= 1e-9*math.Max(1, scale)
	}
	return !math.IsNaN(dev)
}

// growthMasks returns the MSG masks a result writes beside it (nil for an
// operator without them).
func growthMasks(t *testing.T, res *grow.Result) *reference.Masks {
	t.Helper()
	js, ok := res.Files[claim.GrowthStateFile]
	if !ok {
		if res.Mapping.Masked {
			t.Fatalf("%s: a masked claim without %s", res.Mapping.Operator, claim.GrowthStateFile)
		}
		return nil
	}
	var gs claim.Growth
	if err := json.Unmarshal(js, &gs); err != nil {
		t.Fatal(err)
	}
	h, q, kv, ffn, layers := gs.Masks()
	return &reference.Masks{Hidden: h, Q: q, KV: kv, FFN: ffn, Layers: layers}
}
