package probe

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/sysmem"
)

// Tolerances of the EXACT class (docs/exactness.md): max-abs logits difference
// relative to max(1, max|logits|), and the largest KL(p_src ‖ p_dst).
const (
	ExactTol64   = 1e-9
	ExactKL64    = 1e-12
	ExactTol32   = 1e-4
	ExactKL32    = 1e-7
	upToEpsLimit = 1e-6
)

// ReadMapping reads the Mapping an operator recorded under MetadataKey in the
// first shard of c (claim.ReadMapping). ok is false when there is none.
func ReadMapping(c *checkpoint.Checkpoint) (m *Mapping, ok bool, err error) {
	return claim.ReadMapping(c)
}

// ParseMapping parses and validates a Mapping's JSON (claim.ParseMapping).
func ParseMapping(data []byte) (*Mapping, error) { return claim.ParseMapping(data) }

// FirstIDs returns the ids a random probe of g starts with: the id under
// the config key of its family's start token (family.StartToken: GPT-2 and
// the LLaMA family bos_token_id; BERT cls_token_id, or 101, the [CLS] of the
// standard BERT vocabularies, when the vocabulary is larger than that). Ids
// outside the vocabulary are left out.
func FirstIDs(g *graph.Graph) []int {
	st := g.Features().Start
	if st.Key == "" {
		return nil
	}
	def := -1
	if st.Default >= 0 && g.Vocab > st.Default {
		def = st.Default
	}
	id := configID(g, st.Key, def, g.Vocab)
	if id < 0 {
		return nil
	}
	return []int{id}
}

// configID reads an integer token id from g's config, or def; ids outside
// [0, vocab) give def.
func configID(g *graph.Graph, key string, def, vocab int) int {
	if g.Config == nil {
		return def
	}
	v, ok := g.Config.Get(key)
	f, isNum := v.(float64)
	if !ok || !isNum || f != math.Trunc(f) || f < 0 || int(f) >= vocab {
		return def
	}
	return int(f)
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
// outputs differ, with a verdict for the class the mapping claims. Random probes
// start with FirstIDs(src); for BERT the last one ends with a quarter of
// padding hidden by the attention mask (docs/exactness.md). A nil mapping
// means the identity and the class EXACT when the two models have the same
// hidden size; otherwise the hidden states are not compared and the class is
// APPROX (report only).
func Check(src, dst *graph.Graph, mapping *Mapping, opts CheckOptions) (*Report, error) {
	if opts.Probes <= 0 {
		opts.Probes = 8
	}
	if opts.SeqLen <= 0 {
		opts.SeqLen = 32
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Precision == "" {
		opts.Precision = F64
	}
	if src == nil || dst == nil {
		return nil, fmt.Errorf("probe: check needs two graphs")
	}
	var storage string
	if mapping != nil {
		if err := mapping.Validate(); err != nil {
			return nil, fmt.Errorf("probe: check: mapping: %w", err)
		}
		if mapping.Storage != "" {
			storage = mapping.Storage
			src = graph.Round(src, checkpoint.DType(storage))
		}
	}
	if need, have := CheckMemory(src, dst, opts), sysmem.Total(); need > float64(have) {
		return nil, fmt.Errorf("probe: check: %d probes × %d positions need about %s (both models' weights and every "+
			"hidden state and logit of the probes), more than this machine's %s of memory; use fewer --probes or a shorter --seq-len",
			opts.Probes, opts.SeqLen, sysmem.Bytes(need), sysmem.Bytes(float64(have)))
	}
	ms, err := New(src, opts.Precision)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	md, err := New(dst, opts.Precision)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if mapping != nil && mapping.Masked && opts.Growth == nil {
		return nil, fmt.Errorf("probe: check: the %s claim holds for the result's masked forward pass, and its growth masks (%s) are missing",
			mapping.Operator, claim.GrowthStateFile)
	}
	if err := md.SetGrowthMasks(opts.Growth); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	growthNote := ""
	if opts.Growth != nil {
		growthNote = "the result runs its masked forward pass (MSG growth masks beside it)"
	}
	rep := &Report{Precision: opts.Precision}
	if growthNote != "" {
		rep.Notes = append(rep.Notes, growthNote)
	}
	if storage != "" {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the result was stored as %s: it is compared with the source rounded to %s",
			storage, storage))
	}

	// What the mapping says.
	hm := HiddenMap{Kind: "tile", Src: src.Hidden, Dst: dst.Hidden}
	known := src.Hidden == dst.Hidden
	rep.Class = Exact
	if mapping != nil {
		rep.Class, rep.Operator = mapping.Class, mapping.Operator
		if mapping.Hidden != (HiddenMap{}) {
			hm, known = mapping.Hidden, true
			if hm.Src != src.Hidden || hm.Dst != dst.Hidden {
				return nil, fmt.Errorf("probe: check: the mapping maps hidden size %d to %d, but the models have %d and %d",
					hm.Src, hm.Dst, src.Hidden, dst.Hidden)
			}
		} else if !known {
			rep.Notes = append(rep.Notes, "the mapping does not say how the hidden states relate; layer-wise deviation not computed")
		}
	} else if !known {
		rep.Class = Approx
		rep.Notes = append(rep.Notes, fmt.Sprintf("no mapping recorded and the hidden sizes differ (%d vs %d): "+
			"layer-wise deviation not computed, class taken as APPROX (report only)", src.Hidden, dst.Hidden))
	}
	var layerMap []int
	if known {
		if mapping != nil && mapping.Layers != nil {
			layerMap = mapping.Layers
			if len(layerMap) != dst.Dims.Layers+1 {
				return nil, fmt.Errorf("probe: check: the layer map has %d entries, the result has %d hidden states (layers + 1)",
					len(layerMap), dst.Dims.Layers+1)
			}
		} else if src.Dims.Layers == dst.Dims.Layers {
			layerMap = make([]int, dst.Dims.Layers+1)
			for j := range layerMap {
				layerMap[j] = j
			}
		} else {
			rep.Notes = append(rep.Notes, fmt.Sprintf("the depths differ (%d vs %d) and no layer map was recorded; "+
				"layer-wise deviation not computed", src.Dims.Layers, dst.Dims.Layers))
		}
		for j, s := range layerMap {
			if s > src.Dims.Layers {
				return nil, fmt.Errorf("probe: check: layer map entry %d names source hidden state %d, the source has %d",
					j, s, src.Dims.Layers+1)
			}
		}
	}

	// Probe sequences.
	vocab := min(ms.Vocab(), md.Vocab())
	if ms.Vocab() != md.Vocab() {
		rep.Notes = append(rep.Notes, fmt.Sprintf("vocabularies differ (%d vs %d): probes use ids below %d and the "+
			"first %d logits are compared", ms.Vocab(), md.Vocab(), vocab, vocab))
	}
	maxLen := 0
	for _, p := range []int{ms.MaxPositions(), md.MaxPositions()} {
		if p > 0 && (maxLen == 0 || p < maxLen) {
			maxLen = p
		}
	}
	seqs := opts.IDs
	var masks [][]int
	if seqs == nil {
		if maxLen > 0 && opts.SeqLen > maxLen {
			return nil, fmt.Errorf("probe: check: sequence length %d exceeds the models' %d positions", opts.SeqLen, maxLen)
		}
		first := opts.First
		if first == nil {
			first = FirstIDs(src)
		}
		for _, id := range first {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("probe: check: first probe id %d outside the shared vocabulary [0, %d)", id, vocab)
			}
		}
		seqs = Probes(opts.Probes, opts.SeqLen, vocab, opts.Seed, first)
		if !src.Features().Causal && !dst.Features().Causal && len(seqs) >= 2 && opts.SeqLen >= 4 {
			// An encoder attends both ways, so padding could leak into real
			// positions: probe a padded batch with its attention mask. The
			// last probe's last quarter becomes padding (pad_token_id, else 0).
			b := len(seqs) - 1
			pad := configID(src, "pad_token_id", 0, vocab)
			masks = make([][]int, len(seqs))
			masks[b] = make([]int, opts.SeqLen)
			for t := range masks[b] {
				masks[b][t] = 1
				if t >= opts.SeqLen-opts.SeqLen/4 {
					masks[b][t], seqs[b][t] = 0, pad
				}
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("probe %d ends with %d padding positions (id %d) hidden by the attention mask",
				b, opts.SeqLen/4, pad))
		}
	} else {
		for b, s := range seqs {
			for t, id := range s {
				if id < 0 || id >= vocab {
					return nil, fmt.Errorf("probe: check: probe %d position %d: id %d outside the shared vocabulary [0, %d)",
						b, t, id, vocab)
				}
			}
		}
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("probe: check: no probe sequences")
	}
	rs, err := ms.ForwardBatchMasked(seqs, masks)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	rd, err := md.ForwardBatchMasked(seqs, masks)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}

	// Logits.
	if ms.HasLMHead() != md.HasLMHead() {
		return nil, fmt.Errorf("probe: check: one model has an LM head and the other not (source %v, result %v): "+
			"their outputs are not comparable", ms.HasLMHead(), md.HasLMHead())
	}
	hiddenOut := !ms.HasLMHead()
	if hiddenOut {
		if !known {
			return nil, fmt.Errorf("probe: check: the models output hidden states (no MLM head) of sizes %d and %d "+
				"and no hidden mapping relates them", ms.OutputWidth(), md.OutputWidth())
		}
		rep.Notes = append(rep.Notes, "the models have no LM head: their last hidden states are compared "+
			"(no KL or top-1)")
	}
	maxLen = 0
	for _, s := range seqs {
		maxLen = max(maxLen, len(s))
	}
	rep.PositionDev = make([]float64, maxLen)
	rep.Probes = len(seqs)
	tieLimit := 0.0
	top1, ties := 0, 0
	var klSum float64
	var disagreements [][2]float64 // src logit gap at disagreeing positions
	for b := range seqs {
		for t := range seqs[b] {
			ls, ld := rs[b].Logits[t], rd[b].Logits[t]
			if hiddenOut {
				ls = hm.Apply(ls)
			} else {
				ls, ld = ls[:vocab], ld[:vocab]
			}
			rep.Positions++
			pd := 0.0
			for i := range ls {
				d := math.Abs(ls[i] - ld[i])
				if math.IsNaN(d) {
					d = math.Inf(1)
				}
				pd = math.Max(pd, d)
				rep.MaxLogit = math.Max(rep.MaxLogit, math.Abs(ls[i]))
			}
			rep.MaxAbs = math.Max(rep.MaxAbs, pd)
			rep.PositionDev[t] = math.Max(rep.PositionDev[t], pd)
			if hiddenOut {
				continue
			}
			kl := klDiv(ls, ld)
			klSum += kl
			rep.MaxKL = math.Max(rep.MaxKL, kl)
			as, ad := argmax(ls), argmax(ld)
			if as == ad {
				top1++
			} else {
				disagreements = append(disagreements, [2]float64{ls[as], ls[ad]})
			}
		}
	}
	if !hiddenOut {
		rep.MeanKL = klSum / float64(rep.Positions)
		rep.Top1 = float64(top1) / float64(rep.Positions)
	} else {
		rep.Top1 = 1
	}
	if rep.MaxLogit > 0 {
		rep.Rel = rep.MaxAbs / rep.MaxLogit
	} else if rep.MaxAbs > 0 {
		rep.Rel = math.Inf(1)
	}

	// Hidden states.
	var maxHidden []float64
	if layerMap != nil {
		rep.LayerMap = layerMap
		rep.LayerDev = make([]float64, len(layerMap))
		maxHidden = make([]float64, len(layerMap))
		for j, s := range layerMap {
			if s < 0 {
				rep.LayerDev[j] = -1
				continue
			}
			for b := range seqs {
				for t := range seqs[b] {
					hs := hm.Apply(rs[b].Hidden[s][t])
					hd := rd[b].Hidden[j][t]
					for i := range hs {
						d := math.Abs(hs[i] - hd[i])
						if math.IsNaN(d) {
							d = math.Inf(1)
						}
						rep.LayerDev[j] = math.Max(rep.LayerDev[j], d)
						maxHidden[j] = math.Max(maxHidden[j], math.Abs(hs[i]))
					}
				}
			}
		}
	}

	// Every input row. The probes use only some ids and positions; hidden state
	// 0 (the embeddings) is cheap for all of them, so a wrong embedding row of
	// an id the probes miss, or a learned position beyond their length, is seen.
	if layerMap != nil && layerMap[0] == 0 {
		first := 0
		if len(seqs[0]) > 0 {
			first = seqs[0][0]
		}
		npos := max(ms.MaxPositions(), 1)
		if !ms.arch.learned {
			npos = 1 // without learned positions hidden state 0 does not depend on them
		}
		if md.MaxPositions() > 0 {
			npos = min(npos, md.MaxPositions())
		}
		const chunk = 1024
		total := vocab + npos
		for lo := 0; lo < total; lo += chunk {
			hi := min(lo+chunk, total)
			ids, pos := make([]int, hi-lo), make([]int, hi-lo)
			for n := range ids {
				if k := lo + n; k < vocab {
					ids[n] = k
				} else {
					ids[n], pos[n] = first, k-vocab
				}
			}
			hs, hd := ms.embedStates(ids, pos), md.embedStates(ids, pos)
			for n := range hs {
				a, b := hm.Apply(hs[n]), hd[n]
				for i := range a {
					d := math.Abs(a[i] - b[i])
					if math.IsNaN(d) {
						d = math.Inf(1)
					}
					rep.LayerDev[0] = math.Max(rep.LayerDev[0], d)
					maxHidden[0] = math.Max(maxHidden[0], math.Abs(a[i]))
				}
			}
		}
	}

	// Verdict.
	var fails []string
	tol, klTol := ExactTol64, ExactKL64
	if opts.Precision == F32 {
		tol, klTol = ExactTol32, ExactKL32
	} else if mapping != nil && mapping.Rounded != "" && rep.Class == Exact {
		tol, klTol = ExactTol32, ExactKL32
		rep.Notes = append(rep.Notes, fmt.Sprintf("the operator's values were rounded to %s on storage: "+
			"EXACT is judged with the float32 rule (%g·max(1, max|logits|), KL ≤ %g)", mapping.Rounded, tol, klTol))
	}
	switch rep.Class {
	case BitExact:
		if rep.MaxAbs != 0 {
			fails = append(fails, fmt.Sprintf("max-abs logits difference %.3g ≠ 0 (BIT-EXACT)", rep.MaxAbs))
		}
		for j, d := range rep.LayerDev {
			if d > 0 {
				fails = append(fails, fmt.Sprintf("hidden state %d deviates by %.3g ≠ 0 (BIT-EXACT)", j, d))
				break
			}
		}
	case Exact:
		limit := tol * math.Max(1, rep.MaxLogit)
		tieLimit = 2 * limit
		if !(rep.MaxAbs <= limit) {
			fails = append(fails, fmt.Sprintf("max-abs logits difference %.3g > %.3g = %g·max(1, max|logits| %.3g) (EXACT, %s)",
				rep.MaxAbs, limit, tol, rep.MaxLogit, opts.Precision))
		}
		if !hiddenOut && !(rep.MaxKL <= klTol) {
			fails = append(fails, fmt.Sprintf("max KL %.3g > %g (EXACT, %s)", rep.MaxKL, klTol, opts.Precision))
		}
		if opts.Precision == F32 && !hiddenOut {
			for _, g := range disagreements {
				if g[0]-g[1] > tieLimit {
					fails = append(fails, fmt.Sprintf("top-1 agreement %.4f < 1 (EXACT, f32)", rep.Top1))
					break
				}
				ties++
			}
		}
		for j, d := range rep.LayerDev {
			lim := tol * math.Max(1, maxHidden[j])
			if d > lim || math.IsNaN(d) {
				fails = append(fails, fmt.Sprintf("hidden state %d (source %d) deviates by %.3g > %.3g (EXACT)",
					j, layerMap[j], d, lim))
				break
			}
		}
	case ExactUpToEps, Approx, NonPreserving:
	default:
		return nil, fmt.Errorf("probe: check: unknown class %q", rep.Class)
	}
	if opts.Tol > 0 && !(rep.MaxAbs <= opts.Tol) {
		fails = append(fails, fmt.Sprintf("max-abs logits difference %.3g exceeds the tolerance %g", rep.MaxAbs, opts.Tol))
	}
	if ties > 0 && len(fails) == 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d top-1 disagreements are ties within %.3g", ties, tieLimit))
	}
	switch {
	case len(fails) > 0:
		rep.Verdict = "FAIL: " + fails[0]
		for _, f := range fails[1:] {
			rep.Verdict += "; " + f
		}
	case rep.Class == ExactUpToEps:
		rep.Pass = true
		rep.Verdict = fmt.Sprintf("PASS (EXACT-UP-TO-EPS: report only; relative difference %.3g, expected ≤ %g)",
			rep.Rel, upToEpsLimit)
	case rep.Class == Approx || rep.Class == NonPreserving:
		rep.Pass = true
		rep.Verdict = fmt.Sprintf("PASS (%s: report only)", rep.Class)
	default:
		rep.Pass = true
		rep.Verdict = "PASS"
	}
	return rep, nil
}

// CheckMemory estimates the bytes Check holds for src and dst with opts (its
// defaults filled in): both models' weights decoded in the compute precision,
// and every probe's hidden states and logits of both models in float64. It is
// a float64, since absurd options overflow an int.
func CheckMemory(src, dst *graph.Graph, opts CheckOptions) float64 {
	positions := float64(max(opts.Probes, 1)) * float64(max(opts.SeqLen, 1))
	if opts.IDs != nil {
		positions = 0
		for _, s := range opts.IDs {
			positions += float64(len(s))
		}
	}
	size := 8.0
	if opts.Precision == F32 {
		size = 4
	}
	var total float64
	for _, g := range []*graph.Graph{src, dst} {
		var weights float64
		g.MapTensors(func(t graph.Tensor) graph.Tensor {
			if t != nil {
				n := 1.0
				for _, d := range t.Shape() {
					n *= float64(d)
				}
				weights += n
			}
			return t
		})
		states := float64(g.Dims.Layers+1)*float64(g.Hidden) + float64(g.Vocab)
		total += weights*size + positions*states*8
	}
	return total
}

// klDiv returns KL(softmax(p) ‖ softmax(q)) in float64 (0 when identical).
func klDiv(p, q []float64) float64 {
	lp, lq := logSumExp(p), logSumExp(q)
	var kl float64
	for i := range p {
		a := p[i] - lp
		b := q[i] - lq
		if a == b {
			continue
		}
		kl += math.Exp(a) * (a - b)
	}
	if math.IsNaN(kl) {
		return math.Inf(1)
	}
	if kl < 0 { // rounding
		return 0
	}
	return kl
}

// logSumExp returns log Σ exp(x).
func logSumExp(x []float64) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, v)
	}
	if math.IsInf(mx, 0) {
		return mx
	}
	var s float64
	for _, v := range x {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s)
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// embedStates returns hidden state 0 (the embedding row of ids[n], plus the
// learned position pos[n] and token type 0, then BERT's embedding LayerNorm)
// of every n, as the forward pass computes it.
func (m *Model) embedStates(ids, pos []int) [][]float64 {
	if m.w32 != nil {
		return embedRows(m, m.w32, ids, pos)
	}
	return embedRows(m, m.w64, ids, pos)
}

func embedRows[T float](m *Model, w *weights[T], ids, pos []int) [][]float64 {
	D := m.arch.D
	x := make([]T, len(ids)*D)
	embed(&m.arch, w, ids, pos, x, m.growth)
	out := make([][]float64, len(ids))
	for n := range out {
		out[n] = toF64(x[n*D : (n+1)*D])
	}
	return out
}
