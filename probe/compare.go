package probe

import (
	"fmt"
	"math"
)

// outputs checks that the two models' outputs compare: both have an LM
// head, or neither and a hidden map relates their last hidden states.
func (c *checker) outputs() error {
	if c.ms.HasLMHead() != c.md.HasLMHead() {
		return fmt.Errorf("probe: check: one model has an LM head and the other not (source %v, result %v): "+
			"their outputs are not comparable", c.ms.HasLMHead(), c.md.HasLMHead())
	}
	c.hiddenOut = !c.ms.HasLMHead()
	if c.hiddenOut {
		if !c.known {
			return fmt.Errorf("probe: check: the models output hidden states (no MLM head) of sizes %d and %d "+
				"and no hidden mapping relates them", c.ms.OutputWidth(), c.md.OutputWidth())
		}
		c.note("the models have no LM head: their last hidden states are compared (no KL or top-1)")
	}
	return nil
}

// compareOutputs fills in the logits statistics: max-abs and relative
// difference, KL, top-1 agreement and the per-position difference (for models
// without an LM head, of the last hidden states under the hidden map).
func (c *checker) compareOutputs(seqs [][]int, rs, rd []*Result) {
	rep := c.rep
	maxLen := 0
	for _, s := range seqs {
		maxLen = max(maxLen, len(s))
	}
	rep.PositionDev = make([]float64, maxLen)
	rep.Probes = len(seqs)
	top1 := 0
	var klSum float64
	for b := range seqs {
		for t := range seqs[b] {
			ls, ld := rs[b].Logits[t], rd[b].Logits[t]
			if c.hiddenOut {
				ls = c.hm.Apply(ls)
			} else {
				ls, ld = ls[:c.vocab], ld[:c.vocab]
			}
			rep.Positions++
			pd := 0.0
			for i := range ls {
				pd = math.Max(pd, absDiff(ls[i], ld[i]))
				rep.MaxLogit = math.Max(rep.MaxLogit, math.Abs(ls[i]))
			}
			rep.MaxAbs = math.Max(rep.MaxAbs, pd)
			rep.PositionDev[t] = math.Max(rep.PositionDev[t], pd)
			if c.hiddenOut {
				continue
			}
			kl := klDiv(ls, ld)
			klSum += kl
			rep.MaxKL = math.Max(rep.MaxKL, kl)
			as, ad := argmax(ls), argmax(ld)
			if as == ad {
				top1++
			} else {
				c.disagreements = append(c.disagreements, [2]float64{ls[as], ls[ad]})
			}
		}
	}
	if c.hiddenOut {
		rep.Top1 = 1
	} else {
		rep.MeanKL = klSum / float64(rep.Positions)
		rep.Top1 = float64(top1) / float64(rep.Positions)
	}
	if rep.MaxLogit > 0 {
		rep.Rel = rep.MaxAbs / rep.MaxLogit
	} else if rep.MaxAbs > 0 {
		rep.Rel = math.Inf(1)
	}
}

// absDiff is |a − b|, with NaN counted as an infinite difference.
func absDiff(a, b float64) float64 {
	d := math.Abs(a - b)
	if math.IsNaN(d) {
		return math.Inf(1)
	}
	return d
}

// compareHidden fills in the deviation of every mapped hidden state over the
// probes.
func (c *checker) compareHidden(seqs [][]int, rs, rd []*Result) {
	if c.layerMap == nil {
		return
	}
	rep := c.rep
	rep.LayerMap = c.layerMap
	rep.LayerDev = make([]float64, len(c.layerMap))
	c.maxHidden = make([]float64, len(c.layerMap))
	for j, s := range c.layerMap {
		if s < 0 || !c.owns(j) {
			rep.LayerDev[j] = -1
			continue
		}
		for b := range seqs {
			for t := range seqs[b] {
				hs := c.hm.Apply(rs[b].Hidden[s][t])
				hd := rd[b].Hidden[j][t]
				for i := range hs {
					rep.LayerDev[j] = math.Max(rep.LayerDev[j], absDiff(hs[i], hd[i]))
					c.maxHidden[j] = math.Max(c.maxHidden[j], math.Abs(hs[i]))
				}
			}
		}
	}
}

// compareEmbeddings computes hidden state 0 for every token id of the shared
// vocabulary (at position 0) and every learned position (with the id first).
// The probes use only some ids and positions; hidden state 0 is cheap for all
// of them, so a wrong embedding row of an id the probes miss, or a learned
// position beyond their length, is seen in LayerDev[0]. The id rows also tell
// whether the two models' embeddings correspond at all (relator).
func (c *checker) compareEmbeddings(first int) error {
	ms, md := c.ms, c.md
	compare := c.layerMap != nil && c.layerMap[0] == 0
	if !compare && !c.relation.active() {
		return nil
	}
	npos := 0
	if compare {
		npos = max(ms.MaxPositions(), 1)
		if !ms.arch.learned {
			npos = 1 // without learned positions hidden state 0 does not depend on them
		}
		if md.MaxPositions() > 0 {
			npos = min(npos, md.MaxPositions())
		}
	}
	const chunk = 1024
	total := c.vocab + npos
	for lo := 0; lo < total; lo += chunk {
		hi := min(lo+chunk, total)
		ids, pos := make([]int, hi-lo), make([]int, hi-lo)
		for n := range ids {
			if k := lo + n; k < c.vocab {
				ids[n] = k
			} else {
				ids[n], pos[n] = first, k-c.vocab
			}
		}
		hs, err := ms.embedStates(ids, pos)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		hd, err := md.embedStates(ids, pos)
		if err != nil {
			return fmt.Errorf("result: %w", err)
		}
		c.compareRows(hs, hd, lo, compare)
	}
	return nil
}

// compareRows folds the hidden states 0 of rows lo, lo+1, ... into the
// embeddings' deviation (with compare) and the relation; the rows are worked
// out on GOMAXPROCS goroutines and folded in order.
func (c *checker) compareRows(hs, hd [][]float64, lo int, compare bool) {
	maps := c.relation.maps
	dev, top := make([]float64, len(hs)), make([]float64, len(hs))
	cos := make([][]float64, len(maps))
	for k := range cos {
		cos[k] = make([]float64, len(hs))
	}
	parRows(len(hs), len(hd[0])*8*(len(maps)+1), func(a, b int) {
		for n := a; n < b; n++ {
			mapped := c.hm.Apply(hs[n])
			if compare {
				d, t := 0.0, 0.0
				for i, v := range mapped {
					if x := absDiff(v, hd[n][i]); x > d || x != x {
						d = x
					}
					if x := math.Abs(v); x > t {
						t = x
					}
				}
				dev[n], top[n] = d, t
			}
			if lo+n >= c.vocab {
				continue
			}
			for k, m := range maps {
				if m == c.hm {
					cos[k][n] = cosine(mapped, hd[n])
				} else {
					cos[k][n] = cosine(m.Apply(hs[n]), hd[n])
				}
			}
		}
	})
	for n := range hs {
		if compare {
			c.rep.LayerDev[0] = math.Max(c.rep.LayerDev[0], dev[n])
			c.maxHidden[0] = math.Max(c.maxHidden[0], top[n])
		}
		if lo+n < c.vocab {
			for k := range maps {
				c.relation.cos[k] = append(c.relation.cos[k], cos[k][n])
			}
		}
	}
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
func (m *Model) embedStates(ids, pos []int) ([][]float64, error) {
	if m.w32 != nil {
		return embedRows(m, m.w32, ids, pos)
	}
	return embedRows(m, m.w64, ids, pos)
}

func embedRows[T float](m *Model, w *weights[T], ids, pos []int) ([][]float64, error) {
	D := m.arch.D
	x := make([]T, len(ids)*D)
	if err := embed(&m.arch, w, ids, pos, x, m.growth); err != nil {
		return nil, err
	}
	out := make([][]float64, len(ids))
	for n := range out {
		out[n] = toF64(x[n*D : (n+1)*D])
	}
	return out, nil
}
