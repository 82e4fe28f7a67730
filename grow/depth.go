package grow

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// Identity inserts blocks that compute the identity, as LLaMA Pro does (Wu
// et al. 2024, "LLaMA Pro: Progressive LLaMA with block expansion", arXiv
// 2401.02415): each new block is a copy of the block before it with its
// attention-output and MLP-output projections (and their biases) zero, so it
// adds nothing to the residual stream. BIT-EXACT for pre-LN families; a
// post-LN block normalises its input even when it adds nothing, so post-LN
// models are refused.
type Identity struct {
	// Layers is the result's depth; with At or Insert it may be left 0.
	Layers int
	// Insert is "after-every-K": a new block after every K source blocks.
	Insert string
	// At lists the source blocks (0-based) after which a new block goes,
	// e.g. "1,3" (a block may repeat: "1,1" inserts two).
	At string
}

func init() { Register(func() Operator { return &Identity{} }) }

// Name implements Operator.
func (*Identity) Name() string { return "identity" }

// Summary implements Operator.
func (*Identity) Summary() string {
	return "new blocks that add nothing to the residual stream (copies with zero output projections); BIT-EXACT for pre-LN models"
}

// Params implements Operator.
func (o *Identity) Params() []Param {
	return []Param{
		{Name: "layers", Usage: "the result's number of layers", Value: &o.Layers},
		{Name: "insert", Usage: "identity: after-every-K inserts a new block after every K source blocks (default: spread evenly)", Value: &o.Insert},
		{Name: "at", Usage: "identity: source blocks after which a new block goes, e.g. 1,3", Value: &o.At},
	}
}

// Examples implements Examples.
func (*Identity) Examples(g *graph.Graph) []Operator {
	L := len(g.Layers)
	return []Operator{&Identity{Layers: L + 1}, &Identity{At: fmt.Sprintf("0,%d,%d", L-1, L-1)}, &Identity{Insert: "after-every-1"}}
}

// Plan implements Operator.
func (o *Identity) Plan(g *graph.Graph) (*transform.Plan, error) {
	if g.PostLN {
		return nil, fmt.Errorf("identity: %s is post-LN: a block normalises the residual stream after adding to it, so a block that adds nothing still changes it; identity blocks are exact for pre-LN models only", g.Family)
	}
	after, err := o.positions(len(g.Layers))
	if err != nil {
		return nil, err
	}
	var layers []transform.LayerSource
	for i := range g.Layers {
		layers = append(layers, transform.Copy(i))
		for range after[i] {
			layers = append(layers, transform.LayerSource{From: []transform.Weighted{{Layer: i, Weight: 1}}, Identity: true})
		}
	}
	p := depthPlan(g, o.Name(), claim.BitExact, layers)
	p.HiddenText = fmt.Sprintf("h' = h (%d new blocks add nothing)", len(layers)-len(g.Layers))
	p.Params["layers"], p.Params["at"] = len(layers), positionsText(after)
	return p, nil
}

// positions returns how many new blocks go after each source block.
func (o *Identity) positions(L int) ([]int, error) {
	after := make([]int, L)
	switch {
	case o.At != "" && o.Insert != "":
		return nil, fmt.Errorf("identity: give --at or --insert, not both")
	case o.At != "":
		for _, f := range strings.Split(o.At, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || i < 0 || i >= L {
				return nil, fmt.Errorf("identity: --at %q: %q is not a source block in 0..%d", o.At, f, L-1)
			}
			after[i]++
		}
	case o.Insert != "":
		k, err := strconv.Atoi(strings.TrimPrefix(o.Insert, "after-every-"))
		if !strings.HasPrefix(o.Insert, "after-every-") || err != nil || k < 1 || k > L {
			return nil, fmt.Errorf("identity: --insert %q: want after-every-K with K in 1..%d", o.Insert, L)
		}
		for i := k - 1; i < L; i += k {
			after[i]++
		}
	default:
		if o.Layers <= L {
			return nil, fmt.Errorf("identity: --layers %d: want more than the source's %d layers (or give --at or --insert)", o.Layers, L)
		}
		if err := checkSize(fmt.Sprintf("--layers %d", o.Layers), float64(o.Layers)); err != nil {
			return nil, err
		}
		// spread evenly, as LLaMA Pro: new block j after source block
		// ⌊(j+1)·L/n⌋ − 1 (after every L/n blocks when n divides L)
		n := o.Layers - L
		for j := range n {
			after[max(0, (j+1)*L/n-1)]++
		}
	}
	total := L
	for _, a := range after {
		total += a
	}
	if o.Layers != 0 && total != o.Layers {
		return nil, fmt.Errorf("identity: the insertions give %d layers, but --layers says %d", total, o.Layers)
	}
	return after, nil
}

// positionsText lists the source blocks a new block follows, e.g. "1,3,3".
func positionsText(after []int) string {
	var s []string
	for i, n := range after {
		for range n {
			s = append(s, strconv.Itoa(i))
		}
	}
	return strings.Join(s, ",")
}

// Duplicate builds the result's layers from ranges of the source's, as depth
// up-scaling does (SOLAR, Kim et al. 2023, arXiv 2312.15166; mergekit's
// passthrough): "0-8,4-12" is source blocks 0..7 then 4..11 (half-open
// ranges). Not function-preserving: the class is NON-PRESERVING and grow check
// reports how far the result is from the source.
type Duplicate struct {
	// Layers is the result's depth (0: the ranges' total).
	Layers int
	// Ranges are half-open ranges of source blocks, "a-b,c-d".
	Ranges string
}

func init() { Register(func() Operator { return &Duplicate{} }) }

// Name implements Operator.
func (*Duplicate) Name() string { return "duplicate" }

// Summary implements Operator.
func (*Duplicate) Summary() string {
	return "layers made of ranges of the source's (depth up-scaling); NON-PRESERVING"
}

// Params implements Operator.
func (o *Duplicate) Params() []Param {
	return []Param{
		{Name: "layers", Usage: "the result's number of layers", Value: &o.Layers},
		{Name: "ranges", Usage: "duplicate: half-open ranges of source blocks, e.g. 0-8,4-12 (required)", Value: &o.Ranges},
	}
}

// Examples implements Examples.
func (*Duplicate) Examples(g *graph.Graph) []Operator {
	L := len(g.Layers)
	return []Operator{&Duplicate{Ranges: fmt.Sprintf("0-%d,0-%d", L, L)}}
}

// Plan implements Operator.
func (o *Duplicate) Plan(g *graph.Graph) (*transform.Plan, error) {
	L := len(g.Layers)
	if o.Ranges == "" {
		return nil, fmt.Errorf("duplicate needs --ranges, e.g. --ranges 0-%d,%d-%d", L*3/4, L/4, L)
	}
	var layers []transform.LayerSource
	for _, r := range strings.Split(o.Ranges, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(r), "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || lo < 0 || hi > L || lo >= hi {
			return nil, fmt.Errorf("duplicate: --ranges %q: %q is not a half-open range a-b with 0 ≤ a < b ≤ %d", o.Ranges, r, L)
		}
		for i := lo; i < hi; i++ {
			layers = append(layers, transform.Copy(i))
		}
	}
	if o.Layers != 0 && o.Layers != len(layers) {
		return nil, fmt.Errorf("duplicate: --ranges %s give %d layers, but --layers says %d", o.Ranges, len(layers), o.Layers)
	}
	if err := checkSize(fmt.Sprintf("--ranges %s: %d layers", o.Ranges, len(layers)), float64(len(layers))); err != nil {
		return nil, err
	}
	p := depthPlan(g, o.Name(), claim.NonPreserving, layers)
	p.HiddenText = "not preserved: hidden states are compared for the blocks that keep their place"
	p.Params["layers"], p.Params["ranges"] = len(layers), o.Ranges
	return p, nil
}

// depthPlan is the plan of an operator that changes the layer list only.
func depthPlan(g *graph.Graph, op, class string, layers []transform.LayerSource) *transform.Plan {
	d := g.Dims
	d.Layers = len(layers)
	return &transform.Plan{
		Operator: op, Class: class, Dims: d, Layers: layers,
		Hidden: claim.HiddenMap{Kind: "tile", Src: d.Hidden, Dst: d.Hidden},
		Params: map[string]any{"method": op},
	}
}
