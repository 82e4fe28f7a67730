package probe

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// Blocks is a range [From, To) of the result's blocks (0-based, half open):
// a slice of a check.
type Blocks struct{ From, To int }

// String writes the range as ParseBlocks reads it, "A:B".
func (b Blocks) String() string { return fmt.Sprintf("%d:%d", b.From, b.To) }

// ParseBlocks reads "A:B" (blocks A to B−1) or "A:" (A to the last block of
// a model with layers blocks).
func ParseBlocks(s string, layers int) (Blocks, error) {
	a, b, ok := strings.Cut(s, ":")
	var from, to int
	var err error
	if ok {
		from, err = strconv.Atoi(strings.TrimSpace(a))
	}
	if ok && err == nil {
		to = layers
		if t := strings.TrimSpace(b); t != "" {
			to, err = strconv.Atoi(t)
		}
	}
	switch {
	case !ok || err != nil:
		return Blocks{}, fmt.Errorf("blocks %q: want A:B, the blocks A to B−1 (0-based), or A: up to the last", s)
	case from < 0 || to > layers || from >= to:
		return Blocks{}, fmt.Errorf("blocks %q: want 0 ≤ A < B ≤ %d, the result's blocks", s, layers)
	}
	return Blocks{from, to}, nil
}

// PlanSlices cuts the result's layers blocks into at most n slices of
// nearly equal numbers of blocks (fewer when there are fewer blocks), each
// starting at a hidden state that has a source state under layerMap (nil:
// every one has), since a slice is fed with it.
func PlanSlices(layers, n int, layerMap []int) ([]Blocks, error) {
	if layers <= 0 || n <= 0 {
		return nil, fmt.Errorf("probe: %d slices of %d blocks", n, layers)
	}
	var starts []int // hidden states a slice can start from
	for j := 0; j < layers; j++ {
		if j == 0 || layerMap == nil || (j < len(layerMap) && layerMap[j] >= 0) {
			starts = append(starts, j)
		}
	}
	n = min(n, len(starts))
	var out []Blocks
	for k := range n {
		// The start nearest to the even cut, and after the previous one.
		want := k * layers / n
		i, _ := slices.BinarySearch(starts, want)
		i = min(i, len(starts)-1)
		from := starts[i]
		if len(out) > 0 && from <= out[len(out)-1].From {
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].To = from
		}
		out = append(out, Blocks{From: from, To: layers})
	}
	return out, nil
}

// Slice is what the report of a slice (CheckOptions.Blocks) holds for
// Merge, besides the report's own numbers.
type Slice struct {
	From   int `json:"from"`
	To     int `json:"to"`
	Layers int `json:"layers"` // the result's blocks
	// Check identifies the check: the same for every slice of one check
	// (the models' shapes, dtypes and configs, the claim and the options).
	Check string `json:"check"`
	// MaxHidden[j] is the largest |map(h_src)| of hidden state j (the rule
	// of EXACT is relative to it); -1 outside the slice.
	MaxHidden []float64 `json:"max_hidden"`
	// Disagreements are the source's logits of its own and of the result's
	// top-1 token where they disagree (the f32 rule tells ties from errors).
	Disagreements [][2]float64 `json:"disagreements,omitempty"`
	HiddenOut     bool         `json:"hidden_out,omitempty"`
	// What the verdict rules need of the check: its options, the claim's
	// rounding and the models' widths.
	Tol       float64 `json:"tol,omitempty"`
	Expect    string  `json:"expect,omitempty"`
	Rounded   string  `json:"rounded,omitempty"`
	SrcHidden int     `json:"src_hidden"`
	DstHidden int     `json:"dst_hidden"`
	// Notes are about the slice alone; the report's Notes are the check's.
	Notes []string `json:"notes,omitempty"`
}

// validate checks that a slice's report is whole: its blocks inside the
// result's, and a number per hidden state in every table that has them.
func (sl *Slice) validate(r *Report) error {
	L := sl.Layers
	switch {
	case L <= 0 || L > maxLayers:
		return fmt.Errorf("the result has %d blocks", L)
	case sl.From < 0 || sl.To > L || sl.From >= sl.To:
		return fmt.Errorf("blocks %d:%d outside the result's %d", sl.From, sl.To, L)
	case r.LayerDev != nil && (len(r.LayerDev) != L+1 || len(r.LayerMap) != L+1 || len(sl.MaxHidden) != L+1):
		return fmt.Errorf("%d hidden-state deviations, %d layer map entries and %d maxima for %d hidden states",
			len(r.LayerDev), len(r.LayerMap), len(sl.MaxHidden), L+1)
	case r.LayerDev == nil && r.LayerMap != nil:
		return fmt.Errorf("a layer map without hidden-state deviations")
	case sl.SrcHidden <= 0 || sl.DstHidden <= 0:
		return fmt.Errorf("hidden sizes %d and %d", sl.SrcHidden, sl.DstHidden)
	}
	return nil
}

// maxLayers bounds the blocks of a slice report's result (a report is
// data from a file; graphs are bounded by grow's own limits).
const maxLayers = 1 << 20

// resolveSlice sets the blocks checked: all of them, or CheckOptions.Blocks,
// which needs the map of hidden states.
func (c *checker) resolveSlice() error {
	L := c.dst.Dims.Layers
	c.from, c.to = 0, L
	b := c.opts.Blocks
	if b == nil {
		return nil
	}
	if b.From < 0 || b.To > L || b.From >= b.To {
		return fmt.Errorf("probe: check: blocks %s: want 0 ≤ A < B ≤ %d, the result's blocks", b, L)
	}
	c.from, c.to = b.From, b.To
	if c.from == 0 {
		return nil
	}
	if c.layerMap == nil {
		return fmt.Errorf("probe: check: blocks %s: a slice that starts after block 0 is fed with the source's hidden states "+
			"mapped to the result's, and this check has no map of hidden states (%s)", b, strings.Join(c.rep.Notes, "; "))
	}
	if c.layerMap[c.from] < 0 {
		return fmt.Errorf("probe: check: blocks %s: the result's hidden state %d has no source state to start from "+
			"(grow check --plan-slices cuts where one has)", b, c.from)
	}
	return nil
}

// head reports whether the check covers the output head.
func (c *checker) head() bool { return c.to == c.dst.Dims.Layers }

// owns reports whether the check judges the result's hidden state j: those
// its blocks compute, and the embeddings when it starts at block 0.
func (c *checker) owns(j int) bool { return (c.from == 0 && j == 0) || (c.from < j && j <= c.to) }

// sourceSpan is the source's part of the pass: up to the last source state
// a hidden state of the slice maps to, or all of it with the head.
func (c *checker) sourceSpan() span {
	if c.head() {
		return c.ms.whole()
	}
	to := 0
	for j := c.from; j <= c.to && c.layerMap != nil; j++ {
		to = max(to, c.layerMap[j])
	}
	return span{from: 0, to: to}
}

// resultSpan is the result's part of the pass: its blocks, fed from block 0
// with its own embeddings, else with the source's hidden state mapped.
func (c *checker) resultSpan(rs []*Result) span {
	sp := span{from: c.from, to: c.to, head: c.head()}
	if c.from == 0 {
		return sp
	}
	s := c.layerMap[c.from]
	sp.start = make([][][]float64, len(rs))
	for b, r := range rs {
		sp.start[b] = make([][]float64, len(r.Hidden[s]))
		for t, h := range r.Hidden[s] {
			sp.start[b][t] = c.hm.Apply(h)
		}
	}
	return sp
}

// finishSlice records in the report of a slice what Merge needs.
func (c *checker) finishSlice(seqs [][]int) {
	if c.opts.Blocks == nil {
		return
	}
	sl := &Slice{From: c.from, To: c.to, Layers: c.dst.Dims.Layers, Check: c.fingerprint(seqs),
		Disagreements: c.disagreements, HiddenOut: c.hiddenOut, Tol: c.opts.Tol, Expect: c.opts.Expect,
		SrcHidden: c.src.Hidden, DstHidden: c.dst.Hidden}
	if c.mapping != nil {
		sl.Rounded = c.mapping.Rounded
	}
	for j := range c.maxHidden {
		if !c.owns(j) {
			c.maxHidden[j] = -1
		}
	}
	sl.MaxHidden = c.maxHidden
	if c.from > 0 {
		sl.Notes = append(sl.Notes, fmt.Sprintf("blocks %d:%d are fed with the source's hidden state %d mapped to the result's width",
			c.from, c.to, c.layerMap[c.from]))
	}
	if !c.head() {
		sl.Notes = append(sl.Notes, "the output head is in the slice that ends with the last block: no logits compared here")
	}
	c.rep.Slice = sl
}

// fingerprint identifies the check: what both models are (family, shapes,
// dtypes, config), the claim judged and the options, and the probes.
func (c *checker) fingerprint(seqs [][]int) string {
	h := sha256.New()
	for _, g := range []*graph.Graph{c.src, c.dst} {
		fmt.Fprintf(h, "%s %+v\n", g.Family, g.Dims)
		for _, f := range g.Fields() {
			if t := *f.T; !isNil(t) {
				fmt.Fprintf(h, "%s %v %s\n", f.Role, t.Shape(), t.DType())
			}
		}
		if g.Config != nil {
			if b, err := json.Marshal(g.Config); err == nil {
				h.Write(b)
			}
		}
	}
	m, _ := json.Marshal(c.mapping)
	h.Write(m)
	o := c.opts
	fmt.Fprintf(h, "\n%v %v %v %s %v %q %v\n", o.Probes, o.SeqLen, o.Seed, o.Precision, o.Tol, o.Expect, seqs)
	for _, g := range []*GrowthMasks{o.Growth, o.SourceGrowth} {
		b, _ := json.Marshal(g)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cost is what the check did in wall time.
func (c *checker) cost(seqs [][]int, wall time.Duration) *Estimate {
	var e Estimate
	for _, p := range []struct {
		g  *graph.Graph
		sp span
	}{{c.src, c.sourceSpan()}, {c.dst, span{from: c.from, to: c.to, head: c.head()}}} {
		e.FLOPs += passFLOPs(p.g, lengths(seqs), p.sp)
	}
	e.ReadBytes = passBytes(c.src, c.sourceSpan()) + passBytes(c.dst, span{from: c.from, to: c.to, head: c.head()})
	e.Seconds = wall.Seconds()
	if e.Seconds > 0 {
		e.GFLOPS = e.FLOPs / e.Seconds / 1e9
	}
	return &e
}

// Merge combines the reports of slices of one check (Check with
// CheckOptions.Blocks), which together cover every block once, into the
// report of the whole: the embeddings from the slice that starts at block
// 0, each hidden state from the slice that computes it, the logits from the
// slice that ends with the last block, judged by the rules of the whole
// check. A failing verdict names the slices that failed.
//
// Each slice after the first starts from the source's hidden states mapped
// to the result's width, where the whole check runs the result from its own
// embeddings: a one-slice merge is the whole check exactly; with more slices
// the numbers differ from the whole check's by rounding where the claim
// is exact, and the slices localise a failure to the blocks that hold it.
func Merge(reports []*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("probe: merge: no reports")
	}
	rs := slices.Clone(reports)
	for i, r := range rs {
		if r == nil || r.Slice == nil {
			return nil, fmt.Errorf("probe: merge: report %d is not the report of a slice (grow check --blocks)", i+1)
		}
		if err := r.Slice.validate(r); err != nil {
			return nil, fmt.Errorf("probe: merge: report %d (slice %d:%d): %w", i+1, r.Slice.From, r.Slice.To, err)
		}
		if r.Slice.Check != rs[0].Slice.Check || r.Slice.Layers != rs[0].Slice.Layers {
			return nil, fmt.Errorf("probe: merge: the slices %s and %s are of different checks (other models, claims or options)",
				blocksOf(rs[0]), blocksOf(r))
		}
	}
	slices.SortFunc(rs, func(a, b *Report) int { return a.Slice.From - b.Slice.From })
	L := rs[0].Slice.Layers
	next := 0
	for _, r := range rs {
		switch sl := r.Slice; {
		case sl.From > next:
			return nil, fmt.Errorf("probe: merge: blocks %d:%d are missing (no slice covers them)", next, sl.From)
		case sl.From < next:
			return nil, fmt.Errorf("probe: merge: the slice %s overlaps blocks %d:%d of another", blocksOf(r), sl.From, next)
		}
		next = r.Slice.To
	}
	if next != L {
		return nil, fmt.Errorf("probe: merge: blocks %d:%d are missing (no slice covers them)", next, L)
	}
	first, last := rs[0], rs[len(rs)-1]
	out := *last // the logits, the position deviations and the cost's shape
	out.Slice, out.Notes, out.Relation = nil, nil, first.Relation
	out.LayerDev = slices.Clone(first.LayerDev)
	maxHidden := slices.Clone(first.Slice.MaxHidden)
	var cost Estimate
	for _, r := range rs {
		for j := range out.LayerDev {
			if owned := (r.Slice.From == 0 && j == 0) || (r.Slice.From < j && j <= r.Slice.To); owned && j < len(r.LayerDev) {
				out.LayerDev[j], maxHidden[j] = r.LayerDev[j], r.Slice.MaxHidden[j]
			}
		}
		for _, n := range r.Notes {
			if !slices.Contains(out.Notes, n) {
				out.Notes = append(out.Notes, n)
			}
		}
		if r.Cost != nil {
			cost.FLOPs += r.Cost.FLOPs
			cost.ReadBytes += r.Cost.ReadBytes
			cost.Seconds += r.Cost.Seconds
		}
		out.MergedFrom = append(out.MergedFrom, blocksOf(r))
	}
	if cost.Seconds > 0 {
		cost.GFLOPS = cost.FLOPs / cost.Seconds / 1e9
		out.Cost = &cost
	}
	sl := last.Slice
	c := &checker{rep: &out, layerMap: out.LayerMap, maxHidden: maxHidden, hiddenOut: sl.HiddenOut,
		disagreements: sl.Disagreements, opts: CheckOptions{Precision: out.Precision, Tol: sl.Tol, Expect: sl.Expect},
		src: &graph.Graph{Dims: graph.Dims{Hidden: sl.SrcHidden}}, dst: &graph.Graph{Dims: graph.Dims{Hidden: sl.DstHidden}}}
	if sl.Rounded != "" {
		c.mapping = &Mapping{Rounded: sl.Rounded}
	}
	if err := c.judge(); err != nil {
		return nil, err
	}
	if out.Outcome == OutcomeFail {
		var failed []string
		for _, r := range rs {
			if r.Outcome == OutcomeFail {
				failed = append(failed, blocksOf(r))
			}
		}
		if len(failed) > 0 {
			out.Verdict += fmt.Sprintf(" [failing slice %s]", strings.Join(failed, ", "))
		}
	}
	return &out, nil
}

// lengths returns the lengths of the sequences.
func lengths(seqs [][]int) []int {
	out := make([]int, len(seqs))
	for i, s := range seqs {
		out[i] = len(s)
	}
	return out
}

// blocksOf writes a slice report's blocks.
func blocksOf(r *Report) string { return Blocks{r.Slice.From, r.Slice.To}.String() }

// passFLOPs counts the floating-point operations of the matrix products of
// one pass of g over sequences of lengths lens, restricted to the span.
func passFLOPs(g *graph.Graph, lens []int, sp span) float64 {
	var positions, pairs float64
	for _, n := range lens {
		positions += float64(n)
		pairs += float64(n) * float64(n+1) / 2
	}
	return spanFLOPs(g, positions, pairs, sp)
}

// spanFLOPs is passFLOPs for sequences of positions positions in all and
// pairs causal (query, key) pairs.
func spanFLOPs(g *graph.Graph, positions, pairs float64, sp span) float64 {
	if !g.Features().Causal {
		pairs *= 2
	}
	D, H, K, d, I := float64(g.Hidden), float64(g.Heads), float64(g.KVHeads), float64(g.HeadDim), float64(g.FFN)
	mlp := 2 * D * I
	if g.Features().GatedMLP {
		mlp = 3 * D * I
	}
	perBlock := D*(H+2*K)*d + H*d*D + mlp
	blocks := float64(sp.to - sp.from)
	f := 2*positions*perBlock*blocks + 2*2*pairs*H*d*blocks
	if sp.head && !g.Headless {
		f += 2 * positions * D * float64(g.Vocab)
	}
	return f
}

// passBytes is the tensor data one pass over the span reads: its blocks'
// tensors, and the head's (or the embedding again when tied) with the head.
func passBytes(g *graph.Graph, sp span) float64 {
	var b float64
	for _, f := range g.Fields() {
		t := *f.T
		if isNil(t) {
			continue
		}
		layer := -1
		if strings.HasPrefix(f.Role, "layers.") {
			layer, _ = strconv.Atoi(strings.SplitN(f.Role, ".", 3)[1])
		}
		in := (layer >= sp.from && layer < sp.to) || (layer < 0 && (sp.head || !strings.Contains(f.Role, "head")))
		if !in {
			continue
		}
		n := 1.0
		for _, d := range t.Shape() {
			n *= float64(d)
		}
		b += n * float64(t.DType().Size())
	}
	if sp.head && g.Tied && !g.Headless {
		b += float64(g.Vocab) * float64(g.Hidden) * float64(sizeOf(g))
	}
	return b
}

// sizeOf is the byte size of the embedding's dtype.
func sizeOf(g *graph.Graph) int { return max(1, embedDType(g).Size()) }

// embedDType is the embedding's dtype (F32 when the graph has none).
func embedDType(g *graph.Graph) checkpoint.DType {
	for _, f := range g.Fields() {
		if f.Role == "embed" && !isNil(*f.T) {
			return (*f.T).DType()
		}
	}
	return checkpoint.F32
}
