package grow

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// MSG is masked structural growth (Yao et al. 2024, "Masked structural growth
// for 2x faster language model pre-training", arXiv 2305.02869): the source
// in the leading coordinates of every grown axis (hidden, heads in whole
// key/value groups, FFN) and its blocks first, new weights drawn fresh, new
// blocks copies of the last source blocks stacked on top; masks at value 0
// keep every new coordinate and block out of the computation, so the masked
// forward pass (probe.GrowthMasks) is the source's whatever the new weights
// are. The masks and their state go beside the checkpoint (Sidecars); they
// rise to 1 in training (grow msg set-mask), and grow msg bake writes a plain
// checkpoint where that is exact.
type MSG struct {
	Width
	// Layers is the result's depth (0 keeps it).
	Layers int
	// NewInit draws the new weights: "normal:STD" (default normal:0.02) or
	// "zero".
	NewInit string
	// Seed makes the new weights reproducible.
	Seed int64
}

func init() { Register(func() Operator { return &MSG{} }) }

// Name implements Operator.
func (*MSG) Name() string { return "msg" }

// Summary implements Operator.
func (*MSG) Summary() string {
	return "masked structural growth of hidden, heads, FFN and layers: fresh new weights behind masks at 0; EXACT under the masks"
}

// Params implements Operator.
func (m *MSG) Params() []Param {
	return append(m.Width.params(),
		Param{Name: "layers", Usage: "the result's number of layers", Value: &m.Layers},
		Param{Name: "new-init", Usage: "msg: new weights, normal:STD (default normal:0.02) or zero", Value: &m.NewInit},
		Param{Name: "seed", Usage: "seed of noise, random splits and free values", Value: &m.Seed})
}

// Examples implements Examples.
func (*MSG) Examples(g *graph.Graph) []Operator {
	d := g.Dims
	k := max(1, d.Heads/d.KVHeads)
	return []Operator{
		&MSG{Width: Width{FFN: d.FFN + 5}, Seed: 1},
		&MSG{Layers: d.Layers + 1, Seed: 2},
		&MSG{Width: Width{Hidden: d.Hidden + d.HeadDim*k, Heads: d.Heads + k, KVHeads: d.KVHeads + 1, FFN: d.FFN}, Seed: 4},
		&MSG{Width: Width{Hidden: d.Hidden + d.HeadDim*k, Heads: d.Heads + k, KVHeads: d.KVHeads + 1, FFN: 2 * d.FFN},
			Layers: d.Layers + 2, Seed: 3},
	}
}

// std returns the standard deviation of new weights.
func (m *MSG) std() (float64, error) {
	switch init := m.NewInit; {
	case init == "":
		return 0.02, nil
	case init == "zero":
		return 0, nil
	case strings.HasPrefix(init, "normal:"):
		v, err := strconv.ParseFloat(strings.TrimPrefix(init, "normal:"), 64)
		if err == nil && v >= 0 && v < 1e6 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("msg: --new-init %q: want normal:STD (a standard deviation ≥ 0) or zero", m.NewInit)
}

// Plan implements Operator.
func (m *MSG) Plan(g *graph.Graph) (*transform.Plan, error) {
	d := g.Dims
	std, err := m.std()
	if err != nil {
		return nil, err
	}
	w := m.Width
	if w.Hidden == 0 {
		w.Hidden = d.Hidden
	}
	if w.FFN == 0 {
		w.FFN = max(d.FFN, d.FFN*w.Hidden/d.Hidden)
	}
	t, err := w.target(m.Name(), g)
	if err != nil {
		return nil, err
	}
	if t.Heads*d.KVHeads != t.KVHeads*d.Heads {
		return nil, fmt.Errorf("msg: heads %d -> %d with key/value heads %d -> %d: MSG grows heads in whole key/value groups of %d (give --kv-heads %d)",
			d.Heads, t.Heads, d.KVHeads, t.KVHeads, d.Heads/d.KVHeads, t.Heads*d.KVHeads/d.Heads)
	}
	layers, err := m.layers(g)
	if err != nil {
		return nil, err
	}
	t.Layers = len(layers)
	free := func(n, n2 int) *transform.Map { return transform.Pad(n, n2, transform.FillFree, transform.FillFree) }
	kvUnits := free(d.KVHeads, t.KVHeads)
	qUnits, err := transform.HeadMaps(d.Heads, d.KVHeads, t.Heads, t.KVHeads, kvUnits)
	if err != nil {
		return nil, fmt.Errorf("msg: %w", err)
	}
	state := make([]int, t.Layers+1)
	for j := range state {
		state[j] = min(j, d.Layers)
	}
	p := &transform.Plan{
		Operator: m.Name(), Class: claim.Exact, Dims: t,
		Maps: map[graph.Axis]*transform.Map{
			graph.Residual: free(d.Hidden, t.Hidden),
			graph.QHeads:   transform.Block(qUnits, d.HeadDim),
			graph.KVHeads:  transform.Block(kvUnits, d.HeadDim),
			graph.FFN:      free(d.FFN, t.FFN),
		},
		Layers:     layers,
		StateMap:   state,
		Values:     transform.Values{FreeStd: std, AbsRandom: true, NormNewOne: true},
		Seed:       m.Seed,
		Hidden:     claim.HiddenMap{Kind: "pad", Src: d.Hidden, Dst: t.Hidden, Fill: "zero"},
		HiddenText: fmt.Sprintf("h' = [h; 0] under the masks (%d new coordinates at mask 0)", t.Hidden-d.Hidden),
		Params: map[string]any{"method": m.Name(), "hidden": t.Hidden, "heads": t.Heads, "kv_heads": t.KVHeads,
			"ffn": t.FFN, "layers": t.Layers, "new_init": m.NewInit, "seed": m.Seed},
		Notes: []string{"the result computes the source's function under its masks (" + claim.GrowthMasksFile +
			", value 0); its plain forward pass does not: grow msg set-mask raises them, grow msg bake writes a plain checkpoint where that is exact"},
	}
	return p, nil
}

// layers stacks the new blocks on top, copies of the last source blocks
// (MSG's stacking: source blocks 0..L−1 repeated, then the last L' mod L).
func (m *MSG) layers(g *graph.Graph) ([]transform.LayerSource, error) {
	L := len(g.Layers)
	n := m.Layers
	if n == 0 {
		n = L
	}
	if n < L {
		return nil, fmt.Errorf("msg: --layers %d is fewer than the source's %d (MSG only grows)", n, L)
	}
	if err := checkSize(fmt.Sprintf("--layers %d", n), float64(n)); err != nil {
		return nil, err
	}
	out := make([]transform.LayerSource, n)
	for l := range out {
		src := l
		if l >= L {
			extra := l - L // 0-based index among the new blocks
			reps := (n - L) / L
			if extra < reps*L {
				src = extra % L
			} else {
				src = L - (n-L)%L + (extra - reps*L)
			}
		}
		out[l] = transform.Copy(src)
	}
	return out, nil
}

// Sidecars implements the operators that write files beside the
// checkpoint: MSG's state (claim.GrowthStateFile) and masks at value 0
// (claim.GrowthMasksFile) for a plan of g.
func (m *MSG) Sidecars(g *graph.Graph, p *transform.Plan) (map[string][]byte, error) {
	gs := &claim.Growth{Method: m.Name(), Old: sizesOf(g.Dims), New: sizesOf(p.Dims)}
	for l, ls := range p.Layers {
		gs.SourceLayers = append(gs.SourceLayers, ls.From[0].Layer)
		if l >= g.Dims.Layers {
			gs.NewLayers = append(gs.NewLayers, l)
		}
	}
	return GrowthFiles(gs)
}

// GrowthFiles returns the files of an MSG state: its JSON and its masks
// (claim.Growth.Files).
func GrowthFiles(gs *claim.Growth) (map[string][]byte, error) { return gs.Files() }

func sizesOf(d graph.Dims) claim.Sizes {
	return claim.Sizes{Hidden: d.Hidden, Heads: d.Heads, KVHeads: d.KVHeads, HeadDim: d.HeadDim, FFN: d.FFN, Layers: d.Layers}
}
