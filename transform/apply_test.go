package transform

import (
	"math"
	"slices"
	"testing"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

var llama = reference.Spec{Family: graph.FamilyLlama, D: 32, H: 4, K: 2, I: 48, V: 30, L: 3, Tied: true, Seed: 1}

// same is a plan that changes nothing but what layers says.
func layerPlan(g *graph.Graph, layers []LayerSource) *Plan {
	d := g.Dims
	d.Layers = len(layers)
	return &Plan{Operator: "test", Class: claim.Exact, Dims: d, Layers: layers}
}

func maxDiff(a, b [][]float64) float64 {
	m := 0.0
	for i := range a {
		for j := range a[i] {
			m = math.Max(m, math.Abs(a[i][j]-b[i][j]))
		}
	}
	return m
}

// TestIdentityBlocks: blocks whose output projections are zero add nothing
// to the residual stream of a pre-LN model, so inserting them keeps every
// logit bit for bit, and the layer map says which source state each hidden
// state equals.
func TestIdentityBlocks(t *testing.T) {
	g := reference.Synth(llama)
	p := layerPlan(g, []LayerSource{
		Copy(0), {From: []Weighted{{0, 1}}, Identity: true}, Copy(1),
		Copy(2), {From: []Weighted{{2, 1}}, Identity: true},
	})
	r, err := Apply(g, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.LayerMap(3), []int{0, 1, 1, 2, 3, 3}; !slices.Equal(got, want) {
		t.Errorf("layer map %v, want %v", got, want)
	}
	ids := []int{1, 5, 9, 2, 29, 0, 7}
	src, dst := reference.Forward(t, g, ids, nil), reference.Forward(t, r.Graph, ids, nil)
	if d := maxDiff(src.Logits, dst.Logits); d != 0 {
		t.Errorf("identity blocks change the logits by %g", d)
	}
	for j, s := range p.LayerMap(3) {
		if d := maxDiff(src.Hidden[s], dst.Hidden[j]); d != 0 {
			t.Errorf("hidden state %d differs from source state %d by %g", j, s, d)
		}
	}
	if len(r.Graph.Layers) != 5 || r.Graph.Dims.Layers != 5 {
		t.Errorf("%d layers (dims %d), want 5", len(r.Graph.Layers), r.Graph.Dims.Layers)
	}
	if v := reference.Values(t, r.Graph.Layers[1].O.W); slices.ContainsFunc(v, func(x float64) bool { return x != 0 }) {
		t.Error("the identity block's o_proj is not zero")
	}
}

// TestCombinedAndDroppedLayers: a layer made from several source layers is
// their weighted sum, tensor by tensor; source layers no result layer names
// are dropped.
func TestCombinedAndDroppedLayers(t *testing.T) {
	g := reference.Synth(llama)
	r, err := Apply(g, layerPlan(g, []LayerSource{
		{From: []Weighted{{0, 0.25}, {2, 0.75}}}, Copy(2),
	}))
	if err != nil {
		t.Fatal(err)
	}
	a, b := reference.Values(t, g.Layers[0].Up.W), reference.Values(t, g.Layers[2].Up.W)
	got := reference.Values(t, r.Graph.Layers[0].Up.W)
	for i := range got {
		if want := 0.25*a[i] + 0.75*b[i]; math.Abs(got[i]-want) > 1e-15 {
			t.Fatalf("combined up_proj[%d] = %g, want %g", i, got[i], want)
		}
	}
	if !slices.Equal(reference.Values(t, r.Graph.Layers[1].Q.W), reference.Values(t, g.Layers[2].Q.W)) {
		t.Error("copied layer 2 differs from the source's")
	}
	if r.Graph.Dims.Layers != 2 {
		t.Errorf("%d layers, want 2", r.Graph.Dims.Layers)
	}
}

// TestSelectFFN: a selection on the FFN axis keeps the chosen units in every
// tensor that has the axis (up and gate rows, down columns), with no
// division, and nothing else changes.
func TestSelectFFN(t *testing.T) {
	g := reference.Synth(llama)
	keep := []int{5, 0, 47, 12}
	m, err := Select(llama.I, keep)
	if err != nil {
		t.Fatal(err)
	}
	d := g.Dims
	d.FFN = len(keep)
	r, err := Apply(g, &Plan{Operator: "select", Class: claim.NonPreserving, Dims: d, Maps: map[graph.Axis]*Map{graph.FFN: m}})
	if err != nil {
		t.Fatal(err)
	}
	for l := range g.Layers {
		up, down := reference.Values(t, g.Layers[l].Up.W), reference.Values(t, g.Layers[l].Down.W)
		gotUp, gotDown := reference.Values(t, r.Graph.Layers[l].Up.W), reference.Values(t, r.Graph.Layers[l].Down.W)
		for i, j := range keep {
			if !slices.Equal(gotUp[i*llama.D:(i+1)*llama.D], up[j*llama.D:(j+1)*llama.D]) {
				t.Fatalf("layer %d up row %d is not source row %d", l, i, j)
			}
			for o := 0; o < llama.D; o++ {
				if gotDown[o*len(keep)+i] != down[o*llama.I+j] {
					t.Fatalf("layer %d down[%d][%d] is not source [%d][%d]", l, o, i, o, j)
				}
			}
		}
		if r.Graph.Layers[l].Q.W != g.Layers[l].Q.W {
			t.Errorf("layer %d: q_proj was rebuilt though no axis of it changed", l)
		}
	}
	if _, err := Select(4, []int{1, 1}); err == nil {
		t.Error("Select accepted an index twice")
	}
	if _, err := Select(4, []int{4}); err == nil {
		t.Error("Select accepted an index outside the axis")
	}
}

// TestPlanRefusals: plans that do not fit the graph are errors, not panics.
func TestPlanRefusals(t *testing.T) {
	g := reference.Synth(llama)
	d := g.Dims
	for name, p := range map[string]*Plan{
		"map of the wrong size": {Operator: "x", Dims: d, Maps: map[graph.Axis]*Map{graph.FFN: Identity(7)}},
		"layers without a map":  {Operator: "x", Dims: graph.Dims{Hidden: d.Hidden, Layers: 9}},
		"no source layer":       layerPlan(g, []LayerSource{{}}),
		"source layer too deep": layerPlan(g, []LayerSource{Copy(3)}),
		"nil map":               {Operator: "x", Dims: d, Maps: map[graph.Axis]*Map{graph.FFN: nil}},
	} {
		if _, err := Apply(g, p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestReportSaysSelect: the report names a selection as one.
func TestReportSaysSelect(t *testing.T) {
	g := reference.Synth(llama)
	m, _ := Select(llama.I, []int{3, 1})
	d := g.Dims
	d.FFN = 2
	r, err := Apply(g, &Plan{Operator: "select", Class: claim.NonPreserving, Dims: d, Maps: map[graph.Axis]*Map{graph.FFN: m}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Report.Tensors {
		if s.Role == "layers.0.mlp.up.weight" && s.Rule != "ffn select 2 of 48; hidden kept" {
			t.Errorf("up_proj rule %q", s.Rule)
		}
	}
}

// TestSourceUnchanged: reading a result's tensors never changes the
// source's, also when a rule scales values (QK-norm families under an eps
// scale) and the source holds its data in memory.
func TestSourceUnchanged(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "qwen3", D: 32, H: 4, K: 2, HeadDim: 8, I: 48, V: 30, L: 1, Seed: 2})
	before := slices.Clone(reference.Values(t, g.Layers[0].Q.W))
	d := g.Dims
	d.Hidden = 48
	p := &Plan{Operator: "test", Class: claim.Exact, Dims: d,
		Maps:   map[graph.Axis]*Map{graph.Residual: TileResidue(32, 48, FillZero, FillZero)},
		Values: Values{EpsScale: 32.0 / 48, NormScale: math.Sqrt(32.0 / 48)}}
	r, err := Apply(g, p)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		reference.Values(t, r.Graph.Layers[0].Q.W)
	}
	if !slices.Equal(before, reference.Values(t, g.Layers[0].Q.W)) {
		t.Error("reading the result changed the source's q_proj")
	}
}

// TestLayerMaps: each layer keeps its own FFN units and heads when the plan
// maps them per layer, and the axes every layer shares are refused there.
func TestLayerMaps(t *testing.T) {
	g := reference.Synth(llama)
	keep := [][]int{{5, 0, 47}, {1, 2, 3}, {46, 9, 30}}
	d := g.Dims
	d.FFN, d.Heads, d.KVHeads = 3, 2, 1
	lm := make([]map[graph.Axis]*Map, len(keep))
	heads := [][]int{{0, 1}, {2, 3}, {3, 2}}
	for l, k := range keep {
		f, err := Select(llama.I, k)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := Select(llama.H, heads[l])
		kv, _ := Select(llama.K, []int{heads[l][0] / 2})
		lm[l] = map[graph.Axis]*Map{graph.FFN: f, graph.QHeads: Block(q, g.HeadDim), graph.KVHeads: Block(kv, g.HeadDim)}
	}
	r, err := Apply(g, &Plan{Operator: "select", Class: claim.NonPreserving, Dims: d, LayerMaps: lm})
	if err != nil {
		t.Fatal(err)
	}
	D, hd := llama.D, g.HeadDim
	for l := range g.Layers {
		up, gotUp := reference.Values(t, g.Layers[l].Up.W), reference.Values(t, r.Graph.Layers[l].Up.W)
		for i, j := range keep[l] {
			if !slices.Equal(gotUp[i*D:(i+1)*D], up[j*D:(j+1)*D]) {
				t.Fatalf("layer %d up row %d is not source row %d", l, i, j)
			}
		}
		q, gotQ := reference.Values(t, g.Layers[l].Q.W), reference.Values(t, r.Graph.Layers[l].Q.W)
		for i, h := range heads[l] {
			if !slices.Equal(gotQ[i*hd*D:(i+1)*hd*D], q[h*hd*D:(h+1)*hd*D]) {
				t.Fatalf("layer %d query head %d is not source head %d", l, i, h)
			}
		}
	}
	res, _ := Select(llama.D, []int{0, 1})
	for name, p := range map[string]*Plan{
		"residual per layer": {Operator: "x", Dims: g.Dims, LayerMaps: []map[graph.Axis]*Map{{graph.Residual: res}, nil, nil}},
		"too few layers":     {Operator: "x", Dims: g.Dims, LayerMaps: []map[graph.Axis]*Map{nil}},
		"wrong size":         {Operator: "x", Dims: g.Dims, LayerMaps: []map[graph.Axis]*Map{{graph.FFN: Identity(7)}, nil, nil}},
	} {
		if _, err := Apply(g, p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestAsIs: with Values.AsIs a family that scales its embeddings by
// sqrt(hidden) keeps the selected embedding entries as they are (and its
// tie); without it the embedding is rescaled for the new width.
func TestAsIs(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "gemma", D: 32, H: 4, K: 2, HeadDim: 8, I: 48, V: 30, L: 1, Tied: true, Seed: 3})
	keep := []int{1, 5, 9, 30}
	m, err := Select(32, keep)
	if err != nil {
		t.Fatal(err)
	}
	d := g.Dims
	d.Hidden = len(keep)
	for _, asIs := range []bool{true, false} {
		r, err := Apply(g, &Plan{Operator: "select", Class: claim.NonPreserving, Dims: d,
			Maps: map[graph.Axis]*Map{graph.Residual: m}, Values: Values{AsIs: asIs}})
		if err != nil {
			t.Fatal(err)
		}
		src, got := reference.Values(t, g.Embed), reference.Values(t, r.Graph.Embed)
		same := true
		for v := 0; v < 30; v++ {
			for i, j := range keep {
				same = same && got[v*len(keep)+i] == src[v*32+j]
			}
		}
		if same != asIs || r.Graph.Tied != asIs {
			t.Errorf("AsIs %v: embedding entries copied as they are %v, tied %v", asIs, same, r.Graph.Tied)
		}
	}
}

// TestNewRows: a vocabulary map with a row function gives the new tokens'
// rows in the embedding, an untied head and its bias the values the function
// computes from each tensor's source; the old rows, and so the logits of old
// tokens, are unchanged.
func TestNewRows(t *testing.T) {
	spec := llama
	spec.Tied = false
	g := reference.Synth(spec)
	old := g.Vocab
	d := g.Dims
	d.Vocab = old + 3
	seen := map[string]int{}
	f := func(role string, src RowSource) ([][]float64, error) {
		seen[role] = src.Rows()
		rows := make([][]float64, 3)
		first := make([]float64, src.Cols())
		src.Row(0, first)
		for k := range rows {
			rows[k] = make([]float64, src.Cols())
			for i := range rows[k] {
				rows[k][i] = float64(k+1) * first[i]
			}
		}
		return rows, nil
	}
	p := &Plan{Operator: "test", Class: claim.Exact, Dims: d,
		Maps: map[graph.Axis]*Map{graph.Vocab: Pad(old, old+3, FillMean, FillZero).WithNewRows(f)}}
	r, err := Apply(g, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role     string
		src, dst graph.Tensor
	}{{"embed", g.Embed, r.Graph.Embed}, {"head", g.Head, r.Graph.Head}} {
		s, v := reference.Values(t, tc.src), reference.Values(t, tc.dst)
		D := g.Hidden
		if len(v) != (old+3)*D || !slices.Equal(v[:old*D], s) {
			t.Fatalf("%s: old rows changed or wrong size %d", tc.role, len(v))
		}
		for k := 0; k < 3; k++ {
			for i := 0; i < D; i++ {
				if v[(old+k)*D+i] != float64(k+1)*s[i] {
					t.Fatalf("%s: new row %d col %d = %g, want %g", tc.role, k, i, v[(old+k)*D+i], float64(k+1)*s[i])
				}
			}
		}
		if seen[tc.role] != old {
			t.Errorf("%s: the row function saw %d source rows, want %d", tc.role, seen[tc.role], old)
		}
	}
	ids := []int{1, 5, 9, 2, 29, 0, 7}
	src, dst := reference.Forward(t, g, ids, nil), reference.Forward(t, r.Graph, ids, nil)
	for p := range src.Logits {
		if !slices.Equal(src.Logits[p], dst.Logits[p][:old]) {
			t.Fatalf("position %d: old logits changed", p)
		}
	}
}

// TestUntie: an untied copy of a tied head has the embedding's rows and its
// own new rows; the logits of old tokens are unchanged.
func TestUntie(t *testing.T) {
	g := reference.Synth(llama)
	old := g.Vocab
	d := g.Dims
	d.Vocab = old + 2
	f := func(role string, src RowSource) ([][]float64, error) {
		v := 1.0
		if role == "head" {
			v = -1
		}
		rows := [][]float64{make([]float64, src.Cols()), make([]float64, src.Cols())}
		for k := range rows {
			for i := range rows[k] {
				rows[k][i] = v * 0.01 * float64(i+k)
			}
		}
		return rows, nil
	}
	p := &Plan{Operator: "test", Class: claim.Exact, Dims: d, Untie: true,
		Maps: map[graph.Axis]*Map{graph.Vocab: Pad(old, old+2, FillMean, FillZero).WithNewRows(f)}}
	r, err := Apply(g, p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Graph.Tied || r.Graph.Head == nil {
		t.Fatal("the head is still tied")
	}
	e, h := reference.Values(t, r.Graph.Embed), reference.Values(t, r.Graph.Head)
	D := g.Hidden
	if !slices.Equal(e[:old*D], h[:old*D]) || e[old*D+1] != -h[old*D+1] || e[old*D+1] == 0 {
		t.Error("untied head: wrong old or new rows")
	}
	ids := []int{1, 5, 9, 2, 29, 0, 7}
	src, dst := reference.Forward(t, g, ids, nil), reference.Forward(t, r.Graph, ids, nil)
	for p := range src.Logits {
		if !slices.Equal(src.Logits[p], dst.Logits[p][:old]) {
			t.Fatalf("position %d: old logits changed", p)
		}
	}
}
