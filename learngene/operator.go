package learngene

import (
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/transform"
)

// ExtractOp is Extract as a grow.Operator (for grow.Expand); Manifest is set
// by Plan.
type ExtractOp struct {
	Extract
	Manifest *Manifest
}

// ExpandOp is Expand as a grow.Operator for a gene with manifest Manifest;
// Source is set by Plan (SWS: the stage of every block).
type ExpandOp struct {
	Expand
	Manifest *Manifest
	Source   []int
}

var (
	_ grow.Operator = (*ExtractOp)(nil)
	_ grow.Operator = (*ExpandOp)(nil)
)

// Name implements grow.Operator.
func (*ExtractOp) Name() string { return "learngene-extract" }

// Summary implements grow.Operator.
func (*ExtractOp) Summary() string {
	return "a learngene from a trained model: TLEG's θ_A and θ_B fitted over depth, or SWS's stage blocks"
}

// Params implements grow.Operator (the command binds its own flags).
func (*ExtractOp) Params() []grow.Param { return nil }

// Plan implements grow.Operator.
func (o *ExtractOp) Plan(g *graph.Graph) (*transform.Plan, error) {
	p, m, err := o.Extract.Plan(g)
	o.Manifest = m
	return p, err
}

// Name implements grow.Operator.
func (*ExpandOp) Name() string { return "learngene-expand" }

// Summary implements grow.Operator.
func (*ExpandOp) Summary() string {
	return "a model of any depth from a learngene: TLEG's linear expansion or SWS's stage blocks"
}

// Params implements grow.Operator (the command binds its own flags).
func (*ExpandOp) Params() []grow.Param { return nil }

// Plan implements grow.Operator.
func (o *ExpandOp) Plan(g *graph.Graph) (*transform.Plan, error) {
	p, src, err := o.Expand.Plan(g, o.Manifest)
	o.Source = src
	return p, err
}
