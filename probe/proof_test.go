package probe

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

// TestCheckUnrelated: models whose embeddings correspond under no hidden map
// fail as unrelated; a grown-looking pair (a tiled embedding) is related.
func TestCheckUnrelated(t *testing.T) {
	a := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 8, L: 1, H: 2, I: 16, V: 50, Seed: 1})
	b := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 1, H: 4, I: 16, V: 50, Seed: 2})
	rep, err := Check(a, b, nil, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || rep.Relation == nil || rep.Relation.Related || rep.Relation.Claimed ||
		!strings.Contains(rep.Verdict, "FAIL: the models are unrelated: their embeddings do not correspond under any tile or pad map") {
		t.Errorf("unrelated, no claim: %s (%+v)", rep.Verdict, rep.Relation)
	}
	// b's embedding replaced by a's tiled twice: related under tile, and
	// with no claim nothing to verify.
	ea := reference.Values(t, a.Embed)
	tiled := make([]float64, 50*16)
	for r := range 50 {
		copy(tiled[r*16:], ea[r*8:(r+1)*8])
		copy(tiled[r*16+8:], ea[r*8:(r+1)*8])
	}
	c := clone(b)
	c.Embed = graph.NewDense64(tiled, checkpoint.F64, 50, 16)
	rep, err = Check(a, c, nil, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Verified || rep.Outcome != OutcomeUnverified || !rep.Relation.Related ||
		rep.Relation.Map != "tile 8→16" || rep.Relation.MedianCosine < 0.999 {
		t.Errorf("tiled embedding, no claim: %s (%+v)", rep.Verdict, rep.Relation)
	}
	// NON-PRESERVING claims nothing about relatedness: reported, not failed.
	rep, err = Check(a, b, &Mapping{Class: NonPreserving, Hidden: HiddenMap{Kind: "tile", Src: 8, Dst: 16}}, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Outcome != OutcomeUnverified || !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.Contains(n, "the models look unrelated")
	}) {
		t.Errorf("unrelated, NON-PRESERVING: %s %v", rep.Verdict, rep.Notes)
	}
	// A narrower result: no map leads there.
	rep, err = Check(b, a, nil, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || !strings.Contains(rep.Verdict, "no hidden-state map leads from the source's 16 coordinates to the result's 8") {
		t.Errorf("narrower: %s", rep.Verdict)
	}
}

// nanAt returns a copy of t's values with v at flat index i, as a Dense.
func nanAt(tb testing.TB, t graph.Tensor, i int, v float64) graph.Tensor {
	x := append([]float64(nil), reference.Values(tb, t)...)
	x[i] = v
	return graph.NewDense64(x, checkpoint.F64, t.Shape()...)
}

// TestNonFiniteWeights: New, Check and CheckFinite refuse a NaN or an
// infinity, naming the tensor and the first index; from a checkpoint the name
// and index are the stored tensor's.
func TestNonFiniteWeights(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyGPT2, D: 8, L: 2, H: 2, I: 16, V: 30, Seed: 5, Tied: true})
	bad := clone(g)
	bad.Layers[1].Up.W = nanAt(t, g.Layers[1].Up.W, 3*8+5, math.NaN())
	bad.Layers[1].Up.W = nanAt(t, bad.Layers[1].Up.W, 7*8+1, math.Inf(1))
	for _, prec := range []Precision{F64, F32} {
		_, err := New(bad, prec)
		var nf *NonFiniteError
		if !errors.As(err, &nf) || nf.Tensor != "layers.1.mlp.up[0].weight" || !slices.Equal(nf.Index, []int{3, 5}) ||
			!math.IsNaN(nf.Value) || nf.Count != 2 {
			t.Errorf("%s: %v", prec, err)
		}
	}
	if err := CheckFinite(g); err != nil {
		t.Errorf("finite graph: %v", err)
	}
	if err := CheckFinite(bad); err == nil || !strings.Contains(err.Error(), "holds NaN at index [3 5] (and 1 more non-finite values)") {
		t.Errorf("CheckFinite: %v", err)
	}
	if _, err := Check(g, bad, nil, CheckOptions{Probes: 2, SeqLen: 4}); err == nil || !strings.HasPrefix(err.Error(), "result: probe: tensor") {
		t.Errorf("Check: %v", err)
	}
	neg := clone(g)
	neg.FinalNorm.B = nanAt(t, g.FinalNorm.B, 6, math.Inf(-1))
	if _, err := Check(neg, g, nil, CheckOptions{Probes: 2, SeqLen: 4}); err == nil ||
		err.Error() != "source: probe: tensor final_norm.bias holds -Inf at index [6]: NaN and infinite weights are refused" {
		t.Errorf("Check: %v", err)
	}
}

// TestNonFiniteIndexInCheckpoint: a transposed, sliced view (GPT-2's fused
// c_attn) names the checkpoint tensor and the index as stored.
func TestNonFiniteIndexInCheckpoint(t *testing.T) {
	src := &checkpoint.Tensor{Name: "h.0.attn.c_attn.weight", DType: checkpoint.F32, Shape: []int{4, 12}}
	v := &graph.View{Src: src, Transposed: true, Lo: 4, Hi: 8} // the k part: rows 4..7 of the [12, 4] view
	x := make([]float32, 16)
	x[2*4+3] = float32(math.NaN()) // view row 2, column 3
	err := checkFinite(x, v, "layers.0.attn.k.weight")
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Tensor != `"h.0.attn.c_attn.weightᵀ[4:8]"` || !slices.Equal(nf.Index, []int{3, 6}) {
		t.Errorf("%v", err)
	}
}

// TestSpecialIDs: a start or padding id outside the vocabulary is refused
// where it is used, naming the key.
func TestSpecialIDs(t *testing.T) {
	cfg := func(js string) *checkpoint.Config {
		c, err := checkpoint.ParseConfig([]byte(js), "config.json")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 8, L: 1, H: 2, I: 16, V: 50, Seed: 1})
	base := `{"model_type": "llama", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 50`
	for _, tc := range []struct {
		cfg, err string
		first    []int
	}{
		{base + `}`, "", nil},
		{base + `, "bos_token_id": null}`, "", nil},
		{base + `, "bos_token_id": 7}`, "", []int{7}},
		{base + `, "bos_token_id": 99999}`, "probe: config.json: bos_token_id 99999 is outside the vocabulary [0, 50)", nil},
		{base + `, "bos_token_id": -1}`, "probe: config.json: bos_token_id -1 is outside the vocabulary [0, 50)", nil},
		{base + `, "bos_token_id": 1.5}`, "probe: config.json: bos_token_id 1.5 is not a token id", nil},
		{base + `, "bos_token_id": "<s>"}`, `probe: config.json: bos_token_id "<s>" is not a token id`, nil},
	} {
		c := clone(g)
		c.Config = cfg(tc.cfg)
		first, err := FirstIDs(c)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) || !slices.Equal(first, tc.first) {
			t.Errorf("%s: %v %v, want %v %q", tc.cfg, first, err, tc.first, tc.err)
		}
		if tc.err != "" {
			if _, err := Check(c, c, nil, CheckOptions{Probes: 2, SeqLen: 4}); err == nil || err.Error() != "source: "+tc.err {
				t.Errorf("Check with %s: %v", tc.cfg, err)
			}
		}
	}
	bert := reference.Synth(reference.Spec{Family: graph.FamilyBERT, D: 8, L: 1, H: 2, I: 16, V: 30, P: 16, MLM: true, Seed: 3})
	bert.Config = cfg(`{"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
		"intermediate_size": 16, "vocab_size": 30, "max_position_embeddings": 16, "pad_token_id": 30}`)
	if _, err := Check(bert, bert, nil, CheckOptions{Probes: 2, SeqLen: 8}); err == nil ||
		err.Error() != "source: probe: config.json: pad_token_id 30 is outside the vocabulary [0, 30)" {
		t.Errorf("BERT pad_token_id 30: %v", err)
	}
}
