package grow

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/transform"
)

var (
	llamaGQA = reference.Spec{Family: graph.FamilyLlama, D: 64, H: 8, K: 4, I: 172, V: 40, L: 2, Tied: true}
	llamaMQA = reference.Spec{Family: graph.FamilyLlama, D: 64, H: 8, K: 1, I: 96, V: 40, L: 2, Bias: true}
	gpt2     = reference.Spec{Family: graph.FamilyGPT2, D: 64, H: 4, K: 4, I: 256, V: 40, L: 2, P: 16, Tied: true}
	gpt2one  = reference.Spec{Family: graph.FamilyGPT2, D: 16, H: 1, K: 1, I: 40, V: 40, L: 2, P: 16, Tied: true}
	bert     = reference.Spec{Family: graph.FamilyBERT, D: 64, H: 4, K: 4, I: 128, V: 40, L: 2, P: 16, Tied: true, MLM: true}
)

// randomGraph is s's synthetic model with random weights drawn from seed.
func randomGraph(s reference.Spec, seed uint64) *graph.Graph {
	s.Seed = seed
	return reference.Synth(s)
}

// mapHidden applies a HiddenMap to a source hidden state.
func mapHidden(m probe.HiddenMap, h []float64) []float64 {
	out := make([]float64, m.Dst)
	fill := 0.0
	if m.Fill == "mean" {
		for _, v := range h {
			fill += v
		}
		fill /= float64(len(h))
	}
	q := m.Dst / m.Src
	for i := range out {
		switch {
		case m.Kind == "tile" && i < q*m.Src:
			out[i] = h[i%m.Src]
		case m.Kind == "pad" && i < m.Src:
			out[i] = h[i]
		default:
			out[i] = fill
		}
	}
	return out
}

// compare runs source and grown graphs on probe sequences and returns the max
// abs logits difference relative to max(1, max|logits|) and the worst relative
// per-layer hidden-state deviation from the mapping.
func compare(t *testing.T, src, dst *graph.Graph, m probe.HiddenMap) (logitRel, hidRel float64) {
	t.Helper()
	seqs := [][]int{{1, 5, 9, 3, 33, 2, 7}, {0}, {39, 38, 12, 12, 4}}
	for _, ids := range seqs {
		a, b := reference.Forward(t, src, ids, nil), reference.Forward(t, dst, ids, nil)
		hs, ls, hd, ld := a.Hidden, a.Logits, b.Hidden, b.Logits
		maxL, maxD := 0.0, 0.0
		for p := range ls {
			for i := range ls[p] {
				maxL = math.Max(maxL, math.Abs(ls[p][i]))
				maxD = math.Max(maxD, math.Abs(ls[p][i]-ld[p][i]))
			}
		}
		logitRel = math.Max(logitRel, maxD/math.Max(1, maxL))
		for j := range hs {
			for p := range hs[j] {
				want := mapHidden(m, hs[j][p])
				maxH, dev := 0.0, 0.0
				for i := range want {
					maxH = math.Max(maxH, math.Abs(want[i]))
					dev = math.Max(dev, math.Abs(want[i]-hd[j][p][i]))
				}
				hidRel = math.Max(hidRel, dev/math.Max(1, maxH))
			}
		}
	}
	return logitRel, hidRel
}

func TestExpandPreservesFunction(t *testing.T) {
	cases := []struct {
		name  string
		m     reference.Spec
		opts  Options
		class string
	}{
		{"hc llama gqa n2 m3", llamaGQA, Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}, probe.Exact},
		{"hc llama gqa n3 m2", llamaGQA, Options{Method: MethodHyperCloning, WidthFactor: 3, FFNFactor: 2}, probe.Exact},
		{"hc llama gqa n2 keep-tied", llamaGQA, Options{Method: MethodHyperCloning, WidthFactor: 2, KeepTied: true}, probe.Exact},
		{"hc llama gqa n3 noise", llamaGQA, Options{Method: MethodHyperCloning, WidthFactor: 3, FFNFactor: 2, Noise: true, NoiseSNRDB: 10, Seed: 3}, probe.Exact},
		{"hc llama mqa n2", llamaMQA, Options{Method: MethodHyperCloning, WidthFactor: 2}, probe.Exact},
		{"hc gpt2 n2 m3", gpt2, Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}, probe.Exact},
		{"hc gpt2 n3 m2 keep-tied noise", gpt2, Options{Method: MethodHyperCloning, WidthFactor: 3, FFNFactor: 2, KeepTied: true, Noise: true, NoiseSNRDB: 5}, probe.Exact},
		{"hc bert n2 m3", bert, Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}, probe.Exact},
		{"hc bert n3 m2 keep-tied", bert, Options{Method: MethodHyperCloning, WidthFactor: 3, FFNFactor: 2, KeepTied: true}, probe.Exact},
		{"lemon llama 64->96", llamaGQA, Options{Method: MethodLEMON, Hidden: 96}, probe.Exact},
		{"lemon llama 64->100 h12 k6 ffn268", llamaGQA, Options{Method: MethodLEMON, Hidden: 100, Heads: 12, KVHeads: 6, FFN: 268}, probe.Exact},
		{"lemon llama 64->100 keep-tied", llamaGQA, Options{Method: MethodLEMON, Hidden: 100, Heads: 10, KVHeads: 5, FFN: 200, KeepTied: true}, probe.Exact},
		{"lemon llama mqa 64->100", llamaMQA, Options{Method: MethodLEMON, Hidden: 100, Heads: 13, FFN: 150}, probe.Exact},
		{"lemon gpt2 64->96", gpt2, Options{Method: MethodLEMON, Hidden: 96, FFN: 390}, probe.Exact},
		{"lemon gpt2 64->80 keep-tied", gpt2, Options{Method: MethodLEMON, Hidden: 80, FFN: 300, KeepTied: true}, probe.Exact},
		{"lemon gpt2 64->208", gpt2, Options{Method: MethodLEMON, Hidden: 208, FFN: 777, SplitScale: 1}, probe.Exact},
		{"lemon bert 64->128", bert, Options{Method: MethodLEMON, Hidden: 128, FFN: 300}, probe.Exact},
		{"lemon bert 64->192 keep-tied", bert, Options{Method: MethodLEMON, Hidden: 192, FFN: 129, KeepTied: true}, probe.Exact},
		{"zeropad llama 64->100", llamaGQA, Options{Method: MethodZeroPad, Hidden: 100, Heads: 12, KVHeads: 6, FFN: 268}, probe.Exact},
		{"zeropad llama 64->100 pad-std", llamaGQA, Options{Method: MethodZeroPad, Hidden: 100, Heads: 12, KVHeads: 6, FFN: 268, PadStd: 0.05}, probe.Exact},
		{"zeropad llama mqa 64->96 pad-std", llamaMQA, Options{Method: MethodZeroPad, Hidden: 96, Heads: 12, PadStd: 0.05}, probe.Exact},
		{"zeropad gpt2 ffn only", gpt2, Options{Method: MethodZeroPad, FFN: 300, PadStd: 0.05}, probe.Exact},
		{"zeropad bert ffn only", bert, Options{Method: MethodZeroPad, FFN: 200, PadStd: 0.05}, probe.Exact},
		{"lemon gpt2 one head 16->48", gpt2one, Options{Method: MethodLEMON, Hidden: 48}, probe.Exact},
		{"zeropad gpt2 one head 16->32", gpt2one, Options{Method: MethodZeroPad, Hidden: 32}, probe.Approx},
		{"zeropad gpt2 64->96", gpt2, Options{Method: MethodZeroPad, Hidden: 96, PadStd: 0.05}, probe.Approx},
		{"zeropad bert 64->96", bert, Options{Method: MethodZeroPad, Hidden: 96, PadStd: 0.05}, probe.Approx},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := randomGraph(c.m, 11)
			res, err := Expand(src, c.opts.Operator())
			if err != nil {
				t.Fatal(err)
			}
			if res.Mapping.Class != c.class {
				t.Errorf("class %s, want %s", res.Mapping.Class, c.class)
			}
			checkShapes(t, res)
			lr, hr := compare(t, src, res.Graph, res.Mapping.Hidden)
			t.Logf("logits rel %.3g, hidden rel %.3g", lr, hr)
			switch c.class {
			case probe.Exact:
				if lr > 1e-9 || hr > 1e-9 {
					t.Errorf("not EXACT: logits rel %.3g, hidden rel %.3g (limit 1e-9)", lr, hr)
				}
			case probe.Approx:
				if lr < 1e-9 {
					t.Errorf("APPROX claimed but the result is exact (%.3g): the claim is wrong", lr)
				}
				if lr > 0.5 {
					t.Errorf("APPROX result too far off: %.3g", lr)
				}
			}
			if src.Tied && (c.opts.KeepTied || c.opts.Method == MethodZeroPad) {
				if !res.Graph.Tied || res.Graph.Head != nil {
					t.Errorf("tied %v head %v: want tied with no head tensor", res.Graph.Tied, res.Graph.Head != nil)
				}
			} else if src.Tied && res.Graph.Tied == (res.Plan.Dst.Hidden >= 2*res.Plan.Src.Hidden) {
				t.Errorf("tied %v for hidden %d -> %d", res.Graph.Tied, res.Plan.Src.Hidden, res.Plan.Dst.Hidden)
			}
		})
	}
}

// checkShapes checks every tensor of the grown graph against its dims.
func checkShapes(t *testing.T, r *Result) {
	t.Helper()
	g := r.Graph
	d := g.Dims
	want := func(name string, x graph.Tensor, shape ...int) {
		if x == nil {
			return
		}
		got := x.Shape()
		v, err := x.Float64()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(v) != int(transform.Elements(shape)) || len(got) != len(shape) {
			t.Fatalf("%s: shape %v (%d values), want %v", name, got, len(v), shape)
		}
		for i := range got {
			if got[i] != shape[i] {
				t.Fatalf("%s: shape %v, want %v", name, got, shape)
			}
		}
	}
	want("embed", g.Embed, d.Vocab, d.Hidden)
	for _, L := range g.Layers {
		want("q", L.Q.W, d.Heads*d.HeadDim, d.Hidden)
		want("k", L.K.W, d.KVHeads*d.HeadDim, d.Hidden)
		want("o", L.O.W, d.Hidden, d.Heads*d.HeadDim)
		want("up", L.Up.W, d.FFN, d.Hidden)
		want("down", L.Down.W, d.Hidden, d.FFN)
		want("norm", L.AttnNorm.W, d.Hidden)
	}
	want("head", g.Head, d.Vocab, d.Hidden)
	if len(r.Plan.Tensors) == 0 {
		t.Fatal("empty plan")
	}
}

// The copies of a weight really differ with noise (and with LEMON's random
// splits), and are equal without.
func TestSymmetryBreaking(t *testing.T) {
	src := randomGraph(llamaGQA, 5)
	for _, c := range []struct {
		opts   Options
		differ bool
	}{
		{Options{Method: MethodHyperCloning, WidthFactor: 2}, false},
		{Options{Method: MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10}, true},
		{Options{Method: MethodLEMON, Hidden: 128}, true},
		{Options{Method: MethodLEMON, Hidden: 128, SplitScale: -1}, false},
	} {
		res, err := Expand(src, c.opts.Operator())
		if err != nil {
			t.Fatal(err)
		}
		w := reference.Values(t, res.Graph.Layers[0].Up.W)
		// row 0, input copies j and j+64 of source column j
		maxDiff := 0.0
		for j := 0; j < 64; j++ {
			maxDiff = math.Max(maxDiff, math.Abs(w[j]-w[j+64]))
		}
		if (maxDiff > 0) != c.differ {
			t.Errorf("%+v: copies differ by %g, want differ=%v", c.opts, maxDiff, c.differ)
		}
		// and the sum of the two copies is the source column
		sw := reference.Values(t, src.Layers[0].Up.W)
		for j := 0; j < 64; j++ {
			if d := math.Abs(w[j] + w[j+64] - sw[j]); d > 1e-15 {
				t.Fatalf("%+v: copies of column %d sum to %g, source %g", c.opts, j, w[j]+w[j+64], sw[j])
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name string
		m    reference.Spec
		opts Options
		want string
	}{
		{"head_dim growth on RoPE", llamaGQA, Options{Method: MethodLEMON, Hidden: 128, HeadDim: 16}, "RoPE"},
		{"keep-tied on an untied head", llamaMQA, Options{Method: MethodHyperCloning, WidthFactor: 2, KeepTied: true}, "not tied"},
		{"lemon indivisible post-LN", bert, Options{Method: MethodLEMON, Hidden: 96}, "post-LN"},
		{"lemon smaller", gpt2, Options{Method: MethodLEMON, Hidden: 32}, "smaller"},
		{"zeropad smaller ffn", llamaGQA, Options{Method: MethodZeroPad, FFN: 100}, "smaller"},
		{"hc factor 0", llamaGQA, Options{Method: MethodHyperCloning}, "≥ 1"},
		{"heads do not divide", llamaGQA, Options{Method: MethodLEMON, Hidden: 96, Heads: 12, KVHeads: 5}, "divide"},
		{"group shrinks", llamaGQA, Options{Method: MethodLEMON, Hidden: 96, Heads: 12, KVHeads: 12}, "no copy"},
		{"gpt2 head width", gpt2, Options{Method: MethodLEMON, Hidden: 100}, "head_dim"},
		{"gpt2 heads mismatch", gpt2, Options{Method: MethodLEMON, Hidden: 96, Heads: 5}, "heads must be"},
		{"unknown method", gpt2, Options{Method: "net3net"}, "unknown method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Expand(randomGraph(c.m, 1), c.opts.Operator())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// BERT's pooler and next-sentence head (extras with rule "hidden") keep their
// function: NSP logits of the grown model equal the source's.
func TestBERTPoolerExtras(t *testing.T) {
	src := randomGraph(bert, 9)
	r := rand.New(rand.NewPCG(4, 4))
	src.Extras = []graph.Extra{
		{Name: "bert.pooler.dense.weight", Role: "bert.pooler.weight", Rule: "hidden", T: reference.Normal(r, 0.2, 64, 64)},
		{Name: "bert.pooler.dense.bias", Role: "bert.pooler.bias", Rule: "hidden", T: reference.Normal(r, 0.2, 64)},
		{Name: "cls.seq_relationship.weight", Role: "bert.nsp.weight", Rule: "hidden", T: reference.Normal(r, 0.5, 2, 64)},
		{Name: "cls.seq_relationship.bias", Role: "bert.nsp.bias", Rule: "copy", T: reference.Normal(r, 0.5, 2)},
	}
	nsp := func(g *graph.Graph) []float64 {
		hs := reference.Forward(t, g, []int{3, 1, 4, 1, 5}, nil).Hidden
		cls := hs[len(hs)-1][0]
		pooled := reference.Linear(t, graph.Linear{W: g.Extras[0].T, B: g.Extras[1].T}, cls)
		for i := range pooled {
			pooled[i] = math.Tanh(pooled[i])
		}
		return reference.Linear(t, graph.Linear{W: g.Extras[2].T, B: g.Extras[3].T}, pooled)
	}
	want := nsp(src)
	for _, opts := range []Options{
		{Method: MethodHyperCloning, WidthFactor: 3},
		{Method: MethodLEMON, Hidden: 128},
		{Method: MethodZeroPad, FFN: 200, PadStd: 0.1},
	} {
		res, err := Expand(src, opts.Operator())
		if err != nil {
			t.Fatal(err)
		}
		got := nsp(res.Graph)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Errorf("%s: NSP logits %v, source %v", opts.Method, got, want)
				break
			}
		}
	}
}

// TestHeadless: a base model without an output head (GPT2Model) grows with
// every width method; its output is its last hidden state, which the check
// compares under the hidden map, and no head appears.
func TestHeadless(t *testing.T) {
	src := reference.OpenGraph(t, "../testdata/gpt2-random-toyvocab")
	if !src.Headless {
		t.Fatal("gpt2-random-toyvocab is not read as a base model")
	}
	for _, op := range []Operator{&HyperCloning{WidthFactor: 2}, &LEMON{Width: Width{Hidden: 4}}, &ZeroPad{Width: Width{FFN: 12}},
		&Identity{Layers: 2}, &MSG{Width: Width{Hidden: 4, Heads: 2, FFN: 12}}} {
		r, err := Expand(src, op)
		if err != nil {
			t.Fatalf("%s: %v", op.Name(), err)
		}
		if r.Graph.Head != nil || !r.Graph.Headless {
			t.Errorf("%s: the result has a head (%v) or is not headless", op.Name(), r.Graph.Head != nil)
		}
		for _, s := range r.Plan.Tensors {
			if s.Role == "head" {
				t.Errorf("%s: the plan lists a head", op.Name())
			}
		}
		opts := probe.CheckOptions{Probes: 2, SeqLen: 8}
		if js, ok := r.Files[claim.GrowthStateFile]; ok {
			var gs claim.Growth
			if err := json.Unmarshal(js, &gs); err != nil {
				t.Fatal(err)
			}
			opts.Growth = probe.GrowthMasksOf(&gs)
		}
		rep, err := probe.Check(src, r.Graph, &r.Mapping, opts)
		if err != nil {
			t.Fatalf("%s: %v", op.Name(), err)
		}
		if !rep.Pass || rep.Class != r.Mapping.Class {
			t.Errorf("%s: %s %s", op.Name(), rep.Class, rep.Verdict)
		}
	}
}
