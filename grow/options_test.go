package grow

import (
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// Options is the flat set of options the tests were written with, one field
// per flag of any width operator; Operator turns it into the operator its
// Method names. It exists in the tests only: the package's API is the
// operator types.
type Options struct {
	Method                 Method
	WidthFactor, FFNFactor int
	Noise                  bool
	NoiseSNRDB             float64
	Hidden, Heads, KVHeads int
	FFN, HeadDim           int
	SplitScale, PadStd     float64
	KeepTied               bool
	Seed                   int64
}

// Method names a width operator in Options.
type Method string

// The methods of Options.
const (
	MethodHyperCloning Method = "hypercloning"
	MethodLEMON        Method = "lemon"
	MethodZeroPad      Method = "zeropad"
)

// Operator returns the operator o names, with o's parameters; an unknown
// method gives an operator whose Plan fails.
func (o Options) Operator() Operator {
	c := Common{KeepTied: o.KeepTied, Seed: o.Seed}
	w := Width{Hidden: o.Hidden, Heads: o.Heads, KVHeads: o.KVHeads, FFN: o.FFN, HeadDim: o.HeadDim}
	switch o.Method {
	case MethodHyperCloning:
		return &HyperCloning{WidthFactor: o.WidthFactor, FFNFactor: o.FFNFactor, Noise: o.Noise, NoiseSNRDB: o.NoiseSNRDB, Common: c}
	case MethodLEMON:
		return &LEMON{Width: w, SplitScale: o.SplitScale, Common: c}
	case MethodZeroPad:
		return &ZeroPad{Width: w, PadStd: o.PadStd, Common: c}
	}
	return unknownOp(o.Method)
}

type unknownOp string

func (u unknownOp) Name() string  { return string(u) }
func (unknownOp) Summary() string { return "" }
func (unknownOp) Params() []Param { return nil }
func (u unknownOp) Plan(*graph.Graph) (*transform.Plan, error) {
	_, err := New(string(u))
	return nil, err
}
