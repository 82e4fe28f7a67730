package transform

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
)

// Step says how one output tensor is made.
type Step struct {
	// Role names the tensor in the graph, e.g. "layers.3.attn.q.weight".
	Role string
	// SrcShape and DstShape are the source and grown shapes ([out, in] for matrices).
	SrcShape, DstShape []int
	// DType is the dtype the tensor comes in (the source's).
	DType checkpoint.DType
	// Rule says in words what happens to it.
	Rule string
	// Exact is false when the values are not exactly representable in a float
	// dtype narrower than float64 (division by a non-power of two, means, sqrt(s),
	// random splits or noise that cancel only in real arithmetic).
	Exact bool
	// Why says why Exact is false.
	Why string
	// Scaled is true when values are divided or rescaled (fan-in splits, norm
	// gains, folds): exact for powers of two, except where a narrow exponent
	// range (F16) underflows into subnormals.
	Scaled bool
}

// Report says what Apply does to a graph, tensor by tensor, before any weight
// is read: what grow expand prints as its plan.
type Report struct {
	Operator string
	Family   graph.Family
	// Src and Dst are the source and grown dimensions.
	Src, Dst graph.Dims
	// SrcEps and DstEps are the norm epsilons.
	SrcEps, DstEps float64
	// SrcTied and DstTied say whether the output head is the embedding;
	// Headless that the model has no output head at all (a base model).
	SrcTied, DstTied, Headless bool
	// Class is the exactness class the operator claims (claim.Exact, ...).
	Class string
	// Hidden describes the hidden-state mapping in words.
	Hidden string
	// Tensors lists every output tensor.
	Tensors []Step
	// SrcParams counts the elements of the source's tensors (a tied head
	// once).
	SrcParams int64
	// Notes are remarks printed with the plan.
	Notes []string
}

// Params returns the element count of the source and the grown model.
func (p *Report) Params() (src, dst int64) {
	for _, t := range p.Tensors {
		dst += prod(t.DstShape)
	}
	return p.SrcParams, dst
}

// InexactReasons lists the distinct reasons why values are not exact in dt
// (see InexactIn), without the tensor names.
func (p *Report) InexactReasons(dt checkpoint.DType) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range p.InexactIn(dt) {
		_, why, _ := strings.Cut(s, ": ")
		for _, w := range strings.Split(why, "; ") {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// Bytes returns the grown model's tensor bytes when written as dt ("" keeps
// every tensor's own dtype). Extras the graph drops are counted too.
func (p *Report) Bytes(dt checkpoint.DType) int64 {
	var n int64
	for _, t := range p.Tensors {
		d := dt
		if d == "" || !t.DType.IsFloat() {
			d = t.DType
		}
		n += prod(t.DstShape) * int64(d.Size())
	}
	return n
}

// Largest returns the byte size of the largest grown tensor when held as
// float32 (what computing it keeps in memory).
func (p *Report) Largest() int64 {
	var n int64
	for _, t := range p.Tensors {
		n = max(n, 4*prod(t.DstShape))
	}
	return n
}

// StoredDType is the narrowest float dtype a tensor of the plan is written in
// when written as dt ("" keeps each tensor's dtype).
func (p *Report) StoredDType(dt checkpoint.DType) checkpoint.DType {
	if dt != "" {
		return dt
	}
	var out checkpoint.DType
	for _, t := range p.Tensors {
		if b := t.DType.MantissaBits(); b > 0 && (out == "" || b < out.MantissaBits()) {
			out = t.DType
		}
	}
	return out
}

// Rounds reports whether writing the plan's tensors as dt rounds source values
// (dt cannot hold a float source dtype); "" keeps every dtype and rounds none.
func (p *Report) Rounds(dt checkpoint.DType) bool {
	if dt == "" {
		return false
	}
	for _, t := range p.Tensors {
		if t.DType.IsFloat() && !dt.Holds(t.DType) {
			return true
		}
	}
	return false
}

// InexactIn lists the tensors whose values are not exact when written as dt
// ("" keeps each tensor's dtype), with the reason; nil when all are exact. F64
// counts as exact (its rounding is far below every tolerance grow uses).
func (p *Report) InexactIn(dt checkpoint.DType) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range p.Tensors {
		d := dt
		if d == "" {
			d = t.DType
		}
		why := t.Why
		if t.Exact && t.Scaled && d == checkpoint.F16 {
			why = "F16 subnormals: small weights lose bits when divided"
		} else if t.Exact || d == checkpoint.F64 || !d.IsFloat() {
			continue
		}
		key := layerPattern.ReplaceAllString(t.Role, "layers.*.") + ": " + why
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	}
	return out
}

var layerPattern = regexp.MustCompile(`layers\.\d+\.`)

// Elements is the number of elements of a shape.
func Elements(s []int) int64 { return prod(s) }

func prod(s []int) int64 {
	n := int64(1)
	for _, v := range s {
		n *= int64(v)
	}
	return n
}

// DimsLine formats dims for a plan or a message.
func DimsLine(d graph.Dims) string {
	return fmt.Sprintf("hidden %d, layers %d, heads %d, kv heads %d, head_dim %d, ffn %d, vocab %d",
		d.Hidden, d.Layers, d.Heads, d.KVHeads, d.HeadDim, d.FFN, d.Vocab)
}

// Print writes the plan for people: dimensions, the rule of every tensor role
// (layers folded into one line per role) and the output size when written as dt.
func (p *Report) Print(w io.Writer, dt checkpoint.DType) {
	fmt.Fprintf(w, "operator   %s (%s), claimed class %s\n", p.Operator, p.Family, p.Class)
	fmt.Fprintf(w, "source     %s\n", DimsLine(p.Src))
	fmt.Fprintf(w, "target     %s\n", DimsLine(p.Dst))
	fmt.Fprintf(w, "norm eps   %g -> %g\n", p.SrcEps, p.DstEps)
	if p.Headless {
		fmt.Fprintln(w, "head       none (a base model: its output is the last hidden state)")
	} else {
		fmt.Fprintf(w, "tied head  %v -> %v\n", p.SrcTied, p.DstTied)
	}
	fmt.Fprintf(w, "hidden     %s\n", p.Hidden)
	fmt.Fprintln(w, "tensors:")
	type row struct {
		role, shapes, rule string
		n                  int
	}
	var rows []*row
	byKey := map[string]*row{}
	for _, t := range p.Tensors {
		role := layerPattern.ReplaceAllString(t.Role, "layers.*.")
		shapes := fmt.Sprintf("%v -> %v", t.SrcShape, t.DstShape)
		key := role + shapes + t.Rule
		if r, ok := byKey[key]; ok {
			r.n++
			continue
		}
		r := &row{role: role, shapes: shapes, rule: t.Rule, n: 1}
		byKey[key] = r
		rows = append(rows, r)
	}
	for _, r := range rows {
		count := ""
		if r.n > 1 {
			count = fmt.Sprintf(" (×%d)", r.n)
		}
		fmt.Fprintf(w, "  %-32s %-26s %s%s\n", r.role, r.shapes, r.rule, count)
	}
	sp, dp := p.Params()
	fmt.Fprintf(w, "parameters %d -> %d (%.2fx)\n", sp, dp, float64(dp)/float64(max(sp, 1)))
	d := string(dt)
	if d == "" {
		d = "source dtype"
	}
	fmt.Fprintf(w, "output     %s of tensor data (%s)\n", humanBytes(p.Bytes(dt)), d)
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if in := p.InexactIn(dt); len(in) > 0 {
		fmt.Fprintf(w, "note: %s:\n", p.RoundingNote(dt))
		for _, s := range in {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}

// RoundingNote says, when the plan's values are not exact in dt ("" keeps each
// tensor's dtype), that storage rounds them, how a check judges that, and what
// a wider dtype would change; "" when every value is exact. A class that is
// not exact (APPROX, NON-PRESERVING) is not made exact by any dtype, and the
// note says so instead of pointing at one.
func (p *Report) RoundingNote(dt checkpoint.DType) string {
	if len(p.InexactIn(dt)) == 0 {
		return ""
	}
	d := string(p.StoredDType(dt))
	note := fmt.Sprintf("not exact in %s: values are rounded when stored", d)
	switch {
	case p.Class != claim.Exact && p.Class != claim.BitExact:
		return note + fmt.Sprintf(" (the mapping records it); the claimed class is %s, which no dtype makes exact", p.Class)
	case d == string(checkpoint.F32) || d == string(checkpoint.F64):
		return note + rule + "; --dtype f64 keeps them exact"
	}
	return note + rule + "; --dtype f32 keeps them to float32 rounding (f64: exact)"
}

// rule is how a rounded EXACT claim is judged, as RoundingNote says it.
const rule = " (the mapping records it: an EXACT claim is judged with the float32 rule, now and by grow check later)"

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// describe says in words what a map does to an axis of the given kind.
func describe(kind string, m *Map, consumer bool) string {
	if m.dst == m.src && !hasNew(m) {
		return kind + " kept"
	}
	newN := 0
	for _, j := range m.idx {
		if j < 0 {
			newN++
		}
	}
	dropped := 0
	for _, c := range m.count {
		if c == 0 {
			dropped++
		}
	}
	var b strings.Builder
	b.WriteString(kind)
	switch {
	case dropped > 0 && newN == 0:
		fmt.Fprintf(&b, " select %d of %d", m.dst, m.src)
	case newN == 0 && m.dst%m.src == 0 && isTile(m):
		fmt.Fprintf(&b, " tile ×%d", m.dst/m.src)
	case newN == 0:
		fmt.Fprintf(&b, " circular %d->%d", m.src, m.dst)
	case m.idx[0] == 0 && (m.dst-newN) == m.src:
		fmt.Fprintf(&b, " pad %d->%d (%s)", m.src, m.dst, fillName(m, consumer))
	default:
		fmt.Fprintf(&b, " tile ×%d +%d %s", (m.dst-newN)/m.src, newN, fillName(m, consumer))
	}
	return b.String()
}

func isTile(m *Map) bool {
	for i, j := range m.idx {
		if j != i%m.src {
			return false
		}
	}
	return true
}

// fillName names how m fills its new indices as an output or (consumer) an
// input.
func fillName(m *Map, consumer bool) string {
	switch {
	case consumer:
		return m.consume.String()
	case m.newRows != nil:
		return "computed rows"
	}
	return m.produce.String()
}
