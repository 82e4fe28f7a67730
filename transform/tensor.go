package transform

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"unsafe"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// lazy is a computed tensor: its data is produced on every call by gen, so that
// nothing is held in memory between calls.
type lazy struct {
	shape []int
	dt    checkpoint.DType
	gen32 func() ([]float32, error)
	gen64 func() ([]float64, error)
	// block32, when not nil, computes the leading rows of the tensor, which the
	// whole tensor repeats reps times (a row-tiled matrix): writing the block
	// reps times writes the tensor without materializing the copies.
	block32 func() (v []float32, reps int, err error)

	mu      sync.Mutex
	pending chan result32 // a prefetched result, taken by the next call
	lease   []float32     // a prefetched result handed out, returned to the pool by Pipeline
}

type result32 struct {
	v    []float32
	reps int // 0 for the whole tensor, else the block's repeat count
	err  error
}

func (t *lazy) Shape() []int            { return t.shape }
func (t *lazy) DType() checkpoint.DType { return t.dt }

// Float32 computes the data, or takes the result a prefetch computed.
func (t *lazy) Float32() ([]float32, error) {
	v, reps, err := t.take(false)
	if err == nil && reps != 0 {
		return nil, fmt.Errorf("expand: internal error: block result for a whole tensor")
	}
	return v, err
}

// take returns a prefetched result when there is one of the wanted kind (the
// whole tensor, or its repeated block), and computes it otherwise. A prefetched
// result is leased: Pipeline returns its buffer to the pool after writing.
func (t *lazy) take(block bool) ([]float32, int, error) {
	t.mu.Lock()
	ch := t.pending
	t.pending = nil
	t.mu.Unlock()
	if ch != nil {
		r := <-ch
		if (r.reps != 0) == block {
			t.mu.Lock()
			t.lease = r.v
			t.mu.Unlock()
			return r.v, r.reps, r.err
		}
		if r.err == nil {
			f32Pool.put(r.v)
		}
	}
	if block {
		return t.block32()
	}
	v, err := t.gen32()
	return v, 0, err
}

// release returns a prefetched result that has been consumed to the pool.
func (t *lazy) release() {
	t.mu.Lock()
	b := t.lease
	t.lease = nil
	t.mu.Unlock()
	if b != nil {
		f32Pool.put(b)
	}
}

func (t *lazy) Float64() ([]float64, error) { return t.gen64() }

// prefetch starts computing the float32 data (or, with block, the repeated
// block) on another goroutine; the next Float32 or take call takes the result.
func (t *lazy) prefetch(block bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending != nil {
		return
	}
	ch := make(chan result32, 1)
	t.pending = ch
	go func() {
		if block {
			v, reps, err := t.block32()
			ch <- result32{v, reps, err}
			return
		}
		v, err := t.gen32()
		ch <- result32{v: v, err: err}
	}()
}

// float is the element type a kernel computes into; arithmetic is float64.
type float interface{ ~float32 | ~float64 }

// alloc returns a slice of length n, from the buffer pool for float32; it is
// zeroed when zero is set (otherwise the caller writes every element).
func alloc[T float](n int, zero bool) []T {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(f32Pool.get(n, zero)).([]T)
	}
	return make([]T, n)
}

// growPlain grows a matrix without perturbations or new indices: every output
// row is source row idx[o'] divided column-wise by the copy counts and gathered.
// Each source row is computed once and copied to its other copies; both passes
// run on all cores for large matrices.
func growPlain[T float](w, out []T, I int, r *matrixRule) {
	I2 := r.cols.dst
	tiled := isTile(r.cols)
	firstOf := make([]int, r.rows.src)
	for i := range firstOf {
		firstOf[i] = -1
	}
	var firsts, dups []int
	for o2, s := range r.rows.idx {
		if firstOf[s] < 0 {
			firstOf[s] = o2
			firsts = append(firsts, o2)
		} else {
			dups = append(dups, o2)
		}
	}
	workers := 1
	if len(out) >= 1<<20 {
		workers = runtime.GOMAXPROCS(0)
	}
	parallel(len(firsts), workers, func(lo, hi int) {
		scaled := make([]T, I)
		for _, o2 := range firsts[lo:hi] {
			s := r.rows.idx[o2]
			spreadRow(out[o2*I2:(o2+1)*I2], w[s*I:(s+1)*I], scaled, r.cols, tiled)
		}
	})
	parallel(len(dups), workers, func(lo, hi int) {
		for _, o2 := range dups[lo:hi] {
			f := firstOf[r.rows.idx[o2]]
			copy(out[o2*I2:(o2+1)*I2], out[f*I2:(f+1)*I2])
		}
	})
}

// parallel runs f over [0, n) split into at most workers contiguous parts.
func parallel(n, workers int, f func(lo, hi int)) {
	if workers <= 1 || n < 2*workers {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, min(lo+step, n))
	}
	wg.Wait()
}

// sliceWriter copies what is written into a fixed byte slice.
type sliceWriter struct {
	b []byte
	n int
}

func (s *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(s.b)-s.n {
		return 0, io.ErrShortWrite
	}
	s.n += copy(s.b[s.n:], p)
	return len(p), nil
}

// readOwned reads a float32 source tensor stored as F32 straight into a pooled
// buffer (its bytes are the values on little-endian machines); ok is false
// when t is not such a tensor. The caller owns the buffer.
func readOwned(t graph.Tensor) (v []float32, ok bool, err error) {
	w, isView := t.(*graph.View)
	if !isView || !w.Whole() || w.Src.DType != checkpoint.F32 || !littleEndian {
		return nil, false, nil
	}
	n := w.Src.NumElements()
	if n == 0 {
		return nil, false, nil
	}
	v = f32Pool.get(n, false)
	sw := &sliceWriter{b: unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*n)}
	if _, err := w.Src.WriteTo(sw); err != nil {
		f32Pool.put(v)
		return nil, false, err
	}
	if sw.n != 4*n {
		f32Pool.put(v)
		return nil, false, fmt.Errorf("tensor %q: read %d bytes, want %d", w.Src.Name, sw.n, 4*n)
	}
	return v, true, nil
}

func read[T float](t graph.Tensor) ([]T, error) {
	var z T
	switch any(z).(type) {
	case float32:
		v, err := t.Float32()
		return any(v).([]T), err
	default:
		v, err := t.Float64()
		return any(v).([]T), err
	}
}

// spreadRow writes the source row srow over the column map cols into dst:
// every value divided by the number of copies of its column (the fan-in
// division), as whole copies of the row when tiled, else column by column.
// scaled is scratch of len(srow).
func spreadRow[T float](dst, srow, scaled []T, cols *Map, tiled bool) {
	for j, v := range srow {
		if c := cols.count[j]; c == 1 {
			scaled[j] = v
		} else {
			scaled[j] = T(float64(v) / float64(c))
		}
	}
	if tiled {
		for k := 0; k < len(dst); k += len(srow) {
			copy(dst[k:], scaled)
		}
		return
	}
	for i2, j := range cols.idx {
		dst[i2] = scaled[j]
	}
}

// rms is the root mean square of w (0 for an empty w), summed in float64.
func rms[T float](w []T) float64 {
	s := 0.0
	for _, v := range w {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(1, len(w))))
}

// rng returns the deterministic random source of one tensor.
func rng(seed int64, role string) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, role)
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

// matrixRule is how one [out, in] matrix is grown.
type matrixRule struct {
	rows, cols *Map
	perturb    PerturbKind
	// rel is the perturbation's standard deviation relative to rms(W)/copies
	// (noise: 10^(-snr/20); split: the split scale).
	rel float64
	// freeStd is the standard deviation of free values relative to rms(W)
	// (absRandom false) or absolute (absRandom true); 0 writes zeros.
	freeStd   float64
	absRandom bool
	seed      int64
	role      string
	// colsProduce: the column axis is an output (embedding columns): copied
	// without division, new columns filled by cols.produce per row.
	colsProduce bool
	// cancel: the source's values are not copied, only the perturbation
	// over the copies of each input is written (LEMON's cancelzero output
	// projections: R_k − mean R, which the copies' equal inputs cancel);
	// the source sets its scale.
	cancel bool
}

// growMatrix computes W' from W [O, I] under rule r.
func growMatrix[T float](src graph.Tensor, r *matrixRule) ([]T, error) {
	sh := src.Shape()
	if len(sh) != 2 || sh[0] != r.rows.src || sh[1] != r.cols.src {
		return nil, fmt.Errorf("expand: %s: shape %v, want [%d %d]", r.role, sh, r.rows.src, r.cols.src)
	}
	var w []T
	var z T
	if _, ok := any(z).(float32); ok {
		v, owned, err := readOwned(src)
		if err != nil {
			return nil, fmt.Errorf("expand: %s: %w", r.role, err)
		}
		if owned {
			w = any(v).([]T)
			defer f32Pool.put(v)
		}
	}
	if w == nil {
		var err error
		if w, err = read[T](src); err != nil {
			return nil, fmt.Errorf("expand: %s: %w", r.role, err)
		}
	}
	O, I := sh[0], sh[1]
	O2, I2 := r.rows.dst, r.cols.dst
	full := !hasNew(r.rows) && !hasNew(r.cols) // every element is written below
	newRows, err := newRowsOf(r.rows, r.role, w, O, I, r.cols)
	if err != nil {
		return nil, err
	}
	if r.colsProduce {
		return produceColumns(w, alloc[T](O2*I2, !full), O, I, r, newRows), nil
	}
	if full && r.perturb == NoPerturb {
		out := alloc[T](O2*I2, false)
		growPlain(w, out, I, r)
		return out, nil
	}
	out := alloc[T](O2*I2, true)

	needScale := r.perturb != NoPerturb || r.freeStd > 0
	var wrms float64
	if needScale {
		wrms = rms(w)
	}
	var rnd *rand.Rand
	if needScale {
		rnd = rng(r.seed, r.role)
	}
	freeStd := r.freeStd
	if !r.absRandom {
		freeStd *= wrms
	}
	// per-column divisor: the copy count of the column's source
	div := make([]float64, I2)
	for i, j := range r.cols.idx {
		if j >= 0 {
			div[i] = float64(r.cols.count[j])
		}
	}
	var mean []float64
	if r.rows.produce == FillMean {
		mean = make([]float64, I)
		for o := 0; o < O; o++ {
			row := w[o*I : (o+1)*I]
			for i, v := range row {
				mean[i] += float64(v)
			}
		}
		for i := range mean {
			mean[i] /= float64(O)
		}
	}
	meanCount := 1.0
	if len(r.cols.count) > 0 {
		meanCount = float64(I2) / float64(I)
	}
	pstd := r.rel * wrms / meanCount
	rowBuf := make([]float64, I)
	pert := make([]float64, I2)
	// Without perturbations or new columns every output row is a function of
	// its source row alone: compute each source row once (scaled, gathered) and
	// copy it to its other copies.
	plain := r.perturb == NoPerturb && !hasNew(r.cols)
	tiled := plain && isTile(r.cols)
	var first []int
	if plain {
		first = make([]int, O)
		for j := range first {
			first[j] = -1
		}
	}
	scaled := make([]T, I)
	for o2 := 0; o2 < O2; o2++ {
		dst := out[o2*I2 : (o2+1)*I2]
		s := r.rows.idx[o2]
		var row []float64
		if s < 0 && newRows != nil {
			for i, v := range newRows[0] {
				dst[i] = T(v)
			}
			newRows = newRows[1:]
			continue
		}
		if s >= 0 {
			srow := w[s*I : (s+1)*I]
			if plain {
				if f := first[s]; f >= 0 {
					copy(dst, out[f*I2:(f+1)*I2])
					continue
				}
				first[s] = o2
				spreadRow(dst, srow, scaled, r.cols, tiled)
				continue
			}
			for i, v := range srow {
				rowBuf[i] = float64(v)
			}
			if r.cancel {
				clear(rowBuf)
			}
			row = rowBuf
		} else {
			switch r.rows.produce {
			case FillMean:
				row = mean
			case FillFree:
				if freeStd > 0 {
					for i2 := range dst {
						dst[i2] = T(rnd.NormFloat64() * freeStd)
					}
				}
				continue
			default:
				continue // zero row
			}
		}
		for i := range pert {
			pert[i] = 0
		}
		switch r.perturb {
		case Noise:
			for _, cp := range r.cols.copies {
				for p := 0; p+1 < len(cp); p += 2 {
					n := rnd.NormFloat64() * pstd
					pert[cp[p]] += n
					pert[cp[p+1]] -= n
				}
			}
		case Split:
			for _, cp := range r.cols.copies {
				if len(cp) < 2 {
					continue
				}
				m := 0.0
				for _, i2 := range cp {
					v := rnd.NormFloat64() * pstd
					pert[i2] = v
					m += v
				}
				m /= float64(len(cp))
				for _, i2 := range cp {
					pert[i2] -= m
				}
			}
		}
		for i2, j := range r.cols.idx {
			if j >= 0 {
				dst[i2] = T(row[j]/div[i2] + pert[i2])
				continue
			}
			if r.cols.consume == FillFree && freeStd > 0 {
				dst[i2] = T(rnd.NormFloat64() * freeStd)
			}
		}
	}
	return out, nil
}

func hasNew(m *Map) bool {
	for _, j := range m.idx {
		if j < 0 {
			return true
		}
	}
	return false
}

// vectorRule is how a vector over a produced axis is grown (biases, embedding
// rows are matrices). For norms, gain/fold apply.
type vectorRule struct {
	m *Map
	// norm: a norm gain (scale·fold on every entry; new entries from newGain).
	norm bool
	// bias of a norm: fold on copied entries, 0 on new ones.
	normBias bool
	scale    float64 // sqrt(s) for norm gains
	fold     float64 // 1/q folded into a final norm (1 otherwise)
	// newGain: "cyclic" (scale·fold·w[i mod src]) or "zero" for new norm entries.
	newCyclic bool
	// newOne: new norm entries are 1 (newCyclic and newOne unset: 0).
	newOne bool
	// plusOne: the norm applies its gain as 1 + w (Gemma), so a scaled gain
	// is (1 + w)·scale − 1 and a gain meant to be 0 is stored as −1.
	plusOne bool
	freeStd float64
	seed    int64
	role    string
}

func growVector[T float](src graph.Tensor, r *vectorRule) ([]T, error) {
	sh := src.Shape()
	if len(sh) != 1 || sh[0] != r.m.src {
		return nil, fmt.Errorf("expand: %s: shape %v, want [%d]", r.role, sh, r.m.src)
	}
	v, err := read[T](src)
	if err != nil {
		return nil, fmt.Errorf("expand: %s: %w", r.role, err)
	}
	out := make([]T, r.m.dst)
	newRows, err := newRowsOf(r.m, r.role, v, len(v), 1, nil)
	if err != nil {
		return nil, err
	}
	mult := 1.0
	if r.norm {
		mult = r.scale * r.fold
	} else if r.normBias {
		mult = r.fold
	}
	var mean float64
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(max(1, len(v)))
	var rnd *rand.Rand
	for i, j := range r.m.idx {
		switch {
		case j < 0 && newRows != nil:
			out[i] = T(newRows[0][0])
			newRows = newRows[1:]
		case j >= 0:
			switch {
			case mult == 1:
				out[i] = v[j]
			case r.norm && r.plusOne:
				out[i] = T((1+float64(v[j]))*mult - 1)
			default:
				out[i] = T(float64(v[j]) * mult)
			}
		case r.norm:
			switch {
			case r.newCyclic && r.plusOne:
				out[i] = T((1+float64(v[i%len(v)]))*mult - 1)
			case r.newCyclic:
				out[i] = T(float64(v[i%len(v)]) * mult)
			case r.newOne && r.plusOne:
				out[i] = 0
			case r.newOne:
				out[i] = 1
			case r.plusOne:
				out[i] = -1
			}
		case r.normBias:
		case r.m.produce == FillMean:
			out[i] = T(mean)
		case r.m.produce == FillFree && r.freeStd > 0:
			if rnd == nil {
				rnd = rng(r.seed, r.role)
			}
			out[i] = T(rnd.NormFloat64() * r.freeStd)
		}
	}
	return out, nil
}

func newLazyMatrix(src graph.Tensor, r *matrixRule) *lazy {
	l := &lazy{shape: []int{r.rows.dst, r.cols.dst}, dt: src.DType(),
		gen32: func() ([]float32, error) { return growMatrix[float32](src, r) },
		gen64: func() ([]float64, error) { return growMatrix[float64](src, r) }}
	// A plain matrix whose rows are tiled is its first rows.src rows repeated.
	O := r.rows.src
	if r.perturb == NoPerturb && !r.colsProduce && !hasNew(r.rows) && !hasNew(r.cols) &&
		r.rows.dst > O && r.rows.dst%O == 0 && isTile(r.rows) {
		br := *r
		br.rows = Identity(O)
		reps := r.rows.dst / O
		l.block32 = func() ([]float32, int, error) {
			v, err := growMatrix[float32](src, &br)
			return v, reps, err
		}
	}
	return l
}

func newLazyVector(src graph.Tensor, r *vectorRule) *lazy {
	return &lazy{shape: []int{r.m.dst}, dt: src.DType(),
		gen32: func() ([]float32, error) { return growVector[float32](src, r) },
		gen64: func() ([]float64, error) { return growVector[float64](src, r) }}
}

// produceColumns grows the column axis of an embedding-like matrix [rows, HID]
// whose columns are outputs: copies, and per-row mean / zero / free values;
// new rows are zero, or newRows (the row axis's row function) in order.
func produceColumns[T float](w, out []T, O, I int, r *matrixRule, newRows [][]float64) []T {
	if newRows != nil {
		k := 0
		for o2, s := range r.rows.idx {
			if s < 0 {
				for i, v := range newRows[k] {
					out[o2*r.cols.dst+i] = T(v)
				}
				k++
			}
		}
	}
	I2 := r.cols.dst
	var rnd *rand.Rand
	freeStd := r.freeStd
	if r.cols.produce == FillFree && freeStd > 0 {
		rnd = rng(r.seed, r.role)
		if !r.absRandom {
			freeStd *= rms(w)
		}
	}
	tiled := !hasNew(r.cols) && isTile(r.cols)
	if tiled && rnd == nil && r.cols.produce != FillMean {
		workers := 1
		if len(out) >= 1<<20 {
			workers = runtime.GOMAXPROCS(0)
		}
		parallel(r.rows.dst, workers, func(lo, hi int) {
			for o2 := lo; o2 < hi; o2++ {
				s := r.rows.idx[o2]
				if s < 0 {
					continue
				}
				dst, srow := out[o2*I2:(o2+1)*I2], w[s*I:(s+1)*I]
				for k := 0; k < I2; k += I {
					copy(dst[k:], srow)
				}
			}
		})
		return out
	}
	for o2 := 0; o2 < r.rows.dst; o2++ {
		s := r.rows.idx[o2]
		dst := out[o2*I2 : (o2+1)*I2]
		if s < 0 {
			continue
		}
		srow := w[s*I : (s+1)*I]
		if tiled {
			for k := 0; k < I2; k += I {
				copy(dst[k:], srow)
			}
			continue
		}
		mean := 0.0
		if r.cols.produce == FillMean {
			for _, v := range srow {
				mean += float64(v)
			}
			mean /= float64(I)
		}
		for i2, j := range r.cols.idx {
			switch {
			case j >= 0:
				dst[i2] = srow[j]
			case r.cols.produce == FillMean:
				dst[i2] = T(mean)
			case rnd != nil:
				dst[i2] = T(rnd.NormFloat64() * freeStd)
			}
		}
	}
	return out
}
