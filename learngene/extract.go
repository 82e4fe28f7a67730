package learngene

import (
	"fmt"
	"math"
	"slices"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// SWS stage members (Extract.Member).
const (
	MemberMean   = "mean"
	MemberFirst  = "first"
	MemberMiddle = "middle"
	MemberLast   = "last"
)

// Extract makes a gene from a trained model.
type Extract struct {
	// Kind is "tleg" (the default) or "sws".
	Kind string
	// Stages are SWS's stage lengths in source blocks, summing to the
	// source's depth (nil: DefaultStages).
	Stages []int
	// Member is how SWS makes a stage's block: "mean" of its blocks (the
	// default), or its "first", "middle" or "last" block.
	Member string
}

// DefaultStages splits L blocks into max(1, round(L/3)) stages of nearly equal
// length, the longer ones last (16 blocks: 3,3,3,3,4, as the SWS paper's
// five stages of about three).
func DefaultStages(L int) []int {
	s := max(1, (L+1)/3)
	out := make([]int, s)
	for i := range out {
		out[i] = L / s
		if i >= s-L%s {
			out[i]++
		}
	}
	return out
}

// tlegWeights returns the least-squares weights over L blocks at t_i = i/L:
// θ_A = Σ a_i θ_i and θ_B = Σ b_i θ_i.
func tlegWeights(L int) (a, b, t []float64) {
	t = make([]float64, L)
	mean := 0.0
	for i := range t {
		t[i] = float64(i) / float64(L)
		mean += t[i]
	}
	mean /= float64(L)
	ss := 0.0
	for _, x := range t {
		ss += (x - mean) * (x - mean)
	}
	a, b = make([]float64, L), make([]float64, L)
	for i, x := range t {
		b[i] = (x - mean) / ss
		a[i] = 1/float64(L) - mean*b[i]
	}
	return a, b, t
}

// Plan returns the plan that makes the gene's blocks from g's, and its
// manifest (without the TLEG fit: Fit computes it).
func (e *Extract) Plan(g *graph.Graph) (*transform.Plan, *Manifest, error) {
	L := len(g.Layers)
	m := &Manifest{Format: Format, Kind: e.Kind, SourceLayers: L}
	if m.Kind == "" {
		m.Kind = TLEG
	}
	params := map[string]any{"method": "learngene-extract", "kind": m.Kind}
	switch m.Kind {
	case TLEG:
		if e.Stages != nil || e.Member != "" {
			return nil, nil, fmt.Errorf("--stages and --member are SWS's (--kind sws)")
		}
		if L < 2 {
			return nil, nil, fmt.Errorf("a TLEG fit over depth needs at least 2 blocks, the source has %d", L)
		}
		a, b, _ := tlegWeights(L)
		var la, lb transform.LayerSource
		for i := range L {
			la.From = append(la.From, transform.Weighted{Layer: i, Weight: a[i]})
			lb.From = append(lb.From, transform.Weighted{Layer: i, Weight: b[i]})
		}
		return plan(g, "learngene-extract", []transform.LayerSource{la, lb}, params), m, nil
	case SWS:
		stages := e.Stages
		if stages == nil {
			stages = DefaultStages(L)
		}
		sum := 0
		for _, n := range stages {
			if n < 1 {
				return nil, nil, fmt.Errorf("--stages %v: every stage needs at least one block", stages)
			}
			sum += n
		}
		if sum != L {
			return nil, nil, fmt.Errorf("--stages %v cover %d blocks, the source has %d", stages, sum, L)
		}
		member := e.Member
		if member == "" {
			member = MemberMean
		}
		var layers []transform.LayerSource
		first := 0
		for _, n := range stages {
			var ls transform.LayerSource
			switch member {
			case MemberMean:
				for i := first; i < first+n; i++ {
					ls.From = append(ls.From, transform.Weighted{Layer: i, Weight: 1 / float64(n)})
				}
			case MemberFirst:
				ls = transform.Copy(first)
			case MemberMiddle:
				ls = transform.Copy(first + n/2)
			case MemberLast:
				ls = transform.Copy(first + n - 1)
			default:
				return nil, nil, fmt.Errorf("--member %q: want mean, first, middle or last", member)
			}
			layers = append(layers, ls)
			first += n
		}
		m.Stages, m.Member = slices.Clone(stages), member
		params["stages"], params["member"] = stages, member
		return plan(g, "learngene-extract", layers, params), m, nil
	}
	return nil, nil, fmt.Errorf("--kind %q: want tleg or sws", e.Kind)
}

// Fit returns, for every block tensor of g (by its role in block 0), the R²
// of TLEG's least-squares line over depth, computed in float64.
func Fit(g *graph.Graph) ([]TensorFit, error) {
	L := len(g.Layers)
	if L < 2 {
		return nil, fmt.Errorf("a fit over depth needs at least 2 blocks")
	}
	a, b, t := tlegWeights(L)
	fields := map[string]graph.Tensor{}
	var names []string
	for _, f := range g.Fields() {
		layer, name := graph.SplitRole(f.Role)
		if layer < 0 || *f.T == nil {
			continue
		}
		fields[f.Role] = *f.T
		if layer == 0 {
			names = append(names, name)
		}
	}
	var out []TensorFit
	for _, name := range names {
		vals := make([][]float64, L)
		for i := range L {
			tt := fields[graph.LayerRole(i, name)]
			if tt == nil {
				return nil, fmt.Errorf("block %d has no %s", i, name)
			}
			v, err := tt.Float64()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", graph.LayerRole(i, name), err)
			}
			if len(v) != len(vals[0]) && i > 0 {
				return nil, fmt.Errorf("%s: %d values, block 0's has %d", graph.LayerRole(i, name), len(v), len(vals[0]))
			}
			vals[i] = v
		}
		var res, tot float64
		for k := range vals[0] {
			var A, B, mean float64
			for i := range L {
				x := vals[i][k]
				A += a[i] * x
				B += b[i] * x
				mean += x
			}
			mean /= float64(L)
			for i := range L {
				x := vals[i][k]
				r := x - (A + t[i]*B)
				res += r * r
				tot += (x - mean) * (x - mean)
			}
		}
		r2 := 1.0
		if tot > 0 {
			r2 = 1 - res/tot
		}
		if math.IsNaN(r2) {
			return nil, fmt.Errorf("layers.*.%s: the fit is not a number (non-finite weights)", name)
		}
		out = append(out, TensorFit{Role: "layers.*." + name, R2: r2})
	}
	return out, nil
}
