package grow

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/probe"
)

// msgState returns the growth state MSG writes beside r.
func msgState(t *testing.T, r *Result) *claim.Growth {
	t.Helper()
	var gs claim.Growth
	if err := json.Unmarshal(r.Files[claim.GrowthStateFile], &gs); err != nil {
		t.Fatal(err)
	}
	return &gs
}

func refMasks(gs *claim.Growth) *reference.Masks {
	h, q, kv, ffn, layers := gs.Masks()
	return &reference.Masks{Hidden: h, Q: q, KV: kv, FFN: ffn, Layers: layers}
}

func maxDev(a, b [][]float64) float64 {
	m := 0.0
	for i := range a {
		for j := range a[i] {
			m = math.Max(m, math.Abs(a[i][j]-b[i][j]))
		}
	}
	return m
}

var msgIDs = []int{1, 9, 3, 27, 0, 5, 14}

// TestMSGIndependentOfNewWeights: at mask 0 the masked forward pass of an MSG
// result equals the source's, and does not change when the new weights are
// drawn with another seed (a property of the masks, not of the weights).
func TestMSGIndependentOfNewWeights(t *testing.T) {
	for _, c := range []struct {
		name string
		spec reference.Spec
		op   MSG
	}{
		{"llama all dims", llamaGQA, MSG{Width: Width{Hidden: 80, Heads: 10, KVHeads: 5, FFN: 200}, Layers: 4}},
		{"gpt2 ffn+layers", gpt2, MSG{Width: Width{FFN: 300}, Layers: 3}},
		{"gpt2 hidden", gpt2, MSG{Width: Width{Hidden: 80, Heads: 5}}},
		{"bert all dims", bert, MSG{Width: Width{Hidden: 80, Heads: 5, FFN: 160}, Layers: 3}},
	} {
		src := randomGraph(c.spec, 1)
		want := reference.Forward(t, src, msgIDs, nil)
		var first [][]float64
		for _, seed := range []int64{1, 2, 3} {
			op := c.op
			op.Seed = seed
			r, err := Expand(src, &op)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got := reference.ForwardMasked(t, r.Graph, msgIDs, nil, refMasks(msgState(t, r)))
			scale := 1.0
			for _, row := range want.Logits {
				for _, v := range row {
					scale = math.Max(scale, math.Abs(v))
				}
			}
			if d := maxDev(want.Logits, got.Logits); d > 1e-12*scale {
				t.Errorf("%s seed %d: masked logits differ from the source's by %g", c.name, seed, d)
			}
			if first == nil {
				first = got.Logits
			} else if d := maxDev(first, got.Logits); d != 0 {
				t.Errorf("%s seed %d: the masked output depends on the new weights (%g)", c.name, seed, d)
			}
			if seed == 2 && slices.Equal(reference.Values(t, r.Graph.Layers[0].Up.W), reference.Values(t, src.Layers[0].Up.W)) {
				t.Errorf("%s: the up projection did not grow", c.name)
			}
		}
	}
}

// TestMSGMaskOne: with every mask at 1 the masked forward pass is the plain
// forward pass of the grown checkpoint.
func TestMSGMaskOne(t *testing.T) {
	src := randomGraph(llamaGQA, 2)
	r, err := Expand(src, &MSG{Width: Width{Hidden: 80, Heads: 10, KVHeads: 5, FFN: 200}, Layers: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	gs := msgState(t, r)
	gs.MaskValue = 1
	masked := reference.ForwardMasked(t, r.Graph, msgIDs, nil, refMasks(gs))
	plain := reference.Forward(t, r.Graph, msgIDs, nil)
	if d := maxDev(masked.Logits, plain.Logits); d != 0 {
		t.Errorf("masks at 1 change the logits by %g", d)
	}
}

// TestBake: a baked checkpoint's plain forward pass is its masked one where
// bake is exact (FFN and heads at any mask value, new pre-LN blocks and an
// RMSNorm model's hidden growth at 0), and bake refuses the rest.
func TestBake(t *testing.T) {
	llama := randomGraph(llamaGQA, 3)
	for _, c := range []struct {
		name string
		src  *graph.Graph
		op   MSG
		mask float64
		want string // refusal, or "" for a bake that must be exact
	}{
		{"ffn at 0.3", llama, MSG{Width: Width{FFN: 200}}, 0.3, ""},
		{"heads and ffn at 0.7", llama, MSG{Width: Width{Heads: 16, KVHeads: 8, FFN: 344}}, 0.7, ""},
		{"everything at 1", llama, MSG{Width: Width{Hidden: 80, Heads: 10, KVHeads: 5, FFN: 200}, Layers: 4}, 1, ""},
		{"all at 0", llama, MSG{Width: Width{Hidden: 80, Heads: 10, KVHeads: 5, FFN: 200}, Layers: 4}, 0, ""},
		{"ffn and layers at 0 gpt2", randomGraph(gpt2, 3), MSG{Width: Width{FFN: 300}, Layers: 3}, 0, ""},
		{"hidden at 0.5", llama, MSG{Width: Width{Hidden: 80, Heads: 10, KVHeads: 5}}, 0.5, "weights the norms' statistics"},
		{"layernorm hidden at 0", randomGraph(gpt2, 3), MSG{Width: Width{Hidden: 80, Heads: 5}}, 0, "only for pre-LN RMSNorm models"},
		{"layers at 0.5", llama, MSG{Layers: 3}, 0.5, "blends its output"},
		{"post-LN layers at 0", randomGraph(bert, 3), MSG{Layers: 3}, 0, "post-LN block"},
	} {
		op := c.op
		op.Seed = 9
		r, err := Expand(c.src, &op)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		gs := msgState(t, r)
		gs.MaskValue = c.mask
		baked, err := Bake(r.Graph, gs)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		masked := reference.ForwardMasked(t, r.Graph, msgIDs, nil, refMasks(gs))
		plain := reference.Forward(t, baked, msgIDs, nil)
		if d := maxDev(masked.Logits, plain.Logits); d > 1e-9 {
			t.Errorf("%s: baked logits differ from the masked ones by %g", c.name, d)
		}
	}
}

func TestMSGRefusals(t *testing.T) {
	llama := randomGraph(llamaGQA, 1)
	for _, c := range []struct {
		name string
		op   MSG
		want string
	}{
		{"fewer layers", MSG{Layers: 1}, "fewer than the source's 2"},
		{"group size", MSG{Width: Width{Hidden: 96, Heads: 12, KVHeads: 4}}, "whole key/value groups"},
		{"new-init", MSG{Width: Width{FFN: 200}, NewInit: "uniform"}, "normal:STD"},
		{"smaller hidden", MSG{Width: Width{Hidden: 32}}, "smaller"},
	} {
		_, err := Expand(llama, &c.op)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestMSGTestdata: MSG of the testdata checkpoints (stories260k, GPT-2, BERT)
// in every dimension at once is EXACT under its masks, judged by
// probe.Check with the masks the result writes.
func TestMSGTestdata(t *testing.T) {
	for _, c := range []struct {
		dir string
		op  MSG
	}{
		{stories, MSG{Width: Width{Hidden: 96, Heads: 12, KVHeads: 6, FFN: 256}, Layers: 7}},
		{"../testdata/gpt2-random-realtok", MSG{Width: Width{Hidden: 4, Heads: 2, FFN: 12}, Layers: 2}},
		{"../testdata/bert-random-realtok", MSG{Width: Width{Hidden: 8, Heads: 2, FFN: 12}, Layers: 3}},
	} {
		src := reference.OpenGraph(t, c.dir)
		op := c.op
		op.Seed = 5
		r, err := Expand(src, &op)
		if err != nil {
			t.Fatalf("%s: %v", c.dir, err)
		}
		masks := probe.GrowthMasksOf(msgState(t, r))
		rep, err := probe.Check(src, r.Graph, &r.Mapping, probe.CheckOptions{Probes: 4, SeqLen: 16, Growth: masks})
		if err != nil {
			t.Fatalf("%s: %v", c.dir, err)
		}
		if !rep.Pass || rep.Class != claim.Exact || rep.MaxAbs > 1e-12 {
			t.Errorf("%s: %s %s, max |Δlogits| %g", c.dir, rep.Class, rep.Verdict, rep.MaxAbs)
		}
		if _, err := probe.Check(src, r.Graph, &r.Mapping, probe.CheckOptions{Probes: 2, SeqLen: 8}); err == nil {
			t.Errorf("%s: a masked claim was checked without its masks", c.dir)
		}
	}
}
