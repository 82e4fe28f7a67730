package transform

import (
	"fmt"
	"slices"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// zeroTensor is a tensor of zeros with another tensor's shape and dtype (the
// output projections of an identity block).
type zeroTensor struct {
	shape []int
	dt    checkpoint.DType
}

// Zeros returns a tensor of zeros with like's shape and dtype, computed when
// read.
func Zeros(like graph.Tensor) graph.Tensor { return zeros(like) }

func zeros(like graph.Tensor) graph.Tensor {
	return zeroTensor{shape: slices.Clone(like.Shape()), dt: like.DType()}
}

func (z zeroTensor) Shape() []int                { return z.shape }
func (z zeroTensor) DType() checkpoint.DType     { return z.dt }
func (z zeroTensor) Float32() ([]float32, error) { return make([]float32, prod(z.shape)), nil }
func (z zeroTensor) Float64() ([]float64, error) { return make([]float64, prod(z.shape)), nil }

// combined is Σ weights[k]·parts[k], computed in float64 when read.
type combined struct {
	role    string
	parts   []graph.Tensor
	weights []float64
}

// combine returns the combination of the same role of several source layers;
// every part must have the same shape.
func combine(role string, from []Weighted, parts []graph.Tensor) (graph.Tensor, error) {
	c := &combined{role: role, parts: parts}
	for k, p := range parts {
		if !slices.Equal(p.Shape(), parts[0].Shape()) {
			return nil, fmt.Errorf("transform: %s combines shapes %v (layer %d) and %v (layer %d)",
				role, parts[0].Shape(), from[0].Layer, p.Shape(), from[k].Layer)
		}
		c.weights = append(c.weights, from[k].Weight)
	}
	return c, nil
}

func (c *combined) Shape() []int { return c.parts[0].Shape() }

// DType is the widest dtype of the parts.
func (c *combined) DType() checkpoint.DType {
	dt := c.parts[0].DType()
	for _, p := range c.parts[1:] {
		if p.DType().MantissaBits() > dt.MantissaBits() {
			dt = p.DType()
		}
	}
	return dt
}

func (c *combined) Float64() ([]float64, error) {
	var out []float64
	for k, p := range c.parts {
		v, err := p.Float64()
		if err != nil {
			return nil, fmt.Errorf("transform: %s: %w", c.role, err)
		}
		if out == nil {
			out = make([]float64, len(v))
		}
		for i, x := range v {
			out[i] += c.weights[k] * x
		}
	}
	return out, nil
}

func (c *combined) Float32() ([]float32, error) { return graph.Float32Of(c.Float64()) }
