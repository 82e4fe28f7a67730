package graph

import (
	"fmt"
	"strconv"
	"strings"
)

// Axis names what the indices along one dimension of a weight mean. Every
// role declares the axis of each of its dimensions (Decl), so that a transform
// that maps an axis (grows the residual stream, selects FFN units, adds
// vocabulary rows) knows every tensor it touches without a list of the graph's
// fields. The values are the dimension symbols the error messages use.
type Axis string

// The axes of the weight graph.
const (
	Residual   Axis = "D"  // the residual stream, hidden size D
	QHeads     Axis = "Hd" // query heads × head_dim, head-major
	KVHeads    Axis = "Kd" // key/value heads × head_dim, head-major
	FFN        Axis = "I"  // MLP units
	Vocab      Axis = "V"  // token ids
	Positions  Axis = "P"  // learned positions
	TokenTypes Axis = "T"  // token types (BERT)
	HeadDim    Axis = "d"  // inside one head (per-head norms)
	// PosPad are the two learned position rows before position 0 that
	// OPT's offset keeps (a fixed axis of length 2).
	PosPad Axis = "2"
)

// Kind says what a role's tensor does in the forward pass, which decides how a
// transform treats its values.
type Kind int

// Kinds of tensors.
const (
	// KindLinear is the [out, in] weight of a linear map y = W x: rows produce
	// their axis, columns consume theirs (a copied input is divided among its
	// copies).
	KindLinear Kind = iota
	// KindBias is a vector added to the output of a linear map (or a family
	// extra along the residual stream): it produces its axis.
	KindBias
	// KindTable is an embedding-like [rows, D] matrix looked up by row: its
	// residual columns produce the stream and are copied, never divided.
	KindTable
	// KindNormWeight and KindNormBias are a norm's gain and bias over their axis.
	KindNormWeight
	KindNormBias
)

func (k Kind) String() string {
	switch k {
	case KindLinear:
		return "linear"
	case KindBias:
		return "bias"
	case KindTable:
		return "table"
	case KindNormWeight:
		return "norm weight"
	case KindNormBias:
		return "norm bias"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Decl declares a role: the axis of each dimension and the kind of tensor.
type Decl struct {
	Axes []Axis
	Kind Kind
	// Layer is true for the roles of a transformer block.
	Layer bool
	// HeadInput is true for the roles that feed the output head (the norm, or
	// BERT's masked-LM transform norm, whose output the head reads): a tied
	// head's scale can be folded into them.
	HeadInput bool
}

// decls are the declarations of the graph's roles, without the "layers.i."
// of a layer's roles.
var decls = map[string]Decl{
	"embed":              {Axes: []Axis{Vocab, Residual}, Kind: KindTable},
	"pos":                {Axes: []Axis{Positions, Residual}, Kind: KindTable},
	"token_type":         {Axes: []Axis{TokenTypes, Residual}, Kind: KindTable},
	"pos_pad":            {Axes: []Axis{PosPad, Residual}, Kind: KindTable},
	"embed_norm.weight":  {Axes: []Axis{Residual}, Kind: KindNormWeight},
	"embed_norm.bias":    {Axes: []Axis{Residual}, Kind: KindNormBias},
	"attn_norm.weight":   {Axes: []Axis{Residual}, Kind: KindNormWeight, Layer: true},
	"attn_norm.bias":     {Axes: []Axis{Residual}, Kind: KindNormBias, Layer: true},
	"attn.q.weight":      {Axes: []Axis{QHeads, Residual}, Kind: KindLinear, Layer: true},
	"attn.q.bias":        {Axes: []Axis{QHeads}, Kind: KindBias, Layer: true},
	"attn.k.weight":      {Axes: []Axis{KVHeads, Residual}, Kind: KindLinear, Layer: true},
	"attn.k.bias":        {Axes: []Axis{KVHeads}, Kind: KindBias, Layer: true},
	"attn.v.weight":      {Axes: []Axis{KVHeads, Residual}, Kind: KindLinear, Layer: true},
	"attn.v.bias":        {Axes: []Axis{KVHeads}, Kind: KindBias, Layer: true},
	"attn.o.weight":      {Axes: []Axis{Residual, QHeads}, Kind: KindLinear, Layer: true},
	"attn.o.bias":        {Axes: []Axis{Residual}, Kind: KindBias, Layer: true},
	"attn.q_norm.weight": {Axes: []Axis{HeadDim}, Kind: KindNormWeight, Layer: true},
	"attn.q_norm.bias":   {Axes: []Axis{HeadDim}, Kind: KindNormBias, Layer: true},
	"attn.k_norm.weight": {Axes: []Axis{HeadDim}, Kind: KindNormWeight, Layer: true},
	"attn.k_norm.bias":   {Axes: []Axis{HeadDim}, Kind: KindNormBias, Layer: true},
	// A norm over the whole query (key) projection has a gain per query
	// (key/value) coordinate, grown like the projection's rows: its
	// statistics stay the same when every head is copied equally often.
	"attn.q_proj_norm.weight": {Axes: []Axis{QHeads}, Kind: KindNormWeight, Layer: true},
	"attn.q_proj_norm.bias":   {Axes: []Axis{QHeads}, Kind: KindNormBias, Layer: true},
	"attn.k_proj_norm.weight": {Axes: []Axis{KVHeads}, Kind: KindNormWeight, Layer: true},
	"attn.k_proj_norm.bias":   {Axes: []Axis{KVHeads}, Kind: KindNormBias, Layer: true},
	// Norms of a sublayer's output, added to the stream after them: residual
	// norms like those that precede a sublayer.
	"attn_out_norm.weight": {Axes: []Axis{Residual}, Kind: KindNormWeight, Layer: true},
	"attn_out_norm.bias":   {Axes: []Axis{Residual}, Kind: KindNormBias, Layer: true},
	"mlp_out_norm.weight":  {Axes: []Axis{Residual}, Kind: KindNormWeight, Layer: true},
	"mlp_out_norm.bias":    {Axes: []Axis{Residual}, Kind: KindNormBias, Layer: true},
	"mlp_norm.weight":      {Axes: []Axis{Residual}, Kind: KindNormWeight, Layer: true},
	"mlp_norm.bias":        {Axes: []Axis{Residual}, Kind: KindNormBias, Layer: true},
	"mlp.up.weight":        {Axes: []Axis{FFN, Residual}, Kind: KindLinear, Layer: true},
	"mlp.up.bias":          {Axes: []Axis{FFN}, Kind: KindBias, Layer: true},
	"mlp.gate.weight":      {Axes: []Axis{FFN, Residual}, Kind: KindLinear, Layer: true},
	"mlp.gate.bias":        {Axes: []Axis{FFN}, Kind: KindBias, Layer: true},
	"mlp.down.weight":      {Axes: []Axis{Residual, FFN}, Kind: KindLinear, Layer: true},
	"mlp.down.bias":        {Axes: []Axis{Residual}, Kind: KindBias, Layer: true},
	"final_norm.weight":    {Axes: []Axis{Residual}, Kind: KindNormWeight, HeadInput: true},
	"final_norm.bias":      {Axes: []Axis{Residual}, Kind: KindNormBias, HeadInput: true},
	"head":                 {Axes: []Axis{Vocab, Residual}, Kind: KindLinear},
	"head.bias":            {Axes: []Axis{Vocab}, Kind: KindBias},
	"mlm.transform.weight": {Axes: []Axis{Residual, Residual}, Kind: KindLinear},
	"mlm.transform.bias":   {Axes: []Axis{Residual}, Kind: KindBias},
	"mlm.norm.weight":      {Axes: []Axis{Residual}, Kind: KindNormWeight, HeadInput: true},
	"mlm.norm.bias":        {Axes: []Axis{Residual}, Kind: KindNormBias, HeadInput: true},
}

// SplitRole splits a role into its layer and its name within the layer:
// "layers.3.attn.q.weight" is (3, "attn.q.weight"); a role outside the
// layers has layer -1.
func SplitRole(role string) (layer int, name string) {
	rest, ok := strings.CutPrefix(role, "layers.")
	if !ok {
		return -1, role
	}
	num, name, ok := strings.Cut(rest, ".")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 {
		return -1, role
	}
	return n, name
}

// LayerRole returns the role name of a layer's role: LayerRole(3,
// "attn.q.weight") is "layers.3.attn.q.weight".
func LayerRole(layer int, name string) string { return fmt.Sprintf("layers.%d.%s", layer, name) }

// DeclOf returns the declaration of a common role ("embed",
// "layers.3.attn.q.weight", ...); ok is false for a role the graph does not
// have (family extras are declared by their Extra.Rule and shape: ExtraDecl).
func DeclOf(role string) (d Decl, ok bool) {
	layer, name := SplitRole(role)
	d, ok = decls[name]
	if !ok || d.Layer != (layer >= 0) {
		return Decl{}, false
	}
	return d, true
}

// ExtraDecl declares a family extra of rule RuleHidden from its shape: every
// dimension of the hidden size is a Residual axis, the others keep their
// length; a vector is a KindBias, a matrix a KindLinear map. ok is false for other
// rules (copied or dropped tensors are no transform's business) and for a
// hidden extra with no residual axis.
func ExtraDecl(x Extra, hidden int) (d Decl, ok bool) {
	if x.Rule != RuleHidden || x.T == nil {
		return Decl{}, false
	}
	sh := x.T.Shape()
	d.Kind = KindBias
	if len(sh) == 2 {
		d.Kind = KindLinear
	}
	found := false
	for _, n := range sh {
		if n == hidden {
			d.Axes, found = append(d.Axes, Residual), true
		} else {
			d.Axes = append(d.Axes, Axis(strconv.Itoa(n)))
		}
	}
	if !found || len(sh) > 2 {
		return Decl{}, false
	}
	return d, true
}

// Size returns the length of axis a in dims (a fixed axis is its own length).
func (d Dims) Size(a Axis) int {
	switch a {
	case Residual:
		return d.Hidden
	case QHeads:
		return d.Heads * d.HeadDim
	case KVHeads:
		return d.KVHeads * d.HeadDim
	case FFN:
		return d.FFN
	case Vocab:
		return d.Vocab
	case Positions:
		return d.Positions
	case TokenTypes:
		return d.TypeVocab
	case HeadDim:
		return d.HeadDim
	}
	n, _ := strconv.Atoi(string(a))
	return n
}

// Field is one tensor field of a graph under its role name.
type Field struct {
	Role string
	T    *Tensor
}

// Fields returns every tensor field of g, set or not, under its role: the
// graph's one list of its fields, which generic walks (transforms, rounding,
// loading) use instead of naming them. Family extras are not fields (see
// Graph.Extras).
func (g *Graph) Fields() []Field {
	roles, ptrs := g.fieldRoles()
	out := make([]Field, len(roles))
	for i := range roles {
		out[i] = Field{roles[i], ptrs[i]}
	}
	return out
}
