package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

// permRows returns t with block i of rows taken from block perm[i] (blocks of
// `block` rows); permCols does the same on columns.
func permRows(t testing.TB, x graph.Tensor, perm []int, block int) graph.Tensor {
	if x == nil {
		return nil
	}
	v := reference.Values(t, x)
	shape := x.Shape()
	cols := 1
	if len(shape) == 2 {
		cols = shape[1]
	}
	out := make([]float64, len(v))
	for i, p := range perm {
		copy(out[i*block*cols:(i+1)*block*cols], v[p*block*cols:(p+1)*block*cols])
	}
	return graph.NewDense64(out, checkpoint.F64, shape...)
}

func permCols(t testing.TB, x graph.Tensor, perm []int, block int) graph.Tensor {
	v := reference.Values(t, x)
	shape := x.Shape()
	rows, cols := shape[0], shape[1]
	out := make([]float64, len(v))
	for r := 0; r < rows; r++ {
		for i, p := range perm {
			copy(out[r*cols+i*block:r*cols+(i+1)*block], v[r*cols+p*block:r*cols+(p+1)*block])
		}
	}
	return graph.NewDense64(out, checkpoint.F64, shape...)
}

// clone returns a copy of g whose layer slice can be edited without touching g.
func clone(g *graph.Graph) *graph.Graph {
	c := *g
	c.Layers = append([]graph.Layer(nil), g.Layers...)
	return &c
}

// permuteHeads permutes the kv heads by sigma and, inside every group, the query
// heads by tau: a function-preserving change (query head i keeps reading the kv
// head it read before).
func permuteHeads(t testing.TB, g *graph.Graph, sigma, tau []int) *graph.Graph {
	c := clone(g)
	grp := g.Heads / g.KVHeads
	pi := make([]int, g.Heads)
	for i := range pi {
		pi[i] = sigma[i/grp]*grp + tau[i%grp]
	}
	d := g.HeadDim
	for l := range c.Layers {
		ly := &c.Layers[l]
		ly.Q = graph.Linear{W: permRows(t, ly.Q.W, pi, d), B: permRows(t, ly.Q.B, pi, d)}
		ly.K = graph.Linear{W: permRows(t, ly.K.W, sigma, d), B: permRows(t, ly.K.B, sigma, d)}
		ly.V = graph.Linear{W: permRows(t, ly.V.W, sigma, d), B: permRows(t, ly.V.B, sigma, d)}
		ly.O = graph.Linear{W: permCols(t, ly.O.W, pi, d), B: ly.O.B}
	}
	return c
}

// permuteFFN permutes the FFN units.
func permuteFFN(t testing.TB, g *graph.Graph, rho []int) *graph.Graph {
	c := clone(g)
	for l := range c.Layers {
		ly := &c.Layers[l]
		ly.Up = graph.Linear{W: permRows(t, ly.Up.W, rho, 1), B: permRows(t, ly.Up.B, rho, 1)}
		if ly.Gate.W != nil {
			ly.Gate = graph.Linear{W: permRows(t, ly.Gate.W, rho, 1), B: permRows(t, ly.Gate.B, rho, 1)}
		}
		ly.Down = graph.Linear{W: permCols(t, ly.Down.W, rho, 1), B: ly.Down.B}
	}
	return c
}

// interleaveRope reorders the q and k rows inside every head from rotate_half
// (pairs j, j+d/2) to the interleaved layout (pairs 2j, 2j+1), as llama2.c
// stores them: without RoPE this would change nothing, with it the model breaks.
func interleaveRope(t testing.TB, g *graph.Graph) *graph.Graph {
	c := clone(g)
	d := g.HeadDim
	within := make([]int, d)
	for p := 0; p < d/2; p++ {
		within[2*p] = p
		within[2*p+1] = p + d/2
	}
	rows := func(x graph.Tensor, heads int) graph.Tensor {
		perm := make([]int, heads*d)
		for h := 0; h < heads; h++ {
			for r := 0; r < d; r++ {
				perm[h*d+r] = h*d + within[r]
			}
		}
		return permRows(t, x, perm, 1)
	}
	for l := range c.Layers {
		ly := &c.Layers[l]
		ly.Q.W = rows(ly.Q.W, g.Heads)
		ly.K.W = rows(ly.K.W, g.KVHeads)
	}
	return c
}

// nudge returns g with one weight of layer 0's down projection changed by delta.
func nudge(t testing.TB, g *graph.Graph, delta float64) *graph.Graph {
	c := clone(g)
	v := append([]float64(nil), reference.Values(t, g.Layers[0].Down.W)...)
	v[len(v)/3] += delta
	c.Layers[0].Down.W = graph.NewDense64(v, checkpoint.F64, g.Layers[0].Down.W.Shape()...)
	return c
}

func reverse(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = n - 1 - i
	}
	return p
}

// TestCheckTrustworthy is the list: itself → exactly 0; one weight off by
// 1e-3 → flagged; permuted heads and FFN units → EXACT; the RoPE layout swapped
// → fails. On the trained stories260k model and on random models of every family.
func TestCheckTrustworthy(t *testing.T) {
	models := map[string]*graph.Graph{
		"stories260k": reference.OpenGraph(t, "../testdata/stories260k"),
		"gpt2":        reference.Synth(reference.Spec{Family: graph.FamilyGPT2, D: 8, L: 2, H: 2, I: 32, V: 50, Tied: true, Seed: 2}),
		"llama-gqa":   reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Bias: true, Seed: 2}),
		"bert":        reference.Synth(reference.Spec{Family: graph.FamilyBERT, D: 8, L: 2, H: 2, I: 16, V: 40, MLM: true, Seed: 2}),
	}
	for name, g := range models {
		for _, prec := range []Precision{F64, F32} {
			opts := CheckOptions{Precision: prec, Probes: 4, SeqLen: 16}
			t.Run(name+"/"+string(prec), func(t *testing.T) {
				rep, err := Check(g, g, nil, opts)
				if err != nil {
					t.Fatal(err)
				}
				if rep.MaxAbs != 0 || rep.MaxKL != 0 || rep.MeanKL != 0 || rep.Top1 != 1 || !rep.Pass {
					t.Errorf("itself: max abs %g, KL %g/%g, top-1 %g, %s; want exactly 0 and PASS",
						rep.MaxAbs, rep.MeanKL, rep.MaxKL, rep.Top1, rep.Verdict)
				}
				for j, d := range rep.LayerDev {
					if d != 0 {
						t.Errorf("itself: hidden state %d deviates by %g", j, d)
					}
				}
				if len(rep.LayerDev) != g.Dims.Layers+1 || len(rep.PositionDev) != 16 || rep.Positions != 64 {
					t.Errorf("itself: %d layer deviations, %d position deviations, %d positions",
						len(rep.LayerDev), len(rep.PositionDev), rep.Positions)
				}
				bit, err := Check(g, g, &Mapping{Class: BitExact}, opts)
				if err != nil || !bit.Pass {
					t.Errorf("itself as BIT-EXACT: %v %+v", err, bit)
				}

				rep, err = Check(g, nudge(t, g, 1e-3), nil, opts)
				if err != nil {
					t.Fatal(err)
				}
				// f64 (the default for checks) must flag it; in f32 the EXACT
				// tolerance (1e-4·max(1, max|logits|)) can be larger than the
				// change, so there it must only be seen.
				if (prec == F64 && rep.Pass) || rep.MaxAbs == 0 {
					t.Errorf("one weight +1e-3: %s (max abs %g)", rep.Verdict, rep.MaxAbs)
				}
				// The hidden states before layer 0's MLP output are unchanged.
				if rep.LayerDev[0] != 0 || rep.LayerDev[1] == 0 {
					t.Errorf("one weight of layer 0 +1e-3: layer deviations %v, want 0 then > 0", rep.LayerDev)
				}

				if g.Family == graph.FamilyLlama {
					sigma, tau := reverse(g.KVHeads), reverse(g.Heads/g.KVHeads)
					rep, err = Check(g, permuteHeads(t, g, sigma, tau), nil, opts)
				} else {
					rep, err = Check(g, permuteHeads(t, g, reverse(g.Heads), []int{0}), nil, opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !rep.Pass || rep.Class != Exact {
					t.Errorf("heads permuted: %s", rep.Verdict)
				}
				rep, err = Check(g, permuteFFN(t, g, reverse(g.FFN)), nil, opts)
				if err != nil {
					t.Fatal(err)
				}
				if !rep.Pass {
					t.Errorf("FFN units permuted: %s", rep.Verdict)
				}

				if g.Family == graph.FamilyLlama {
					rep, err = Check(g, interleaveRope(t, g), nil, opts)
					if err != nil {
						t.Fatal(err)
					}
					if rep.Pass {
						t.Errorf("RoPE layout swapped: %s (max abs %g)", rep.Verdict, rep.MaxAbs)
					}
				}
			})
		}
	}
}

// TestCheckLayerMap: a block whose attention output and MLP output are zero is
// the identity (LLaMA-Pro); the grown model's hidden states equal the source's
// under the layer map [0 1 1 2 …], and a wrong layer map is caught.
func TestCheckLayerMap(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Seed: 4})
	grown := clone(g)
	id := g.Layers[0]
	id.O.W = graph.NewDense64(make([]float64, 16*16), checkpoint.F64, 16, 16)
	id.Down.W = graph.NewDense64(make([]float64, 16*24), checkpoint.F64, 16, 24)
	grown.Layers = []graph.Layer{g.Layers[0], id, g.Layers[1]}
	grown.Dims.Layers = 3
	m := &Mapping{Operator: "llamapro", Class: BitExact, Hidden: HiddenMap{Kind: "tile", Src: 16, Dst: 16},
		Layers: []int{0, 1, 1, 2}}
	rep, err := Check(g, grown, m, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.MaxAbs != 0 {
		t.Errorf("identity block: %s", rep.Verdict)
	}
	m.Layers = []int{0, 1, 2, 2}
	rep, err = Check(g, grown, m, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || !strings.Contains(rep.Verdict, "hidden state 2") {
		t.Errorf("wrong layer map: %s", rep.Verdict)
	}
	// Without a layer map the depths differ: logits still compared, layers not.
	rep, err = Check(g, grown, nil, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.LayerDev != nil || len(rep.Notes) == 0 {
		t.Errorf("no layer map: %s, layer deviation %v, notes %v", rep.Verdict, rep.LayerDev, rep.Notes)
	}
}

// TestCheckTolAndClasses: a claim that promises nothing (APPROX,
// NON-PRESERVING, EXACT-UP-TO-EPS without a bound) is reported, never passed;
// --tol is a bound that passes or fails it; --expect fails a weaker claim.
func TestCheckTolAndClasses(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyGPT2, D: 8, L: 1, H: 2, I: 16, V: 30, Seed: 9, Tied: true})
	n := nudge(t, g, 1e-2)
	hm := HiddenMap{Kind: "tile", Src: 8, Dst: 8}
	for _, class := range []string{Approx, NonPreserving, ExactUpToEps} {
		rep, err := Check(g, n, &Mapping{Class: class, Hidden: hm}, CheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass || rep.Verified || rep.Outcome != OutcomeUnverified || strings.Contains(rep.Verdict, "PASS") ||
			!strings.HasPrefix(rep.Verdict, "NOTHING TO VERIFY: ") {
			t.Errorf("%s: outcome %s, pass %v, verified %v: %s", class, rep.Outcome, rep.Pass, rep.Verified, rep.Verdict)
		}
		rep2, err := Check(g, n, &Mapping{Class: class, Hidden: hm}, CheckOptions{Tol: rep.MaxAbs / 2})
		if err != nil {
			t.Fatal(err)
		}
		if rep2.Pass || rep2.Outcome != OutcomeFail || !strings.Contains(rep2.Verdict, "exceeds the tolerance") {
			t.Errorf("%s with tol below the difference: %s", class, rep2.Verdict)
		}
		rep3, err := Check(g, n, &Mapping{Class: class, Hidden: hm}, CheckOptions{Tol: rep.MaxAbs * 2})
		if err != nil || !rep3.Pass || !rep3.Verified || !strings.HasPrefix(rep3.Verdict, "PASS (max |Δlogits|") {
			t.Errorf("%s with tol above the difference: %v %s", class, err, rep3.Verdict)
		}
		rep4, err := Check(g, g, &Mapping{Class: class, Hidden: hm}, CheckOptions{Expect: Exact})
		if err != nil || rep4.Pass || !strings.Contains(rep4.Verdict, "the claim is "+class+", weaker than the EXACT expected") {
			t.Errorf("%s with --expect EXACT: %v %s", class, err, rep4.Verdict)
		}
	}
	for _, tc := range []struct {
		class, expect string
		pass          bool
	}{
		{BitExact, Exact, true}, {Exact, Exact, true}, {Exact, BitExact, false}, {Approx, Approx, true},
	} {
		rep, err := Check(g, g, &Mapping{Class: tc.class, Hidden: hm}, CheckOptions{Expect: tc.expect})
		if err != nil || rep.Pass != tc.pass {
			t.Errorf("%s with --expect %s: %v %s", tc.class, tc.expect, err, rep.Verdict)
		}
	}
	if _, err := Check(g, g, nil, CheckOptions{Expect: "CLOSE"}); err == nil {
		t.Error("unknown expected class accepted")
	}
	if _, err := Check(g, g, &Mapping{Class: "EXACTISH"}, CheckOptions{}); err == nil {
		t.Error("unknown class accepted")
	}
	if _, err := Check(g, g, &Mapping{Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 8, Dst: 16}}, CheckOptions{}); err == nil {
		t.Error("a mapping that does not fit the models was accepted")
	}
	if _, err := Check(g, g, nil, CheckOptions{IDs: [][]int{{1, 30}}}); err == nil {
		t.Error("probe id outside the vocabulary accepted")
	}
}

func TestHiddenMapApply(t *testing.T) {
	x := []float64{1, 2, 4}
	cases := []struct {
		m    HiddenMap
		want []float64
	}{
		{HiddenMap{Kind: "tile", Src: 3, Dst: 3}, []float64{1, 2, 4}},
		{HiddenMap{Kind: "tile", Src: 3, Dst: 6}, []float64{1, 2, 4, 1, 2, 4}},
		{HiddenMap{Kind: "tile", Src: 3, Dst: 8, Fill: "mean"}, []float64{1, 2, 4, 1, 2, 4, 7.0 / 3, 7.0 / 3}},
		{HiddenMap{Kind: "tile", Src: 3, Dst: 7, Fill: "zero"}, []float64{1, 2, 4, 1, 2, 4, 0}},
		{HiddenMap{Kind: "pad", Src: 3, Dst: 5}, []float64{1, 2, 4, 0, 0}},
		{HiddenMap{Kind: "pad", Src: 3, Dst: 4, Fill: "mean"}, []float64{1, 2, 4, 7.0 / 3}},
	}
	for _, c := range cases {
		got := c.m.Apply(x)
		if maxAbsDiff(t, [][]float64{got}, [][]float64{c.want}) != 0 {
			t.Errorf("%+v: got %v, want %v", c.m, got, c.want)
		}
	}
}

func TestProbesDeterministic(t *testing.T) {
	a := Probes(3, 10, 50, 1, []int{7})
	b := Probes(3, 10, 50, 1, []int{7})
	c := Probes(3, 10, 50, 2, []int{7})
	if len(a) != 3 || a[0][0] != 7 || a[2][0] != 7 {
		t.Fatalf("probes %v", a)
	}
	same := func(x, y [][]int) bool {
		for i := range x {
			for j := range x[i] {
				if x[i][j] != y[i][j] {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) || same(a, c) {
		t.Errorf("seed 1 twice: equal %v; seeds 1 and 2: equal %v", same(a, b), same(a, c))
	}
	for _, s := range a {
		for _, id := range s {
			if id < 0 || id >= 50 {
				t.Errorf("id %d outside [0, 50)", id)
			}
		}
	}
}

// TestReadMapping writes a safetensors file with a mapping in its metadata and
// reads it back.
func TestReadMapping(t *testing.T) {
	dir := t.TempDir()
	want := Mapping{Operator: "hyperclone", Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 64, Dst: 128},
		Layers: []int{0, 1, 2}}
	js, _ := json.Marshal(want)
	path := filepath.Join(dir, "model.safetensors")
	write := func(meta map[string]string) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		e := checkpoint.Float32Entry("x", checkpoint.F32, []int{2}, func() ([]float32, error) { return []float32{1, 2}, nil })
		if err := checkpoint.WriteSafetensors(f, []checkpoint.Entry{e}, meta); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (*Mapping, bool, error) {
		c, err := checkpoint.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return ReadMapping(c)
	}
	write(map[string]string{"format": "pt", MetadataKey: string(js)})
	got, ok, err := read()
	if err != nil || !ok {
		t.Fatalf("ReadMapping: %v, %v", ok, err)
	}
	if got.Operator != want.Operator || got.Class != want.Class || got.Hidden != want.Hidden || len(got.Layers) != 3 {
		t.Errorf("got %+v, want %+v", got, want)
	}
	write(map[string]string{"format": "pt"})
	if _, ok, err := read(); ok || err != nil {
		t.Errorf("no mapping: ok %v, err %v", ok, err)
	}
	write(map[string]string{"format": "pt", MetadataKey: `{"class":"EXACT","hidden":{"kind":"spiral","src":1,"dst":2}}`})
	if _, _, err := read(); err == nil || !strings.Contains(err.Error(), "spiral") {
		t.Errorf("bad mapping: %v", err)
	}
}

// TestCheckBERTWithoutHead: two BERT encoders without an MLM head are compared
// through their last hidden states; one with and one without a head is refused.
func TestCheckBERTWithoutHead(t *testing.T) {
	enc := reference.Synth(reference.Spec{Family: graph.FamilyBERT, D: 8, L: 2, H: 2, I: 16, V: 40, Seed: 6})
	rep, err := Check(enc, enc, nil, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.MaxAbs != 0 || rep.MaxLogit == 0 {
		t.Errorf("encoder against itself: %+v", rep)
	}
	rep, err = Check(enc, nudge(t, enc, 1e-3), nil, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass {
		t.Errorf("nudged encoder: %s", rep.Verdict)
	}
	if len(rep.Notes) == 0 || !strings.Contains(strings.Join(rep.Notes, " "), "padding") {
		t.Errorf("no padded probe noted: %v", rep.Notes)
	}
	withHead := reference.Synth(reference.Spec{Family: graph.FamilyBERT, D: 8, L: 2, H: 2, I: 16, V: 40, Seed: 6, MLM: true})
	if _, err := Check(enc, withHead, nil, CheckOptions{}); err == nil || !strings.Contains(err.Error(), "LM head") {
		t.Errorf("encoder vs MLM model: %v", err)
	}
}

// TestCheckExtendedVocabulary: a copy with 5 new tokens appended to a tied
// embedding computes the same logits on the old ids; Check compares the shared
// part (probes use old ids only) and says so in a note.
func TestCheckExtendedVocabulary(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Tied: true, Seed: 8})
	big := clone(g)
	emb := append(append([]float64(nil), reference.Values(t, g.Embed)...), make([]float64, 5*16)...)
	for i := 40 * 16; i < len(emb); i++ {
		emb[i] = 0.01 * float64(i%7)
	}
	big.Embed = graph.NewDense64(emb, checkpoint.F64, 45, 16)
	big.Vocab = 45
	rep, err := Check(g, big, nil, CheckOptions{Probes: 3, SeqLen: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.MaxAbs != 0 || rep.MaxKL != 0 || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "vocabularies differ") {
		t.Errorf("extended vocabulary: %+v", rep)
	}
}

// TestCheckRounded: a mapping that says storage rounded the operator's values is
// judged with the float32 rule even in float64; without it the same difference fails.
func TestCheckRounded(t *testing.T) {
	g := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, Seed: 3, Tied: true})
	n := nudge(t, g, 1e-6) // a float32-sized change: far above the float64 EXACT rule
	tests := []struct {
		rounded string
		pass    bool
	}{
		{"", false},
		{"F32", true},
	}
	for _, tc := range tests {
		m := &Mapping{Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 16, Dst: 16}, Rounded: tc.rounded}
		rep, err := Check(g, n, m, CheckOptions{Probes: 2, SeqLen: 8})
		if err != nil {
			t.Fatal(err)
		}
		if rep.MaxAbs == 0 {
			t.Fatalf("rounded %q: the nudge changed nothing", tc.rounded)
		}
		if rep.Pass != tc.pass {
			t.Errorf("rounded %q: max abs %.3g, verdict %s, want pass=%v", tc.rounded, rep.MaxAbs, rep.Verdict, tc.pass)
		}
	}
	big := nudge(t, g, 1e-1)
	rep, err := Check(g, big, &Mapping{Class: Exact, Hidden: HiddenMap{Kind: "tile", Src: 16, Dst: 16}, Rounded: "F32"}, CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass {
		t.Errorf("a 0.1 change passed as rounding: %s", rep.Verdict)
	}
}

// TestCheckEveryInputRow: the random probes use only some token ids and
// positions, but a wrong embedding row of any id (or a wrong learned position
// beyond the probe length) must fail an EXACT check: hidden state 0 is compared
// for every id and every position.
func TestCheckEveryInputRow(t *testing.T) {
	opts := CheckOptions{Probes: 2, SeqLen: 8}
	for _, c := range []struct {
		name string
		g    *graph.Graph
		pos  bool // change a learned position row instead of a token row
	}{
		{"stories260k token", reference.OpenGraph(t, "../testdata/stories260k"), false},
		{"gpt2 token", reference.Synth(reference.Spec{Family: graph.FamilyGPT2, D: 8, L: 1, H: 2, I: 16, V: 300, P: 64, Tied: true, Seed: 3}), false},
		{"gpt2 position", reference.Synth(reference.Spec{Family: graph.FamilyGPT2, D: 8, L: 1, H: 2, I: 16, V: 300, P: 64, Tied: true, Seed: 3}), true},
		{"bert token", reference.Synth(reference.Spec{Family: graph.FamilyBERT, D: 8, L: 1, H: 2, I: 16, V: 300, P: 64, MLM: true, Seed: 3}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen := map[int]bool{}
			first, err := FirstIDs(c.g)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range Probes(opts.Probes, opts.SeqLen, c.g.Vocab, 1, first) {
				for _, id := range s {
					seen[id] = true
				}
			}
			row := c.g.Vocab - 1
			for seen[row] {
				row--
			}
			tab := c.g.Embed
			if c.pos {
				tab, row = c.g.Pos, 40 // beyond the 8 probed positions
			}
			v := append([]float64(nil), reference.Values(t, tab)...)
			D := c.g.Hidden
			v[row*D+1] += 0.25
			bad := clone(c.g)
			changed := graph.NewDense64(v, checkpoint.F64, tab.Shape()...)
			if c.pos {
				bad.Pos = changed
			} else {
				bad.Embed = changed
				if c.g.Tied {
					bad.Tied, bad.Head = false, c.g.Embed // only the input row changes
				}
			}
			rep, err := Check(c.g, bad, nil, opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Pass || !strings.Contains(rep.Verdict, "hidden state 0") {
				t.Errorf("row %d of the unprobed input table +0.25: %s", row, rep.Verdict)
			}
		})
	}
}
