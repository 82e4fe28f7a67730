package learngene

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/probe"
)

// vals reads a tensor in float64.
func vals(t *testing.T, x graph.Tensor) []float64 {
	t.Helper()
	v, err := x.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// blockTensors returns every tensor of block l by its name in the block.
func blockTensors(g *graph.Graph, l int) map[string]graph.Tensor {
	out := map[string]graph.Tensor{}
	for _, f := range g.Fields() {
		if layer, name := graph.SplitRole(f.Role); layer == l && *f.T != nil {
			out[name] = *f.T
		}
	}
	return out
}

// mapBlocks returns g with block l's tensors replaced by f(l, name, values).
func mapBlocks(g *graph.Graph, f func(l int, name string, v []float64) []float64) *graph.Graph {
	out := *g
	out.Layers = slices.Clone(g.Layers)
	for _, fl := range out.Fields() {
		l, name := graph.SplitRole(fl.Role)
		if l < 0 || *fl.T == nil {
			continue
		}
		v, _ := (*fl.T).Float64()
		*fl.T = graph.NewDense64(f(l, name, v), checkpoint.F64, (*fl.T).Shape()...)
	}
	return &out
}

func expand(t *testing.T, g *graph.Graph, op grow.Operator) *graph.Graph {
	t.Helper()
	r, err := grow.Expand(g, op)
	if err != nil {
		t.Fatal(err)
	}
	return r.Graph
}

// TestTLEGExact: a model whose blocks are exactly linear in depth,
// θ_i = A + (i/L)·B, gives back A and B (to rounding), with R² 1 for every
// tensor; expanding the gene to the depth it was fitted on reproduces the
// fitted weights bit for bit; θ_{i+1} − θ_i = θ_B/L for every i; θ_A and
// θ_B come back from any expansion with L ≥ 2.
func TestTLEGExact(t *testing.T) {
	base := reference.Synth(reference.Spec{ModelType: "llama", D: 16, H: 2, K: 1, I: 24, V: 30, L: 4, Seed: 1})
	const L = 4
	A, B := blockTensors(base, 0), blockTensors(base, 1)
	g := mapBlocks(base, func(l int, name string, _ []float64) []float64 {
		a, b := vals(t, A[name]), vals(t, B[name])
		out := make([]float64, len(a))
		for k := range out {
			out[k] = a[k] + float64(l)/L*b[k]
		}
		return out
	})
	fit, err := Fit(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fit {
		if f.R2 < 1-1e-12 {
			t.Errorf("%s: R² %v for an exactly linear model", f.Role, f.R2)
		}
	}
	op := &ExtractOp{}
	gene := expand(t, g, op)
	if op.Manifest.Kind != TLEG || len(gene.Layers) != 2 {
		t.Fatalf("manifest %+v, %d blocks", op.Manifest, len(gene.Layers))
	}
	gA, gB := blockTensors(gene, 0), blockTensors(gene, 1)
	for name := range A {
		a, b, ga, gb := vals(t, A[name]), vals(t, B[name]), vals(t, gA[name]), vals(t, gB[name])
		for k := range a {
			if math.Abs(ga[k]-a[k]) > 1e-12 || math.Abs(gb[k]-b[k]) > 1e-12 {
				t.Fatalf("%s[%d]: θ_A %g θ_B %g, want %g %g", name, k, ga[k], gb[k], a[k], b[k])
			}
		}
	}
	// the fitted depth: the fitted weights θ̂_i = θ_A + t_i·θ_B, as Fit computes them
	out := expand(t, gene, &ExpandOp{Expand: Expand{Layers: L}, Manifest: op.Manifest})
	for i := range L {
		for name, x := range blockTensors(out, i) {
			ga, gb, got := vals(t, gA[name]), vals(t, gB[name]), vals(t, x)
			for k := range got {
				if want := ga[k] + float64(i)/L*gb[k]; got[k] != want {
					t.Fatalf("block %d %s[%d] = %v, the fitted weight is %v", i, name, k, got[k], want)
				}
			}
		}
	}
	for _, n := range []int{2, 3, 7} {
		out := expand(t, gene, &ExpandOp{Expand: Expand{Layers: n}, Manifest: op.Manifest})
		for name := range gA {
			ga, gb := vals(t, gA[name]), vals(t, gB[name])
			t0, t1 := vals(t, blockTensors(out, 0)[name]), vals(t, blockTensors(out, 1)[name])
			for k := range ga {
				if t0[k] != ga[k] {
					t.Fatalf("L=%d: θ_0 %s[%d] = %v is not θ_A = %v", n, name, k, t0[k], ga[k])
				}
				if rb := float64(n) * (t1[k] - t0[k]); math.Abs(rb-gb[k]) > 1e-13*math.Max(1, math.Abs(gb[k])) {
					t.Fatalf("L=%d: L(θ_1 − θ_0) %s[%d] = %v, θ_B = %v", n, name, k, rb, gb[k])
				}
			}
			for i := 0; i+1 < n; i++ {
				a, b := vals(t, blockTensors(out, i)[name]), vals(t, blockTensors(out, i+1)[name])
				for k := range a {
					if d := b[k] - a[k] - gb[k]/float64(n); math.Abs(d) > 1e-14*math.Max(1, math.Abs(ga[k])+math.Abs(gb[k])) {
						t.Fatalf("L=%d: θ_%d − θ_%d of %s[%d] is off θ_B/L by %g", n, i+1, i, name, k, d)
					}
				}
			}
		}
	}
}

// TestTLEGLeastSquares: on a model whose blocks are not linear in depth, the
// gene is the least-squares line: moving θ_A or θ_B of any entry away from
// the fit increases the squared residual, and R² lies in [0, 1].
func TestTLEGLeastSquares(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "llama", D: 16, H: 2, K: 1, I: 24, V: 30, L: 5, Seed: 2})
	gene := expand(t, g, &ExtractOp{})
	fit, err := Fit(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fit {
		if f.R2 < 0 || f.R2 > 1 {
			t.Errorf("%s: R² %v", f.Role, f.R2)
		}
	}
	const L = 5
	for name, x := range blockTensors(g, 0) {
		_ = x
		ga, gb := vals(t, blockTensors(gene, 0)[name]), vals(t, blockTensors(gene, 1)[name])
		ys := make([][]float64, L)
		for i := range L {
			ys[i] = vals(t, blockTensors(g, i)[name])
		}
		sse := func(k int, a, b float64) float64 {
			s := 0.0
			for i := range L {
				r := ys[i][k] - (a + float64(i)/L*b)
				s += r * r
			}
			return s
		}
		for k := range ga {
			best := sse(k, ga[k], gb[k])
			for _, d := range [][2]float64{{1e-6, 0}, {-1e-6, 0}, {0, 1e-6}, {0, -1e-6}} {
				if sse(k, ga[k]+d[0], gb[k]+d[1]) < best {
					t.Fatalf("%s[%d]: moving (θ_A, θ_B) by %v lowers the residual", name, k, d)
				}
			}
		}
	}
}

// TestSWS: stage blocks are the mean or the chosen member of their stage;
// the expansion's blocks are exactly the stages the layer-source list names;
// the source's own schedule with stage-shared blocks reproduces it bit for
// bit; invalid lists are refused with their reason.
func TestSWS(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "llama", D: 16, H: 2, K: 1, I: 24, V: 30, L: 7, Seed: 3})
	stages := []int{2, 3, 2}
	for _, member := range []string{MemberMean, MemberFirst, MemberMiddle, MemberLast} {
		op := &ExtractOp{Extract: Extract{Kind: SWS, Stages: stages, Member: member}}
		gene := expand(t, g, op)
		first := 0
		for s, n := range stages {
			for name, x := range blockTensors(gene, s) {
				got := vals(t, x)
				for k := range got {
					var want float64
					switch member {
					case MemberMean:
						for i := first; i < first+n; i++ {
							want += vals(t, blockTensors(g, i)[name])[k] / float64(n)
						}
					case MemberFirst:
						want = vals(t, blockTensors(g, first)[name])[k]
					case MemberMiddle:
						want = vals(t, blockTensors(g, first+n/2)[name])[k]
					case MemberLast:
						want = vals(t, blockTensors(g, first+n-1)[name])[k]
					}
					if math.Abs(got[k]-want) > 1e-12 || (member != MemberMean && got[k] != want) {
						t.Fatalf("%s: stage %d %s[%d] = %v, want %v", member, s, name, k, got[k], want)
					}
				}
			}
			first += n
		}
		src := "0,0,0,1,2,2"
		out := expand(t, gene, &ExpandOp{Expand: Expand{LayersSource: src}, Manifest: op.Manifest})
		for i, s := range []int{0, 0, 0, 1, 2, 2} {
			for name, x := range blockTensors(out, i) {
				if !slices.Equal(vals(t, x), vals(t, blockTensors(gene, s)[name])) {
					t.Fatalf("%s: block %d %s is not stage %d's", member, i, name, s)
				}
			}
		}
	}
	// a model whose blocks are shared within stages comes back from its own schedule
	shared := mapBlocks(g, func(l int, name string, _ []float64) []float64 {
		return vals(t, blockTensors(g, []int{0, 0, 1, 1, 1, 2, 2}[l])[name])
	})
	op := &ExtractOp{Extract: Extract{Kind: SWS, Stages: stages, Member: MemberFirst}}
	gene := expand(t, shared, op)
	out := expand(t, gene, &ExpandOp{Expand: Expand{LayersSource: "0,0,1,1,1,2,2"}, Manifest: op.Manifest})
	ids := []int{1, 5, 9, 2, 29, 0, 7}
	a, b := reference.Forward(t, shared, ids, nil), reference.Forward(t, out, ids, nil)
	for p := range a.Logits {
		if !slices.Equal(a.Logits[p], b.Logits[p]) {
			t.Fatalf("the aux schedule does not reproduce the stage-shared model at position %d", p)
		}
	}
	for _, c := range []struct {
		x    Expand
		want string
	}{
		{Expand{LayersSource: "0,1,0,2"}, "must not decrease"},
		{Expand{LayersSource: "0,0,2,2"}, "stage 1 is not used"},
		{Expand{LayersSource: "0,1,2,3"}, "the gene has stages 0..2"},
		{Expand{LayersSource: "0,1,2", Layers: 4}, "--layers says 4"},
		{Expand{LayersSource: "0,x,2"}, "not a whole number"},
		{Expand{Layers: 2}, "cannot use all 3 stages"},
		{Expand{}, "no depth"},
	} {
		_, err := grow.Expand(gene, &ExpandOp{Expand: c.x, Manifest: op.Manifest})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.x, err, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	for _, c := range []struct {
		L    int
		want []int
	}{{16, []int{3, 3, 3, 3, 4}}, {5, []int{2, 3}}, {2, []int{2}}, {1, []int{1}}, {12, []int{3, 3, 3, 3}}} {
		if got := DefaultStages(c.L); !slices.Equal(got, c.want) {
			t.Errorf("DefaultStages(%d) = %v, want %v", c.L, got, c.want)
		}
	}
	for _, c := range []struct {
		stages []int
		L      int
		want   []int
	}{
		{[]int{3, 3, 4, 3, 3}, 16, []int{0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4}},
		{[]int{3, 3, 4, 3, 3}, 12, []int{0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4}},
		{[]int{2, 3}, 3, []int{0, 1, 1}},
		{[]int{2, 3}, 8, []int{0, 0, 0, 1, 1, 1, 1, 1}},
	} {
		got, err := DefaultSource(c.stages, c.L)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("DefaultSource(%v, %d) = %v, %v; want %v", c.stages, c.L, got, err, c.want)
		}
		if err := CheckSource(got, len(c.stages)); err != nil {
			t.Error(err)
		}
	}
}

func TestExtractRefusals(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "llama", D: 16, H: 2, K: 1, I: 24, V: 30, L: 5, Seed: 3})
	one := reference.Synth(reference.Spec{ModelType: "llama", D: 16, H: 2, K: 1, I: 24, V: 30, L: 1, Seed: 3})
	for _, c := range []struct {
		g    *graph.Graph
		e    Extract
		want string
	}{
		{g, Extract{Kind: "linear"}, "want tleg or sws"},
		{g, Extract{Kind: SWS, Stages: []int{2, 2}}, "cover 4 blocks, the source has 5"},
		{g, Extract{Kind: SWS, Stages: []int{5, 0}}, "at least one block"},
		{g, Extract{Kind: SWS, Member: "best"}, "want mean, first, middle or last"},
		{g, Extract{Stages: []int{5}}, "SWS's"},
		{one, Extract{}, "at least 2 blocks"},
	} {
		_, err := grow.Expand(c.g, &ExtractOp{Extract: c.e})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.e, err, c.want)
		}
	}
	gene := expand(t, g, &ExtractOp{})
	_, err := grow.Expand(gene, &ExpandOp{Expand: Expand{Layers: 3, LayersSource: "0,0,1"}, Manifest: &Manifest{Format: Format, Kind: TLEG, SourceLayers: 5}})
	if err == nil || !strings.Contains(err.Error(), "SWS's") {
		t.Errorf("TLEG with --layers-source: %v", err)
	}
}

// TestEveryFamily: a TLEG and an SWS gene of every registered model type
// expand to 3 and 6 blocks that run in grow's forward pass with finite
// outputs; shared tensors are the source's.
func TestEveryFamily(t *testing.T) {
	for _, mt := range family.ModelTypes() {
		desc, _ := family.Lookup(mt)
		k := 1
		if !desc.Features.GQA {
			k = 2
		}
		g := reference.Synth(reference.Spec{ModelType: mt, D: 16, H: 2, K: k, I: 24, V: 30, L: 4, P: 16, Tied: true, MLM: true, Seed: 4})
		for _, kind := range []string{TLEG, SWS} {
			op := &ExtractOp{Extract: Extract{Kind: kind}}
			gene := expand(t, g, op)
			if gene.Embed != g.Embed {
				t.Errorf("%s %s: the embedding is not the source's", mt, kind)
			}
			for _, n := range []int{3, 6} {
				out := expand(t, gene, &ExpandOp{Expand: Expand{Layers: n}, Manifest: op.Manifest})
				m, err := probe.New(out, probe.F64)
				if err != nil {
					t.Fatalf("%s %s L=%d: %v", mt, kind, n, err)
				}
				r, err := m.Forward([]int{1, 7, 3, 29, 0})
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range r.Logits {
					for _, v := range row {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Fatalf("%s %s L=%d: non-finite output", mt, kind, n)
						}
					}
				}
			}
		}
	}
}
