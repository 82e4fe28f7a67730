package selection

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/graph/family"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/probe"
)

// shapes are the teachers every family is shrunk from: tied with
// grouped-query attention where the family has it, untied with biases and
// multi-query attention, and an explicit head_dim other than hidden/heads.
func shapes(modelType string, ft family.Features) []reference.Spec {
	kv := func(h, k int) int {
		if ft.GQA {
			return k
		}
		return h
	}
	out := []reference.Spec{
		{ModelType: modelType, D: 32, H: 4, K: kv(4, 2), I: 48, V: 40, L: 3, P: 16, Tied: true, MLM: true, Seed: 1},
		{ModelType: modelType, D: 24, H: 3, K: kv(3, 1), I: 40, V: 40, L: 2, P: 16, Bias: true, Seed: 2},
	}
	if ft.HeadDim != family.Derived {
		out = append(out, reference.Spec{ModelType: modelType, D: 24, H: 4, K: kv(4, 2), HeadDim: 8, I: 40, V: 40, L: 2, P: 16, Seed: 3})
	}
	return out
}

// recorded returns the index sets a result records in its parameters.
func recorded(t *testing.T, r *grow.Result) *Sets {
	t.Helper()
	s, ok := r.Params["selection"].(*Sets)
	if !ok {
		t.Fatalf("the result records no selection: %v", r.Params)
	}
	return s
}

// TestShrinkEveryFamily shrinks synthetic teachers of every registered model
// type by every example configuration: every student tensor is the teacher's
// at the recorded indices, bit for bit (Verify); the student runs in grow's
// forward pass and in the float64 reference with finite outputs that agree;
// a tied head stays tied; the same size is the identity, bit for bit in every
// logit.
func TestShrinkEveryFamily(t *testing.T) {
	ran := 0
	for _, mt := range family.ModelTypes() {
		desc, _ := family.Lookup(mt)
		for si, spec := range shapes(mt, desc.Features) {
			g := reference.Synth(spec)
			for ei, op := range (&Shrink{}).Examples(g) {
				name := fmt.Sprintf("%s/shape%d/example%d", mt, si, ei)
				r, err := grow.Expand(g, op)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				ran++
				s := recorded(t, r)
				if err := Verify(g, r.Graph, s); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if r.Graph.Tied != g.Tied {
					t.Errorf("%s: tied %v, the teacher's %v", name, r.Graph.Tied, g.Tied)
				}
				ids := []int{1, 7, 3, 39, 0, 12, 5}
				ref := reference.Forward(t, r.Graph, ids, nil)
				m, err := probe.New(r.Graph, probe.F64)
				if err != nil {
					t.Errorf("%s: probe: %v", name, err)
					continue
				}
				got, err := m.Forward(ids)
				if err != nil {
					t.Errorf("%s: probe: %v", name, err)
					continue
				}
				for p := range ref.Logits {
					for i, v := range ref.Logits[p] {
						if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v-got.Logits[p][i]) > 1e-9*math.Max(1, math.Abs(v)) {
							t.Fatalf("%s: logit [%d][%d]: reference %g, probe %g", name, p, i, v, got.Logits[p][i])
						}
					}
				}
				if ei == 3 { // the same size
					if r.Mapping.Class != claim.BitExact {
						t.Errorf("%s: the same size claims %s", name, r.Mapping.Class)
					}
					want := reference.Forward(t, g, ids, nil)
					for p := range want.Logits {
						if !slices.Equal(want.Logits[p], ref.Logits[p]) {
							t.Fatalf("%s: the same size changes the logits at position %d", name, p)
						}
					}
				} else if r.Mapping.Class != claim.NonPreserving {
					t.Errorf("%s: claims %s", name, r.Mapping.Class)
				}
			}
		}
	}
	if ran < 4*2*len(family.ModelTypes()) {
		t.Errorf("only %d cases ran", ran)
	}
}

// TestWholeHeadsAndGroups: a GQA teacher's student keeps whole key/value
// groups, and each query head comes from the group whose keys and values its
// own group keeps; gate, up and down share one unit set.
func TestWholeHeadsAndGroups(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "llama", D: 64, H: 8, K: 4, I: 40, V: 30, L: 2, Seed: 5})
	for _, e := range []string{"uniform", "first", "random:2"} {
		r, err := grow.Expand(g, &Shrink{Target: Target{Hidden: 32, Heads: 4, KVHeads: 2}, Elements: e})
		if err != nil {
			t.Fatal(err)
		}
		s := recorded(t, r)
		q, kv := s.Heads.At(0), s.KVHeads.At(0)
		for i, h := range q {
			if h/2 != kv[i/2] {
				t.Errorf("%s: student query head %d is teacher head %d of group %d, but its group keeps teacher key/value head %d", e, i, h, h/2, kv[i/2])
			}
		}
		if err := Verify(g, r.Graph, s); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
}

// TestResolveRefusals: targets that cannot be selected are refused with
// their reason.
func TestResolveRefusals(t *testing.T) {
	llama := reference.Synth(reference.Spec{ModelType: "llama", D: 64, H: 8, K: 4, I: 40, V: 30, L: 2, Seed: 5})
	gpt2 := reference.Synth(reference.Spec{ModelType: "gpt2", D: 32, H: 4, I: 40, V: 30, L: 2, P: 16, Seed: 5})
	for _, c := range []struct {
		g    *graph.Graph
		t    Target
		want string
	}{
		{llama, Target{Hidden: 128}, "larger than the teacher's"},
		{llama, Target{Layers: 3}, "larger than the teacher's"},
		{llama, Target{Heads: 4, KVHeads: 1}, "per group"},
		{llama, Target{Hidden: 32, Heads: 3, KVHeads: 3}, "do not divide the hidden width"},
		{llama, Target{Hidden: 48, Heads: 6, KVHeads: 4}, "do not divide into"},
		{llama, Target{FFN: -1}, "positive size"},
		{gpt2, Target{Hidden: 20}, "not a multiple of head_dim"},
		{gpt2, Target{Hidden: 16, Heads: 3}, "derives head_dim"},
		{gpt2, Target{Hidden: 16, KVHeads: 1}, "no grouped-query attention"},
	} {
		_, err := c.t.Resolve(c.g)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want an error saying %q", c.g.Family, c.t, err, c.want)
		}
	}
	for _, c := range []struct {
		op   Shrink
		want string
	}{
		{Shrink{Elements: "sometimes"}, "want uniform, first"},
		{Shrink{Elements: "uniform:3"}, "only random takes a seed"},
		{Shrink{LayersFrom: "middle"}, "want first, last, uniform"},
		{Shrink{LayerMap: "0,5"}, "not a teacher block"},
		{Shrink{LayerMap: "0", LayersFrom: "first"}, "not both"},
		{Shrink{LayerMap: "0,1", Target: Target{Layers: 1}}, "--layers says 1"},
		{Shrink{Elements: "importance"}, "calibration"},
	} {
		_, err := grow.Expand(llama, &c.op)
		var oe *grow.OptionError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an option error saying %q", c.op, err, c.want)
		}
	}
}

// TestLayerSelection: first, last, uniform and an explicit map pick the
// blocks they say.
func TestLayerSelection(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "llama", D: 16, H: 2, K: 1, I: 20, V: 30, L: 8, Seed: 6})
	for _, c := range []struct {
		op   Shrink
		want []int
	}{
		{Shrink{Target: Target{Layers: 3}}, []int{0, 1, 2}},
		{Shrink{Target: Target{Layers: 3}, LayersFrom: "last"}, []int{5, 6, 7}},
		{Shrink{Target: Target{Layers: 4}, LayersFrom: "uniform"}, []int{0, 2, 5, 7}},
		{Shrink{LayerMap: "7,0,3"}, []int{7, 0, 3}},
	} {
		r, err := grow.Expand(g, &c.op)
		if err != nil {
			t.Fatal(err)
		}
		if s := recorded(t, r); !slices.Equal(s.Layers, c.want) {
			t.Errorf("%+v: blocks %v, want %v", c.op, s.Layers, c.want)
		}
		if err := Verify(g, r.Graph, recorded(t, r)); err != nil {
			t.Error(err)
		}
	}
}

// TestImportancePerLayer: importance keeps each block's own heads and FFN
// units (per-layer maps in the engine), the residual channels with the
// largest scores, and Verify holds.
func TestImportancePerLayer(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "llama", D: 32, H: 4, K: 2, I: 48, V: 40, L: 3, Tied: true, Seed: 7})
	calib := [][]int{{1, 5, 9, 2, 30, 11, 7, 7, 3}, {1, 39, 0, 12, 5, 8}}
	op := &Shrink{Target: Target{Hidden: 16, Heads: 2, KVHeads: 1, FFN: 20}, Elements: ElementsImportance, LayersFrom: LayersImportance, Calib: calib}
	r, err := grow.Expand(g, op)
	if err != nil {
		t.Fatal(err)
	}
	s := recorded(t, r)
	if s.FFN.Shared() {
		t.Errorf("every block keeps the same FFN units %v: scores per block expected to differ", s.FFN[0])
	}
	if !slices.Equal(s.Hidden, Top(op.Scores.Hidden, 16)) || !slices.Equal(s.Layers, Top(op.Scores.Blocks, 3)) {
		t.Errorf("hidden %v, blocks %v: not the top scores", s.Hidden, s.Layers)
	}
	for l, tl := range s.Layers {
		if !slices.Equal(s.FFN.At(l), Top(op.Scores.FFN[tl], 20)) {
			t.Errorf("block %d: FFN %v, not the top scores of teacher block %d", l, s.FFN.At(l), tl)
		}
	}
	if err := Verify(g, r.Graph, s); err != nil {
		t.Error(err)
	}
	if r.Params["calibration_tokens"] != 15 {
		t.Errorf("calibration_tokens %v", r.Params["calibration_tokens"])
	}
}

// TestVerifyCatchesChanges: Verify refuses a student one of whose entries is
// not the teacher's.
func TestVerifyCatchesChanges(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "llama", D: 32, H: 4, K: 2, I: 48, V: 40, L: 2, Seed: 8})
	r, err := grow.Expand(g, &Shrink{Target: Target{Hidden: 16, Heads: 2, KVHeads: 1, FFN: 20}})
	if err != nil {
		t.Fatal(err)
	}
	s := recorded(t, r)
	bad := *s
	bad.Hidden = slices.Clone(s.Hidden)
	bad.Hidden[3]++
	if err := Verify(g, r.Graph, &bad); err == nil {
		t.Error("Verify accepted a wrong residual index set")
	}
	w := reference.Values(t, r.Graph.Layers[1].Down.W)
	w[5] += 1e-9
	r.Graph.Layers[1].Down.W = graph.NewDense64(w, checkpoint.F64, r.Graph.Layers[1].Down.W.Shape()...)
	if err := Verify(g, r.Graph, s); err == nil || !strings.Contains(err.Error(), "mlp.down") {
		t.Errorf("Verify: %v, want a difference in mlp.down", err)
	}
}

func stories(t testing.TB) *graph.Graph {
	t.Helper()
	ck, err := checkpoint.Open(filepath.Join("..", "testdata", "stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	g, err := graph.FromCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func readIDs(t testing.TB, name string) [][]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := ParseIDs(b, name)
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// TestQuality is the measurement on stories260k shrunk to hidden 32,
// 4 heads, 2 key/value heads, FFN 86 and 3 blocks (uniform layers), on
// stories the calibration did not see: untrained, uniform selection's raw
// loss is worse than random initialisation's (its logits are confidently
// wrong), its calibrated loss is better; importance selection on all axes
// beats uniform selection's calibrated loss by at least 0.2 nats.
func TestQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("measures losses over thousands of positions")
	}
	g := stories(t)
	calib, eval := readIDs(t, "stories-calib.ids")[:40], readIDs(t, "stories-eval.ids")[:40]
	op := &Shrink{Target: Target{Hidden: 32, Heads: 4, KVHeads: 2, FFN: 86, Layers: 3}, LayersFrom: LayersUniform, Calib: calib}
	rows, err := Compare(g, op, eval, 3)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	PrintRows(&b, rows)
	t.Log("\n" + b.String())
	loss := map[string]Loss{}
	for _, r := range rows {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Name, r.Err)
		}
		loss[r.Name] = r.Loss
	}
	uniform, imp := loss["this run (uniform)"], loss["importance"]
	for s := 1; s <= 3; s++ {
		init := loss[fmt.Sprintf("random init (seed %d)", s)]
		if !(uniform.Raw > init.Raw) {
			t.Errorf("uniform selection's raw loss %.3f is not worse than random init %d's %.3f", uniform.Raw, s, init.Raw)
		}
		if !(uniform.Calibrated < init.Calibrated) {
			t.Errorf("uniform selection's calibrated loss %.3f does not beat random init %d's %.3f", uniform.Calibrated, s, init.Calibrated)
		}
	}
	if !(imp.Calibrated <= uniform.Calibrated-0.2) {
		t.Errorf("importance selection's calibrated loss %.3f is not 0.2 nats below uniform selection's %.3f", imp.Calibrated, uniform.Calibrated)
	}
}
