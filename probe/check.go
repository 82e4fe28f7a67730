package probe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/sysmem"
)

// ReadMapping reads the Mapping recorded for c, in its safetensors metadata or
// its config.json (claim.ReadMapping). ok is false when there is none.
func ReadMapping(c *checkpoint.Checkpoint) (m *Mapping, ok bool, err error) {
	return claim.ReadMapping(c)
}

// ParseMapping parses and validates a Mapping's JSON (claim.ParseMapping).
func ParseMapping(data []byte) (*Mapping, error) { return claim.ParseMapping(data) }

// FirstIDs returns the ids a random probe of g starts with: the id under
// the config key of its family's start token (family.StartToken: GPT-2 and
// the LLaMA family bos_token_id; BERT cls_token_id, or 101, the [CLS] of the
// standard BERT vocabularies, when the vocabulary is larger than that). A
// config id that is not a token id of the vocabulary is an error naming it.
func FirstIDs(g *graph.Graph) ([]int, error) {
	st := g.Features().Start
	if st.Key == "" {
		return nil, nil
	}
	def := -1
	if st.Default >= 0 && g.Vocab > st.Default {
		def = st.Default
	}
	id, err := ConfigID(g, st.Key, def)
	if err != nil || id < 0 {
		return nil, err
	}
	return []int{id}, nil
}

// ConfigID reads the special-token id under key (bos_token_id, pad_token_id,
// ...) from g's config: def when the key is absent or null, an error naming the
// key when its value is not a token id of g's vocabulary [0, g.Vocab).
func ConfigID(g *graph.Graph, key string, def int) (int, error) {
	if g.Config == nil {
		return def, nil
	}
	v, ok := g.Config.Get(key)
	if !ok || v == nil {
		return def, nil
	}
	f, isNum := v.(float64)
	name := "config.json"
	if g.Config.Name != "" {
		name = g.Config.Name
	}
	switch {
	case !isNum || f != math.Trunc(f):
		return 0, fmt.Errorf("probe: %s: %s %s is not a token id", name, key, describeJSON(v))
	case f < 0 || f >= float64(g.Vocab):
		return 0, fmt.Errorf("probe: %s: %s %v is outside the vocabulary [0, %d)", name, key, f, g.Vocab)
	}
	return int(f), nil
}

// describeJSON writes a value decoded from JSON for a message.
func describeJSON(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case float64:
		return fmt.Sprint(v)
	case []any:
		return fmt.Sprintf("(a list of %d)", len(v))
	case map[string]any:
		return "(an object)"
	}
	return fmt.Sprint(v)
}

// Probes returns n deterministic random sequences of length seqLen with ids in
// [0, vocab), each starting with first.
func Probes(n, seqLen, vocab int, seed int64, first []int) [][]int {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x67726f77)) // "grow"
	out := make([][]int, n)
	for i := range out {
		s := make([]int, seqLen)
		for t := range s {
			if t < len(first) {
				s[t] = first[t]
			} else {
				s[t] = rng.IntN(vocab)
			}
		}
		out[i] = s
	}
	return out
}

// Check runs src and dst on the same probe sequences and reports how far their
// outputs differ, with a verdict for the claim (docs/exactness.md): the class
// and hidden-state map of mapping, or, when mapping is nil, the identity with
// the class EXACT for two models of the same hidden size and no claim at all
// otherwise. Random probes start with FirstIDs(src); for BERT the last one
// ends with a quarter of padding hidden by the attention mask.
//
// Report.Outcome is PASS when a claim that promises something (BIT-EXACT,
// EXACT, or a bound: opts.Tol) was verified, FAIL when a rule failed (the
// class's, opts.Tol, opts.Expect, or embeddings that do not correspond under
// any map), and NOTHING TO VERIFY otherwise.
func Check(src, dst *graph.Graph, mapping *Mapping, opts CheckOptions) (*Report, error) {
	start := time.Now()
	c, err := newChecker(src, dst, mapping, opts.withDefaults())
	if err != nil {
		return nil, err
	}
	if err := c.resolveClaim(); err != nil {
		return nil, err
	}
	if err := c.resolveSlice(); err != nil {
		return nil, err
	}
	if err := c.outputs(); err != nil {
		return nil, err
	}
	seqs, masks, err := c.probeSequences()
	if err != nil {
		return nil, err
	}
	rs, err := c.ms.runSpan(seqs, masks, true, c.sourceSpan())
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	rd, err := c.md.runSpan(seqs, masks, true, c.resultSpan(rs))
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if c.head() {
		c.compareOutputs(seqs, rs, rd)
	}
	c.compareHidden(seqs, rs, rd)
	if c.from == 0 {
		if err := c.compareEmbeddings(seqs[0][0]); err != nil {
			return nil, err
		}
	}
	if err := c.judge(); err != nil {
		return nil, err
	}
	c.finishSlice(seqs)
	c.rep.Cost = c.cost(seqs, time.Since(start))
	return c.rep, nil
}

// withDefaults fills in the options' defaults.
func (o CheckOptions) withDefaults() CheckOptions {
	if o.Probes <= 0 {
		o.Probes = 8
	}
	if o.SeqLen <= 0 {
		o.SeqLen = 32
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Precision == "" {
		o.Precision = F64
	}
	return o
}

// checker is one Check: the two models, the claim it judges and the report
// it fills in, step by step.
type checker struct {
	src, dst *graph.Graph
	ms, md   *Model
	mapping  *Mapping
	opts     CheckOptions
	rep      *Report

	// hm maps the source's hidden states to the result's when known.
	hm    HiddenMap
	known bool
	// layerMap[j] is the source hidden state compared with the result's j
	// (nil: hidden states not compared).
	layerMap []int
	// vocab is the shared vocabulary; hiddenOut is true when the models
	// output their last hidden states (no LM head).
	vocab     int
	hiddenOut bool
	// maxHidden[j] is the largest |map(h_src)| of hidden state j.
	maxHidden []float64
	// disagreements holds the source's logits of its own and of the
	// result's top-1 token where the two disagree.
	disagreements [][2]float64
	// relation accumulates the embedding rows' correspondence.
	relation *relator
	// from and to are the result's blocks checked: [0, L) for a whole
	// check, CheckOptions.Blocks for a slice.
	from, to int
}

// newChecker validates the mapping and the options, rounds the source to the
// mapping's storage dtype, and opens both models for streaming (Open).
func newChecker(src, dst *graph.Graph, mapping *Mapping, opts CheckOptions) (*checker, error) {
	if src == nil || dst == nil {
		return nil, fmt.Errorf("probe: check needs two graphs")
	}
	if opts.Tol < 0 || math.IsNaN(opts.Tol) || math.IsInf(opts.Tol, 0) {
		return nil, fmt.Errorf("probe: check: tolerance %v (want a finite number ≥ 0)", opts.Tol)
	}
	if opts.Expect != "" && claim.Rank(opts.Expect) < 0 {
		return nil, fmt.Errorf("probe: check: expected class %q (want %s, %s, %s, %s or %s)", opts.Expect,
			BitExact, Exact, ExactUpToEps, Approx, NonPreserving)
	}
	c := &checker{src: src, dst: dst, mapping: mapping, opts: opts, rep: &Report{Precision: opts.Precision}}
	rounded := ""
	if mapping != nil {
		if err := mapping.Validate(); err != nil {
			return nil, fmt.Errorf("probe: check: mapping: %w", err)
		}
		if mapping.Storage != "" {
			c.src = graph.Round(src, checkpoint.DType(mapping.Storage))
			rounded = " (rounded to " + mapping.Storage + ")"
			c.note("the result was stored as %s: it is compared with the source rounded to %s",
				mapping.Storage, mapping.Storage)
		}
	}
	if need, have := CheckMemory(c.src, dst, opts), sysmem.Total(); need > float64(have) {
		return nil, fmt.Errorf("probe: check: %d probes × %d positions need about %s (every hidden state and logit of "+
			"the probes, for both models), more than this machine's %s of memory; use fewer --probes or a shorter --seq-len",
			opts.Probes, opts.SeqLen, sysmem.Bytes(need), sysmem.Bytes(float64(have)))
	}
	var err error
	if c.ms, err = Open(c.src, opts.Precision); err != nil {
		return nil, fmt.Errorf("source%s: %w", rounded, err)
	}
	if c.md, err = Open(dst, opts.Precision); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if mapping != nil && mapping.Masked && opts.Growth == nil {
		return nil, fmt.Errorf("probe: check: the %s claim holds for the result's masked forward pass, and its growth masks (%s) are missing",
			mapping.Operator, claim.GrowthStateFile)
	}
	if err := c.md.SetGrowthMasks(opts.Growth); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if err := c.ms.SetGrowthMasks(opts.SourceGrowth); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if opts.SourceGrowth != nil {
		c.note("the source runs its masked forward pass (MSG growth masks beside it)")
	}
	if opts.Growth != nil {
		c.note("the result runs its masked forward pass (MSG growth masks beside it)")
	}
	c.vocab = min(c.ms.Vocab(), c.md.Vocab())
	if c.ms.Vocab() != c.md.Vocab() {
		c.note("vocabularies differ (%d vs %d): probes use ids below %d and the first %d logits are compared",
			c.ms.Vocab(), c.md.Vocab(), c.vocab, c.vocab)
	}
	return c, nil
}

func (c *checker) note(format string, args ...any) {
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
}

// resolveClaim sets the class, the hidden map and the layer map that the
// check judges: the mapping's, or without one the identity (EXACT) for two
// models of the same hidden size and no claim otherwise.
func (c *checker) resolveClaim() error {
	src, dst, m := c.src, c.dst, c.mapping
	c.hm = HiddenMap{Kind: "tile", Src: src.Hidden, Dst: dst.Hidden}
	c.known = src.Hidden == dst.Hidden
	switch {
	case m != nil:
		c.rep.Class, c.rep.Operator = m.Class, m.Operator
		if g := c.opts.Growth; m.Masked && g != nil && g.Value != 0 {
			c.rep.Class = NonPreserving
			c.note("the %s claim holds at mask value 0; the masks are at %g, where the result is a new model", m.Operator, g.Value)
		}
		if m.Hidden != (HiddenMap{}) {
			c.hm, c.known = m.Hidden, true
			if c.hm.Src != src.Hidden || c.hm.Dst != dst.Hidden {
				return fmt.Errorf("probe: check: the mapping maps hidden size %d to %d, but the models have %d and %d",
					c.hm.Src, c.hm.Dst, src.Hidden, dst.Hidden)
			}
		} else if !c.known {
			c.note("the mapping does not say how the hidden states relate; layer-wise deviation not computed")
		}
	case c.known:
		c.rep.Class = Exact
	default:
		c.note("no claim recorded and the hidden sizes differ (%d vs %d): layer-wise deviation not computed",
			src.Hidden, dst.Hidden)
	}
	if c.known {
		c.rep.HiddenMap = c.hm.String()
	}
	c.relation = newRelator(c)
	if !c.known {
		return nil
	}
	switch {
	case m != nil && m.Layers != nil:
		c.layerMap = m.Layers
		if len(c.layerMap) != dst.Dims.Layers+1 {
			return fmt.Errorf("probe: check: the layer map has %d entries, the result has %d hidden states (layers + 1)",
				len(c.layerMap), dst.Dims.Layers+1)
		}
	case src.Dims.Layers == dst.Dims.Layers:
		c.layerMap = make([]int, dst.Dims.Layers+1)
		for j := range c.layerMap {
			c.layerMap[j] = j
		}
	default:
		c.note("the depths differ (%d vs %d) and no layer map was recorded; layer-wise deviation not computed",
			src.Dims.Layers, dst.Dims.Layers)
	}
	for j, s := range c.layerMap {
		if s > src.Dims.Layers {
			return fmt.Errorf("probe: check: layer map entry %d names source hidden state %d, the source has %d",
				j, s, src.Dims.Layers+1)
		}
	}
	return nil
}

// probeSequences returns the probes (opts.IDs, or random ones starting with
// the source's start token) and their attention masks (nil: none).
func (c *checker) probeSequences() ([][]int, [][]int, error) {
	opts, vocab := c.opts, c.vocab
	maxLen := 0
	for _, p := range []int{c.ms.MaxPositions(), c.md.MaxPositions()} {
		if p > 0 && (maxLen == 0 || p < maxLen) {
			maxLen = p
		}
	}
	if opts.IDs != nil {
		if len(opts.IDs) == 0 {
			return nil, nil, fmt.Errorf("probe: check: no probe sequences")
		}
		for b, s := range opts.IDs {
			if len(s) == 0 {
				return nil, nil, fmt.Errorf("probe: check: probe %d is empty", b)
			}
			if maxLen > 0 && len(s) > maxLen {
				return nil, nil, fmt.Errorf("probe: check: probe %d has %d ids, more than the models' %d positions", b, len(s), maxLen)
			}
			for t, id := range s {
				if id < 0 || id >= vocab {
					return nil, nil, fmt.Errorf("probe: check: probe %d position %d: id %d outside the shared vocabulary [0, %d)",
						b, t, id, vocab)
				}
			}
		}
		return opts.IDs, nil, nil
	}
	if maxLen > 0 && opts.SeqLen > maxLen {
		return nil, nil, fmt.Errorf("probe: check: sequence length %d exceeds the models' %d positions", opts.SeqLen, maxLen)
	}
	first := opts.First
	if first == nil {
		var err error
		if first, err = FirstIDs(c.src); err != nil {
			return nil, nil, fmt.Errorf("source: %w", err)
		}
	}
	for _, id := range first {
		if id < 0 || id >= vocab {
			// The source's own start token, valid in its vocabulary, is
			// not one of the result's: say so and probe without it.
			c.note("the source's start token %d is outside the shared vocabulary [0, %d): the probes start with random ids",
				id, vocab)
			first = []int{}
			break
		}
	}
	seqs := Probes(opts.Probes, opts.SeqLen, vocab, opts.Seed, first)
	if c.src.Features().Causal || c.dst.Features().Causal || len(seqs) < 2 || opts.SeqLen < 4 {
		return seqs, nil, nil
	}
	// An encoder attends both ways, so padding could leak into real
	// positions: probe a padded batch with its attention mask. The last
	// probe's last quarter becomes padding (pad_token_id, else 0).
	b := len(seqs) - 1
	pad, err := ConfigID(c.src, "pad_token_id", 0)
	if err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	if pad >= vocab {
		return nil, nil, fmt.Errorf("probe: check: the source's pad_token_id %d is outside the shared vocabulary [0, %d)", pad, vocab)
	}
	masks := make([][]int, len(seqs))
	masks[b] = make([]int, opts.SeqLen)
	for t := range masks[b] {
		masks[b][t] = 1
		if t >= opts.SeqLen-opts.SeqLen/4 {
			masks[b][t], seqs[b][t] = 0, pad
		}
	}
	c.note("probe %d ends with %d padding positions (id %d) hidden by the attention mask", b, opts.SeqLen/4, pad)
	return seqs, masks, nil
}

// CheckMemory estimates the peak bytes Check holds for src and dst with opts
// (its defaults filled in): EstimateCheck's memory. It is a float64, since
// absurd options overflow an int.
func CheckMemory(src, dst *graph.Graph, opts CheckOptions) float64 {
	return EstimateCheck(src, dst, opts, Rates{}).Memory
}
