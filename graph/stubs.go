package graph

import "github.com/grow-ml/grow/checkpoint"

// TODO(graph): placeholders with final signatures; the implementation replaces them.

// FromCheckpoint builds the graph of an open checkpoint. Every tensor lands in
// exactly one role or Extra rule; a tensor that fits none is an error naming it,
// and so is a config that disagrees with the tensors.
func FromCheckpoint(c *checkpoint.Checkpoint) (*Graph, error) { return nil, nil }

// Roles lists every tensor of the graph with its role, in a stable order.
func (g *Graph) Roles() []Role { return nil }

// Entries maps the graph back to the family's checkpoint tensor names, encoding
// every tensor as dtype dt ("" keeps each tensor's own dtype). Tensors that are
// unchanged views of a source tensor with the same dtype are byte-copied.
func (g *Graph) Entries(dt checkpoint.DType) ([]checkpoint.Entry, error) { return nil, nil }

// OutputConfig returns a copy of g.Config with the graph's dims, eps and tie flag
// written in (what an operator writes next to its output).
func (g *Graph) OutputConfig() *checkpoint.Config { return nil }

// Dense is an in-memory tensor (operators' results, tests).
type Dense struct {
	shape []int
	dt    checkpoint.DType
	f32   []float32
	f64   []float64
}

// NewDense32 returns an in-memory float32 tensor of the given shape; dt is the
// dtype reported (the data is float32 whatever it says).
func NewDense32(data []float32, dt checkpoint.DType, shape ...int) *Dense {
	return &Dense{shape: shape, dt: dt, f32: data}
}

// NewDense64 returns an in-memory float64 tensor of the given shape.
func NewDense64(data []float64, dt checkpoint.DType, shape ...int) *Dense {
	return &Dense{shape: shape, dt: dt, f64: data}
}

// Shape implements Tensor.
func (d *Dense) Shape() []int { return d.shape }

// DType implements Tensor.
func (d *Dense) DType() checkpoint.DType { return d.dt }

// Float32 implements Tensor.
func (d *Dense) Float32() ([]float32, error) {
	if d.f32 != nil {
		return d.f32, nil
	}
	out := make([]float32, len(d.f64))
	for i, v := range d.f64 {
		out[i] = float32(v)
	}
	return out, nil
}

// Float64 implements Tensor.
func (d *Dense) Float64() ([]float64, error) {
	if d.f64 != nil {
		return d.f64, nil
	}
	out := make([]float64, len(d.f32))
	for i, v := range d.f32 {
		out[i] = float64(v)
	}
	return out, nil
}
