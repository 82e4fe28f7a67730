package grow

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// Result is a grown model.
type Result struct {
	// Graph is the grown graph; its tensors are computed when read.
	Graph *graph.Graph
	// Plan says what was done to every tensor.
	Plan *transform.Report
	// Mapping is what grow check needs to judge the result.
	Mapping claim.Mapping
	// Params are the operator's parameters as recorded in grow.params.
	Params map[string]any
	// Files are small files the operator writes beside the checkpoint
	// (Sidecars), by name.
	Files map[string][]byte
}

// Metadata returns the safetensors metadata an operator records in every shard
// written as dtype dt ("" keeps each tensor's dtype): grow.version, grow.operator,
// grow.params and the mapping under claim.MetadataKey. When the plan's arithmetic
// is not exact in dt, the mapping says so (claim.Mapping.Rounded), and when dt
// cannot hold every source value it names dt as the storage dtype
// (claim.Mapping.Storage), so that a later grow check judges the result by what
// its dtype can hold.
func (r *Result) Metadata(version string, dt checkpoint.DType) (map[string]string, error) {
	mapping := r.Mapping
	if len(r.Plan.InexactIn(dt)) > 0 {
		mapping.Rounded = string(r.Plan.StoredDType(dt))
	}
	if r.Plan.Rounds(dt) {
		mapping.Storage = string(dt)
	}
	m, err := json.Marshal(mapping)
	if err != nil {
		return nil, err
	}
	p, err := json.Marshal(r.Params)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"grow.version":    version,
		"grow.operator":   string(r.Plan.Operator),
		"grow.params":     string(p),
		claim.MetadataKey: string(m),
	}, nil
}

// OptionError is a parameter that an operator refuses for the given source:
// a missing or impossible target, a value out of range. A command line
// reports it as a usage error.
type OptionError struct{ Err error }

func (e *OptionError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *OptionError) Unwrap() error { return e.Err }

// Expand runs op on g: its plan, carried out by transform.Apply. Nothing is
// read from g's tensors: the result's tensors compute themselves when asked.
// Parameters op refuses are an *OptionError; targets beyond MaxSize or the
// machine's memory a *LimitError, refused before anything of their size is
// allocated.
func Expand(g *graph.Graph, op Operator) (*Result, error) {
	if g == nil || op == nil {
		return nil, errors.New("expand: no graph or no operator")
	}
	if err := checkSource(g); err != nil {
		return nil, err
	}
	p, err := op.Plan(g)
	var limit *LimitError
	if errors.As(err, &limit) {
		return nil, err
	}
	if err == nil {
		err = familyRefusal(g, p)
	}
	if err != nil {
		return nil, &OptionError{err}
	}
	r, err := transform.Apply(g, p)
	if err != nil {
		return nil, fmt.Errorf("expand: %w", err)
	}
	if err := checkMemory(r.Report); err != nil {
		return nil, err
	}
	m := claim.Mapping{Operator: p.Operator, Class: p.Class, Hidden: p.Hidden, Layers: p.LayerMap(len(g.Layers))}
	res := &Result{Graph: r.Graph, Plan: r.Report, Params: p.Params, Mapping: m}
	if sc, ok := op.(Sidecars); ok {
		if res.Files, err = sc.Sidecars(g, p); err != nil {
			return nil, err
		}
		res.Mapping.Masked = true
	}
	return res, nil
}

// Sidecars is implemented by operators that write files beside the
// checkpoint (MSG's masks and state): name to content.
type Sidecars interface {
	Sidecars(g *graph.Graph, p *transform.Plan) (map[string][]byte, error)
}

// checkSource refuses a graph whose sizes are incomplete or inconsistent.
func checkSource(g *graph.Graph) error {
	d := g.Dims
	if d.Hidden <= 0 || d.Heads <= 0 || d.KVHeads <= 0 || d.HeadDim <= 0 || d.FFN <= 0 {
		return fmt.Errorf("expand: source dims incomplete (%s)", transform.DimsLine(d))
	}
	if len(g.Layers) != d.Layers {
		return fmt.Errorf("expand: source has %d layers but dims say %d", len(g.Layers), d.Layers)
	}
	return nil
}
