package probe

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"

	kernels "github.com/grow-ml/grow/internal/gemm"
)

// gemm computes c = alpha·op(a)·op(b) + beta·c, row-major, with the packed
// assembly kernels of internal/gemm.
func gemm[T float](tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := kernelTrans(tA), kernelTrans(tB)
	switch a := any(a).(type) {
	case []float32:
		kernels.Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		kernels.Dgemm(ta, tb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// kernelTrans maps BLAS's transpose flag to internal/gemm's.
func kernelTrans(t blas.Transpose) kernels.Transpose {
	if t == blas.NoTrans {
		return kernels.NoTrans
	}
	return kernels.Trans
}

// normRows applies a LayerNorm or RMSNorm to every row of x (width D) into y
// (y may be x). Statistics are accumulated in float64.
func normRows[T float](nw norm[T], rms bool, eps float64, x []T, n, D int, y []T) {
	parRows(n, 4*D, func(lo, hi int) { normRange(nw, rms, eps, x, lo, hi, D, y) })
}

// parRows runs f over [0, n) split into GOMAXPROCS contiguous ranges when the
// work (n × cost per row) is worth the goroutines, else in one call.
func parRows(n, cost int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers <= 1 || n < 2 || n*cost < 1<<15 {
		f(0, n)
		return
	}
	workers = min(workers, n)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

func normRange[T float](nw norm[T], rms bool, eps float64, x []T, lo, hi, D int, y []T) {
	for r := lo; r < hi; r++ {
		xr, yr := x[r*D:(r+1)*D], y[r*D:(r+1)*D]
		if rms {
			// HF LlamaRMSNorm: x · rsqrt(mean(x²) + eps), then · w.
			var ss float64
			for _, v := range xr {
				ss += float64(v) * float64(v)
			}
			inv := T(1 / math.Sqrt(ss/float64(D)+eps))
			for i, v := range xr {
				yr[i] = nw.w[i] * (v * inv)
			}
			continue
		}
		var sum float64
		for _, v := range xr {
			sum += float64(v)
		}
		mu := sum / float64(D)
		var ss float64
		for _, v := range xr {
			dv := float64(v) - mu
			ss += dv * dv
		}
		m, inv := T(mu), T(1/math.Sqrt(ss/float64(D)+eps))
		for i, v := range xr {
			yr[i] = (v-m)*inv*nw.w[i] + nw.b[i]
		}
	}
}

// seqInfo locates one sequence inside the concatenated batch.
type seqInfo struct {
	off, n int
	mask   []int // nil: every position attends
}

// Forward runs one sequence and returns the logits at every position (and the
// hidden states unless SkipHidden).
func (m *Model) Forward(ids []int) (*Result, error) {
	rs, err := m.ForwardBatchMasked([][]int{ids}, nil)
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// ForwardBatch runs several sequences (of any lengths) in one pass: the
// projections of all their positions go through one matrix product each, the
// attention stays inside each sequence.
func (m *Model) ForwardBatch(seqs [][]int) ([]*Result, error) {
	return m.ForwardBatchMasked(seqs, nil)
}

// ForwardBatchMasked is ForwardBatch with an attention mask per sequence, as
// transformers' attention_mask: masks[b][t] = 1 lets every position attend to
// position t, 0 hides it (padding). A nil masks or masks[b] attends everywhere.
// Positions are 0, 1, … whatever the mask (position_ids are not shifted), and a
// masked position still gets outputs of its own. Causal models combine the mask
// with the causal one; a row with no visible key attends uniformly to the keys
// the causal mask allows (what transformers' additive mask gives).
func (m *Model) ForwardBatchMasked(seqs [][]int, masks [][]int) ([]*Result, error) {
	return m.run(seqs, masks, !m.SkipHidden)
}

// span is the part of a pass that runs: blocks [from, to), from the
// embeddings of the ids when from is 0 and start is nil, else from start
// (hidden state from of every sequence and position, width D); and the
// output (Result.Logits) when head.
type span struct {
	from, to int
	start    [][][]float64
	head     bool
}

// whole is the span of a whole pass.
func (m *Model) whole() span { return span{from: 0, to: m.arch.L, head: true} }

// Greedy appends n greedily decoded ids (the argmax of the last position's
// logits, lowest id on ties) to ids and returns the n new ids. Every step reruns
// the whole sequence (no KV cache). Only causal models decode.
func (m *Model) Greedy(ids []int, n int) ([]int, error) {
	if !m.arch.causal {
		return nil, fmt.Errorf("probe: %s: greedy decoding needs a causal model", modelName(m.g))
	}
	seq := append([]int(nil), ids...)
	out := make([]int, 0, n)
	for range n {
		rs, err := m.run([][]int{seq}, nil, false)
		if err != nil {
			return out, err
		}
		last := rs[0].Logits[len(seq)-1]
		best := 0
		for i, v := range last {
			if v > last[best] {
				best = i
			}
		}
		seq = append(seq, best)
		out = append(out, best)
	}
	return out, nil
}

func (m *Model) run(seqs [][]int, masks [][]int, hidden bool) ([]*Result, error) {
	return m.runSpan(seqs, masks, hidden, m.whole())
}

// runSpan runs the span sp of a pass over the sequences.
func (m *Model) runSpan(seqs [][]int, masks [][]int, hidden bool, sp span) ([]*Result, error) {
	if sp.from < 0 || sp.to > m.arch.L || sp.from > sp.to || (sp.head && sp.to != m.arch.L) {
		return nil, fmt.Errorf("probe: blocks [%d, %d) of a model with %d", sp.from, sp.to, m.arch.L)
	}
	if sp.start != nil && len(sp.start) != len(seqs) {
		return nil, fmt.Errorf("probe: hidden states of %d sequences for %d", len(sp.start), len(seqs))
	}
	if masks != nil && len(masks) != len(seqs) {
		return nil, fmt.Errorf("probe: %d masks for %d sequences", len(masks), len(seqs))
	}
	info := make([]seqInfo, len(seqs))
	total := 0
	for b, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("probe: sequence %d is empty", b)
		}
		if w := m.arch.window; w > 0 && len(s) > w {
			return nil, fmt.Errorf("probe: sequence %d has %d tokens, more than the sliding attention window %d "+
				"(this engine attends to the whole prefix, so it only runs sequences within the window)", b, len(s), w)
		}
		if p := m.MaxPositions(); p > 0 && len(s) > p {
			return nil, fmt.Errorf("probe: sequence %d has %d tokens, the model has %d positions", b, len(s), p)
		}
		for t, id := range s {
			if id < 0 || id >= m.arch.V {
				return nil, fmt.Errorf("probe: sequence %d position %d: token id %d outside the vocabulary [0, %d)", b, t, id, m.arch.V)
			}
		}
		info[b] = seqInfo{off: total, n: len(s)}
		if masks != nil && masks[b] != nil {
			if len(masks[b]) != len(s) {
				return nil, fmt.Errorf("probe: sequence %d has %d tokens but its mask %d", b, len(s), len(masks[b]))
			}
			if m.arch.posFromMask && slices.Contains(masks[b], 0) {
				return nil, fmt.Errorf("probe: %s: sequence %d has a mask with zeros, but the model counts its learned positions over the mask's kept positions, which this engine does not", modelName(m.g), b)
			}
			info[b].mask = masks[b]
		}
		if sp.start != nil {
			if len(sp.start[b]) != len(s) {
				return nil, fmt.Errorf("probe: sequence %d has %d tokens and %d hidden states", b, len(s), len(sp.start[b]))
			}
			for t, h := range sp.start[b] {
				if len(h) != m.arch.D {
					return nil, fmt.Errorf("probe: sequence %d position %d: a hidden state of width %d, the model's is %d", b, t, len(h), m.arch.D)
				}
			}
		}
		total += len(s)
	}
	if m.w32 != nil {
		return forward(m, m.w32, seqs, info, total, hidden, sp)
	}
	return forward(m, m.w64, seqs, info, total, hidden, sp)
}

func toF64[T float](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// embed writes hidden state 0 of every row n into x: the embedding row of
// ids[n] (times the embedding scale where the family has one), plus the
// learned position pos[n] and token type 0 where the model has them (HF
// order: (word + token_type) + position), then BERT's embedding LayerNorm.
func embed[T float](a *arch, w *weights[T], ids, pos []int, x []T, growth *GrowthMasks) error {
	D := a.D
	if err := w.embed.gather(ids, x); err != nil {
		return err
	}
	scale := T(a.embScale)
	for n := range ids {
		row := x[n*D : (n+1)*D]
		if a.embScale != 1 {
			for i := range row {
				row[i] *= scale
			}
		}
		if !a.learned {
			continue
		}
		pr := w.pos[pos[n]*D : (pos[n]+1)*D]
		if w.tokType != nil {
			tr := w.tokType[:D]
			for i := range row {
				row[i] = row[i] + tr[i] + pr[i]
			}
		} else {
			for i := range row {
				row[i] += pr[i]
			}
		}
	}
	var hidden []float64
	if growth != nil {
		hidden = growth.Hidden
	}
	if w.tokType != nil {
		maskedNormRows(w.embNorm, false, a.eps, hidden, x, len(ids), D, x)
		return nil
	}
	maskRows(x, hidden, len(ids), D)
	return nil
}

// forward is the span sp of a pass in precision T over the concatenated
// batch. Result.Hidden[j] is nil for the hidden states j outside the span.
func forward[T float](m *Model, w *weights[T], seqs [][]int, info []seqInfo, N int, hidden bool, sp span) ([]*Result, error) {
	a := &m.arch
	D, H, K, d, I := a.D, a.H, a.K, a.d, a.I
	qkvW := (H + 2*K) * d
	x := make([]T, N*D)
	h := make([]T, N*D)
	qkv := make([]T, N*qkvW)
	att := make([]T, N*H*d)
	upW := I
	if a.gated {
		upW = 2 * I
	}
	ff := make([]T, N*upW)
	act := make([]T, N*I)
	var par []T // the attention's output, while the MLP runs beside it
	if a.parallel {
		par = make([]T, N*D)
	}

	res := make([]*Result, len(seqs))
	for b := range res {
		res[b] = &Result{}
		if hidden {
			res[b].Hidden = make([][][]float64, a.L+1)
		}
	}
	record := func(j int) {
		if !hidden {
			return
		}
		for b, s := range info {
			rows := make([][]float64, s.n)
			for t := range rows {
				rows[t] = toF64(x[(s.off+t)*D : (s.off+t+1)*D])
			}
			res[b].Hidden[j] = rows
		}
	}
	sc := &scratch[T]{}

	// Embeddings.
	ids := make([]int, N)
	pos := make([]int, N)
	for b, s := range info {
		for t, id := range seqs[b] {
			ids[s.off+t], pos[s.off+t] = id, t
		}
	}
	gm := m.growth
	if gm == nil {
		gm = &GrowthMasks{}
	}
	if sp.start == nil {
		if sp.from != 0 {
			return nil, fmt.Errorf("probe: a pass from block %d needs its hidden states", sp.from)
		}
		if err := embed(a, w, ids, pos, x, m.growth); err != nil {
			return nil, err
		}
	} else {
		for b, s := range info {
			for t, h := range sp.start[b] {
				row := x[(s.off+t)*D : (s.off+t+1)*D]
				for i, v := range h {
					row[i] = T(v)
				}
			}
		}
	}
	record(sp.from)

	var cos, sin []T
	if a.rope {
		maxN := 0
		for _, s := range info {
			maxN = max(maxN, s.n)
		}
		cos, sin = ropeTables[T](m, maxN)
	}

	// residual adds a sublayer's output h to the stream x: pre-LN in place,
	// after out (its output norm, family.NormsOut), post-LN (BERT) as
	// x = LayerNorm(x + h).
	residual := func(n, out norm[T]) {
		if a.outNorms {
			maskedNormRows(out, a.rms, a.eps, gm.Hidden, h, N, D, h)
		}
		if a.postLN {
			for i := range h {
				h[i] += x[i]
			}
			maskedNormRows(n, false, a.eps, gm.Hidden, h, N, D, x)
			return
		}
		for i := range h {
			x[i] += h[i]
		}
	}
	observe := func(l int, s Site, v []T, width int) {
		if m.Observe != nil {
			m.Observe(l, s, toF64(v[:N*width]), N, width)
		}
	}
	var prev []T // the block's input, for a growth mask below 1
	for l := sp.from; l < sp.to; l++ {
		ly := &w.layers[l]
		if gm.Layers != nil && gm.Layers[l] != 1 {
			prev = append(prev[:0], x...)
		}
		// Attention.
		in := x
		if !a.postLN && !a.outNorms {
			maskedNormRows(ly.attnNorm, a.rms, a.eps, gm.Hidden, x, N, D, h)
			in = h
		}
		observe(l, AttnInput, in, D)
		if err := ly.qkv.apply(in, N, qkv, sc); err != nil {
			return nil, err
		}
		if gm.Q != nil || gm.KV != nil {
			maskQKV(qkv, gm.Q, gm.KV, N, H, K, d)
		}
		if a.qkWhole {
			// The whole query and key projections, each over its width.
			parRows(N, (H+K)*d*4, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					q := qkv[r*qkvW : r*qkvW+H*d]
					k := qkv[r*qkvW+H*d : r*qkvW+(H+K)*d]
					normRange(ly.qNorm, a.rms, a.eps, q, 0, 1, H*d, q)
					normRange(ly.kNorm, a.rms, a.eps, k, 0, 1, K*d, k)
				}
			})
		} else if a.qkNorm {
			// Each query head, then each key head, normalised over its d dims.
			parRows(N, (H+K)*d*4, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					q := qkv[r*qkvW : r*qkvW+H*d]
					k := qkv[r*qkvW+H*d : r*qkvW+(H+K)*d]
					normRange(ly.qNorm, a.rms, a.eps, q, 0, H, d, q)
					normRange(ly.kNorm, a.rms, a.eps, k, 0, K, d, k)
				}
			})
		}
		if a.rope {
			// The first a.rot dims of each head rotate; the rest pass.
			half := a.rot / 2
			parRows(N, (H+K)*d*4, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					row := qkv[r*qkvW : (r+1)*qkvW]
					t := pos[r]
					c, sn := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
					for hh := 0; hh < H+K; hh++ { // q heads then k heads
						applyRope(row[hh*d:hh*d+a.rot], c, sn)
					}
				}
			})
		}
		attention(a, info, qkv, att, T(a.attnScale[l]))
		observe(l, Heads, att, H*d)
		if err := ly.o.apply(att, N, h, sc); err != nil {
			return nil, err
		}
		maskRows(h, gm.Hidden, N, D)
		if a.parallel {
			copy(par, h) // added with the MLP's output
		} else {
			residual(ly.attnNorm, ly.attnOut)
		}
		// MLP.
		in = x
		if !a.postLN && !a.outNorms {
			maskedNormRows(ly.mlpNorm, a.rms, a.eps, gm.Hidden, x, N, D, h)
			in = h
		}
		observe(l, MLPInput, in, D)
		if err := ly.up.apply(in, N, ff, sc); err != nil {
			return nil, err
		}
		if a.gated {
			parRows(N, I*20, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					g, u, o := ff[r*upW:r*upW+I], ff[r*upW+I:(r+1)*upW], act[r*I:(r+1)*I]
					for i := range o {
						o[i] = T(a.act(float64(g[i]))) * u[i]
					}
				}
			})
			maskRows(act, gm.FFN, N, I)
		} else {
			maskRows(ff, gm.FFN, N, I)
			parRows(N, I*20, func(lo, hi int) {
				for i := lo * I; i < hi*I; i++ {
					act[i] = T(a.act(float64(ff[i])))
				}
			})
		}
		observe(l, Units, act, I)
		if err := ly.down.apply(act, N, h, sc); err != nil {
			return nil, err
		}
		maskRows(h, gm.Hidden, N, D)
		if a.parallel {
			// transformers: mlp_output + attn_output + hidden_states
			for i := range h {
				h[i] += par[i]
			}
		}
		residual(ly.mlpNorm, ly.mlpOut)
		if gm.Layers != nil && gm.Layers[l] != 1 {
			blend(x, prev, gm.Layers[l])
		}
		record(l + 1)
	}
	if !sp.head {
		return res, nil
	}

	// Output.
	out := x
	switch {
	case !a.postLN:
		maskedNormRows(w.final, a.rms, a.eps, gm.Hidden, x, N, D, h)
		out = h
	case a.hasMLM:
		if err := w.mlm.apply(x, N, h, sc); err != nil {
			return nil, err
		}
		for i, v := range h {
			h[i] = T(a.act(float64(v)))
		}
		maskedNormRows(w.mlmNorm, false, a.eps, gm.Hidden, h, N, D, h)
		out = h
	}
	width := D
	if w.head.present() {
		width = a.V
		logits := make([]T, N*width)
		if err := w.head.apply(out, N, logits, sc); err != nil {
			return nil, err
		}
		out = logits
	}
	for b, s := range info {
		res[b].Logits = make([][]float64, s.n)
		for t := range res[b].Logits {
			res[b].Logits[t] = toF64(out[(s.off+t)*width : (s.off+t+1)*width])
		}
	}
	return res, nil
}

// softmaxRow replaces the scores x by exp(x - max x) and returns their sum.
func softmaxRow[T float](x []T, f32 bool) float64 {
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
	m := float64(mx)
	var sum float64
	if f32 {
		for t, v := range x {
			e := exp32(float64(v) - m)
			x[t] = T(e)
			sum += e
		}
		return sum
	}
	for t, v := range x {
		e := fastExp(float64(v) - m)
		x[t] = T(e)
		sum += e
	}
	return sum
}

// attention computes softmax(q·kᵀ·scale + mask)·v for every sequence and query
// head from the fused qkv rows into att ([N, H·d], heads concatenated). Query
// head i reads key/value head i/(H/K).
//
// One job is one (sequence, key/value head): its keys and values are gathered
// transposed ([d, n]), so that a score row is d long vector updates over the
// visible keys and an output is d dot products over them, whatever the head
// size; causal rows stop at the diagonal. Jobs run on GOMAXPROCS goroutines.
func attention[T float](a *arch, info []seqInfo, qkv, att []T, scale T) {
	H, K, d := a.H, a.K, a.d
	qkvW := (H + 2*K) * d
	g := H / K
	// A job is one sequence and one key/value head with its query heads
	// [h0, h1); with few sequences and key/value heads, one query head each, so
	// that every core gets work.
	type job struct{ seq, kv, h0, h1 int }
	workers := runtime.GOMAXPROCS(0)
	perHead := len(info)*K < 2*workers && g > 1
	jobs := make([]job, 0, len(info)*H)
	maxN, work := 0, 0
	for b, s := range info {
		maxN = max(maxN, s.n)
		work += s.n * s.n * d * H
		for kv := 0; kv < K; kv++ {
			if perHead {
				for hq := kv * g; hq < (kv+1)*g; hq++ {
					jobs = append(jobs, job{b, kv, hq, hq + 1})
				}
			} else {
				jobs = append(jobs, job{b, kv, kv * g, (kv + 1) * g})
			}
		}
	}
	const qBlock = 32 // query rows per score block
	_, f32 := any(qkv).([]float32)
	run := func(j job, buf []T) {
		s := info[j.seq]
		n := s.n
		kt, vt, sc := buf[:d*n], buf[d*maxN:d*maxN+d*n], buf[2*d*maxN:]
		q := buf[2*d*maxN+qBlock*maxN : 2*d*maxN+qBlock*maxN+qBlock*d]
		inv := buf[2*d*maxN+qBlock*maxN+qBlock*d:]
		base := s.off * qkvW
		for t := 0; t < n; t++ {
			row := qkv[base+t*qkvW:]
			k := row[(H+j.kv)*d : (H+j.kv+1)*d]
			v := row[(H+K+j.kv)*d : (H+K+j.kv+1)*d]
			for c := 0; c < d; c++ {
				kt[c*n+t] = k[c]
				vt[c*n+t] = v[c]
			}
		}
		for hq := j.h0; hq < j.h1; hq++ {
			for i0 := 0; i0 < n; i0 += qBlock {
				i1 := min(i0+qBlock, n)
				bq := i1 - i0
				keys := n // keys visible to the block
				if a.causal {
					keys = i1
				}
				// Scores of the block: q rows [bq, d] · kt [d, keys], scaled.
				for i := 0; i < bq; i++ {
					copy(q[i*d:(i+1)*d], qkv[base+(i0+i)*qkvW+hq*d:base+(i0+i)*qkvW+(hq+1)*d])
				}
				gemm(blas.NoTrans, blas.NoTrans, bq, keys, d, scale, q, d, kt, n, 0, sc, keys)
				for i := 0; i < bq; i++ {
					hi := keys
					if a.causal {
						hi = i0 + i + 1
					}
					row := sc[i*keys : (i+1)*keys]
					if s.mask == nil {
						inv[i] = T(1 / softmaxRow(row[:hi], f32))
						clear(row[hi:])
						continue
					}
					mx := math.Inf(-1)
					for t, v := range row[:hi] {
						if s.mask[t] != 0 && float64(v) > mx {
							mx = float64(v)
						}
					}
					if math.IsInf(mx, -1) {
						// Nothing visible: uniform over the keys the causal mask
						// allows (all keys for BERT), as transformers' additive
						// mask gives.
						for t := range row {
							row[t] = 0
							if t < hi {
								row[t] = 1
							}
						}
						inv[i] = T(1 / float64(hi))
						continue
					}
					var sum float64
					for t, v := range row[:hi] {
						if s.mask[t] == 0 {
							row[t] = 0
							continue
						}
						var e float64
						if f32 {
							e = exp32(float64(v) - mx)
						} else {
							e = fastExp(float64(v) - mx)
						}
						row[t] = T(e)
						sum += e
					}
					inv[i] = T(1 / sum)
					clear(row[hi:])
				}
				// Outputs: probabilities [bq, keys] · vtᵀ ([keys, d]).
				// Unnormalised weights: each output row is scaled by 1/Σ after.
				out := att[(s.off+i0)*H*d+hq*d:]
				gemm(blas.NoTrans, blas.Trans, bq, d, keys, 1, sc, keys, vt, n, 0, out, H*d)
				for i := 0; i < bq; i++ {
					o := out[i*H*d : i*H*d+d]
					for c := range o {
						o[c] *= inv[i]
					}
				}
			}
		}
	}
	bufLen := 2*d*maxN + qBlock*maxN + qBlock*d + qBlock
	if workers > len(jobs) {
		workers = len(jobs)
	}
	if workers <= 1 || work < 1<<15 {
		buf := make([]T, bufLen)
		for _, j := range jobs {
			run(j, buf)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan job, len(jobs))
	for _, j := range jobs {
		next <- j
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]T, bufLen)
			for j := range next {
				run(j, buf)
			}
		}()
	}
	wg.Wait()
}
