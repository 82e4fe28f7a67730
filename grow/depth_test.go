package grow

import (
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

// TestDepthLayerMaps: each depth operator builds the layer list it says, and
// records the layer map grow check compares hidden states by.
func TestDepthLayerMaps(t *testing.T) {
	src := randomGraph(llamaGQA, 1) // 2 layers
	src4 := randomGraph(reference.Spec{Family: graph.FamilyLlama, D: 32, H: 4, K: 2, I: 48, V: 40, L: 4}, 2)
	for _, c := range []struct {
		name   string
		g      *graph.Graph
		op     Operator
		layers int
		lmap   []int
	}{
		{"identity at 0,0", src, &Identity{At: "0,0"}, 4, []int{0, 1, 1, 1, 2}},
		{"identity after-every-2", src4, &Identity{Insert: "after-every-2"}, 6, []int{0, 1, 2, 2, 3, 4, 4}},
		{"identity spread", src4, &Identity{Layers: 6}, 6, []int{0, 1, 2, 2, 3, 4, 4}},
		{"lemon depth 4 -> 6", src4, &LEMON{Layers: 6}, 6, []int{0, 1, 2, 3, 3, 4, 4}},
		{"lemon depth 2 -> 4 with width", src, &LEMON{Width: Width{Hidden: 128}, Layers: 4}, 4, []int{0, 1, 1, 2, 2}},
		{"duplicate", src4, &Duplicate{Ranges: "0-3,1-4"}, 6, []int{0, 1, 2, 3, -1, -1, -1}},
	} {
		r, err := Expand(c.g, c.op)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(r.Graph.Layers) != c.layers || r.Graph.Dims.Layers != c.layers || r.Graph.Config != nil && r.Graph.Config.Layers != c.layers {
			t.Errorf("%s: %d layers, want %d", c.name, len(r.Graph.Layers), c.layers)
		}
		if !slices.Equal(r.Mapping.Layers, c.lmap) {
			t.Errorf("%s: layer map %v, want %v", c.name, r.Mapping.Layers, c.lmap)
		}
	}
}

// TestCancelZero: LEMON's cancelzero output projections are not zero, yet the
// block adds nothing (the conformance suite checks the function); allzero's
// are zero.
func TestCancelZero(t *testing.T) {
	src := randomGraph(llamaGQA, 1)
	for _, init := range []string{"allzero", "cancelzero"} {
		r, err := Expand(src, &LEMON{Width: Width{Hidden: 128}, Layers: 4, DepthInit: init, Common: Common{Seed: 1}})
		if err != nil {
			t.Fatal(err)
		}
		v := reference.Values(t, r.Graph.Layers[1].Down.W) // the new block after source block 0
		nonzero := slices.ContainsFunc(v, func(x float64) bool { return x != 0 })
		if nonzero != (init == "cancelzero") {
			t.Errorf("%s: new block's down_proj non-zero: %v", init, nonzero)
		}
	}
}

func TestDepthRefusals(t *testing.T) {
	llama4 := randomGraph(reference.Spec{Family: graph.FamilyLlama, D: 32, H: 4, K: 2, I: 48, V: 40, L: 4}, 2)
	for _, c := range []struct {
		name string
		g    *graph.Graph
		op   Operator
		want string
	}{
		{"identity fewer layers", llama4, &Identity{Layers: 3}, "want more than the source's 4"},
		{"identity on post-LN", randomGraph(bert, 1), &Identity{Layers: 3}, "post-LN"},
		{"identity at out of range", llama4, &Identity{At: "4"}, "not a source block in 0..3"},
		{"identity at and insert", llama4, &Identity{At: "1", Insert: "after-every-2"}, "not both"},
		{"identity insert bad", llama4, &Identity{Insert: "every-2"}, "after-every-K"},
		{"identity count mismatch", llama4, &Identity{At: "1,2", Layers: 5}, "--layers says 5"},
		{"lemon too deep", llama4, &LEMON{Layers: 9}, "at most 2L"},
		{"lemon shallower", llama4, &LEMON{Layers: 3}, "at most 2L"},
		{"lemon depth-init", llama4, &LEMON{Layers: 6, DepthInit: "half"}, "allzero or cancelzero"},
		{"lemon post-LN depth", randomGraph(bert, 1), &LEMON{Layers: 3}, "post-LN"},
		{"duplicate no ranges", llama4, &Duplicate{Layers: 6}, "needs --ranges"},
		{"duplicate past the end", llama4, &Duplicate{Ranges: "0-3,2-5"}, "not a half-open range"},
		{"duplicate empty range", llama4, &Duplicate{Ranges: "2-2"}, "not a half-open range"},
		{"duplicate total", llama4, &Duplicate{Ranges: "0-4,0-2", Layers: 5}, "give 6 layers, but --layers says 5"},
	} {
		_, err := Expand(c.g, c.op)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
