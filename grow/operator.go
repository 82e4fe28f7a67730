package grow

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// Operator is one way of transforming a checkpoint: a type with its own
// parameters, their validation, the transform.Plan it asks of the engine and
// the claim that plan makes. Operators are registered by name (Register);
// grow's commands find them there and take their flags from Params, so a
// flag of one operator is refused for another by construction.
type Operator interface {
	// Name is the operator's name on the command line ("hypercloning").
	Name() string
	// Summary says in one line what it does, for help texts.
	Summary() string
	// Params lists its parameters, bound to its own fields.
	Params() []Param
	// Plan validates the parameters for the source g and returns the plan.
	Plan(g *graph.Graph) (*transform.Plan, error)
}

// Param is one parameter of an operator, bound to a command-line flag.
type Param struct {
	// Name is the flag's name, e.g. "width-factor"; Usage its help.
	Name, Usage string
	// Value points at the operator's field: *int, *int64, *float64, *bool
	// or *string. What it holds when Params is called is the default.
	Value any
	// Set, when not nil, is set to true when the flag is given (for a
	// parameter whose absence differs from any value).
	Set *bool
}

// Examples is implemented by operators that can name a few configurations
// valid for a source graph: the conformance suite runs each of them on
// every registered family.
type Examples interface {
	Examples(g *graph.Graph) []Operator
}

var registry = map[string]func() Operator{}

// Register makes an operator available by name; new returns a fresh
// operator with default parameters. It panics on a duplicate name (a
// programming error, at init time).
func Register(new func() Operator) {
	name := new().Name()
	if _, dup := registry[name]; dup {
		panic("grow: operator " + name + " registered twice")
	}
	registry[name] = new
}

// New returns a fresh operator of the given name with default parameters.
func New(name string) (Operator, error) {
	if f, ok := registry[name]; ok {
		return f(), nil
	}
	return nil, fmt.Errorf("unknown method %q (%s)", name, strings.Join(Names(), ", "))
}

// Names lists the registered operators, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Operators returns a fresh operator of every registered name, in the order
// of Names.
func Operators() []Operator {
	var out []Operator
	for _, n := range Names() {
		out = append(out, registry[n]())
	}
	return out
}

// ParamOf returns op's parameter of the given flag name.
func ParamOf(op Operator, name string) (Param, bool) {
	ps := op.Params()
	i := slices.IndexFunc(ps, func(p Param) bool { return p.Name == name })
	if i < 0 {
		return Param{}, false
	}
	return ps[i], true
}

// Common are the parameters every width operator takes.
type Common struct {
	// KeepTied keeps a tied output head tied by folding the head's 1/q into
	// the norm that feeds it; by default a tied head that needs a scale is
	// untied.
	KeepTied bool
	// Seed makes random values (noise, random splits, free values)
	// reproducible.
	Seed int64
}

func (c *Common) params() []Param {
	return []Param{
		{Name: "keep-tied", Usage: "keep a tied output head tied by folding its scale into the final norm", Value: &c.KeepTied},
		{Name: "seed", Usage: "seed of noise, random splits and free values", Value: &c.Seed},
	}
}

// check refuses KeepTied for a source whose head is not tied.
func (c *Common) check(g *graph.Graph) error {
	switch {
	case c.KeepTied && !g.Tied:
		return fmt.Errorf("--keep-tied: the source's output head is not tied to its embedding (nothing to keep)")
	case c.KeepTied && g.Features().MLMHead && g.MLMTransform.W == nil:
		return fmt.Errorf("--keep-tied: this %s model has no MLM transform norm to fold 1/q into; drop --keep-tied to untie the head", g.Descriptor().Name)
	}
	return nil
}

// record adds the common parameters to a plan.
func (c *Common) record(p *transform.Plan) {
	p.KeepTied, p.Seed = c.KeepTied, c.Seed
	if c.KeepTied {
		p.Params["keep_tied"] = true
	}
	p.Params["seed"] = c.Seed
}
