package graph

import (
	"slices"

	"github.com/grow-ml/grow/checkpoint"
)

// rounded is a tensor whose values are rounded to a narrower float dtype.
type rounded struct {
	t  Tensor
	dt checkpoint.DType
}

func (r rounded) Shape() []int            { return r.t.Shape() }
func (r rounded) DType() checkpoint.DType { return r.dt }
func (r rounded) Float64() ([]float64, error) {
	v, err := r.t.Float64()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v)) // v may be the tensor's own slice
	copy(out, v)
	if err := roundInPlace(out, r.dt); err != nil {
		return nil, err
	}
	return out, nil
}
func (r rounded) Float32() ([]float32, error) { return Float32Of(r.Float64()) }

// Float32Of narrows the float64 values of a computed tensor to float32: the
// Float32 method of a tensor computed in float64.
func Float32Of(v []float64, err error) ([]float32, error) {
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}

// Round returns a copy of g whose float tensors read as if stored in dt: what
// `grow convert --dtype dt` of g computes. Tensors already in dt, and non-float
// tensors, are left as they are. It is the reference that a result stored in a
// narrower dtype is checked against.
func Round(g *Graph, dt checkpoint.DType) *Graph { return round(g, dt, false) }

// RoundValues is Round for every float tensor, also those that say they are
// dt: a computed tensor says the dtype it will be written in, yet its Float64
// values come unrounded.
func RoundValues(g *Graph, dt checkpoint.DType) *Graph { return round(g, dt, true) }

func round(g *Graph, dt checkpoint.DType, all bool) *Graph {
	return g.MapTensors(func(t Tensor) Tensor {
		if t == nil || !t.DType().IsFloat() || (t.DType() == dt && !all) || !dt.IsFloat() {
			return t
		}
		return rounded{t, dt}
	})
}

// MapTensors returns a shallow copy of g with every tensor t replaced by f(t)
// (f is called with nil for an absent tensor).
func (g *Graph) MapTensors(f func(Tensor) Tensor) *Graph {
	out := *g
	out.Layers = slices.Clone(g.Layers)
	for _, fl := range out.Fields() {
		*fl.T = f(*fl.T)
	}
	out.Extras = slices.Clone(g.Extras)
	for i := range out.Extras {
		out.Extras[i].T = f(out.Extras[i].T)
	}
	return &out
}
