package probe

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"

	"github.com/grow-ml/grow/graph"
	kernels "github.com/grow-ml/grow/internal/gemm"
)

// blockValues bounds the values of one block of a streamed matrix: a
// streaming pass decodes at most this many weights at a time (32 MiB in
// float64), whatever the model's size.
var blockValues = 1 << 22

// matrix is a weight matrix W, [rows, in] as the graph has it. A resident
// matrix holds its decoded values; a streamed one holds its tensor and
// decodes it block by block each time it is used, so that a forward pass
// holds one block at a time:
//   - rows: a tensor that reads a range of its rows (graph.RowReaderOf)
//     is read in blocks of rows, each multiplied as it comes;
//   - stored: a transposed view of a checkpoint matrix stored [in, out] (GPT-2's
//     Conv1D), possibly a range [lo, hi) of its stored columns, is read in
//     blocks of stored rows, each a block of the inner dimension, the products
//     summed;
//   - otherwise the tensor is decoded whole for each use.
type matrix[T float] struct {
	w        []T // resident values, [rows, in] row-major
	t        graph.Tensor
	rows, in int
	role     string
	rr       graph.RowReader
	stored   *graph.View // the untransposed view of a transposed one
	col      int         // the first stored column of a transposed view
}

// newMatrix returns t as a matrix, decoded now unless stream.
func newMatrix[T float](t graph.Tensor, role string, stream bool) (matrix[T], error) {
	s := t.Shape()
	m := matrix[T]{t: t, rows: s[0], in: s[1], role: role}
	if !stream {
		var err error
		m.w, err = data[T](t, role)
		return m, err
	}
	if rr, ok := graph.RowReaderOf(t); ok {
		m.rr = rr
	} else if v, ok := t.(*graph.View); ok && v.Transposed && v.Stride == 0 && len(v.Src.Shape) == 2 {
		m.stored = graph.NewView(v.Src)
		m.col = v.Lo
	}
	return m, nil
}

// resident reports whether the values are held.
func (m *matrix[T]) resident() bool { return m.w != nil }

// readRows decodes rows [lo, hi) into dst ((hi−lo)·in values).
func (m *matrix[T]) readRows(dst []T, lo, hi int) error {
	switch {
	case m.resident():
		copy(dst, m.w[lo*m.in:hi*m.in])
		return nil
	case m.rr != nil:
		return m.readRowsPar(dst, lo, hi)
	}
	all, err := data[T](m.t, m.role)
	if err != nil {
		return err
	}
	copy(dst, all[lo*m.in:hi*m.in])
	return nil
}

// gather writes row ids[n] of the matrix to x[n·in:(n+1)·in] for every n:
// rows of consecutive ids read together, or, for a tensor that cannot read
// rows alone, one decode of the whole tensor for all of them.
func (m *matrix[T]) gather(ids []int, x []T) error {
	if !m.resident() && m.rr == nil {
		all, err := data[T](m.t, m.role)
		if err != nil {
			return err
		}
		for n, id := range ids {
			copy(x[n*m.in:(n+1)*m.in], all[id*m.in:(id+1)*m.in])
		}
		return nil
	}
	for n := 0; n < len(ids); {
		k := 1
		for n+k < len(ids) && ids[n+k] == ids[n]+k {
			k++
		}
		if err := m.readRows(x[n*m.in:(n+k)*m.in], ids[n], ids[n]+k); err != nil {
			return err
		}
		n += k
	}
	return nil
}

// readRowsPar decodes rows [lo, hi) through the row reader, in parallel
// parts on GOMAXPROCS goroutines when they are many (decoding is most of a
// streamed pass's time besides the products), and checks them.
func (m *matrix[T]) readRowsPar(dst []T, lo, hi int) error {
	parts := min(runtime.GOMAXPROCS(0), max(1, (hi-lo)*m.in/(1<<16)), hi-lo)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		a, b := lo+p*(hi-lo)/parts, lo+(p+1)*(hi-lo)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := dst[(a-lo)*m.in : (b-lo)*m.in]
			if err := graph.ReadRows(m.rr, buf, a, b); err != nil {
				errs[p] = fmt.Errorf("probe: reading %s: %w", m.role, err)
				return
			}
			errs[p] = checkFiniteAt(buf, m.t, m.role, a*m.in)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// scratch is a forward pass's buffer for the blocks of streamed matrices.
type scratch[T float] struct{ buf []T }

func (s *scratch[T]) get(n int) []T {
	if cap(s.buf) < n {
		s.buf = make([]T, n)
	}
	return s.buf[:n]
}

// mul computes y = x·Wᵀ + beta·y for the n rows of x ([n, in]); y's rows are
// ldy apart.
func (m *matrix[T]) mul(x []T, n int, y []T, ldy int, beta T, s *scratch[T]) error {
	switch {
	case m.resident():
		gemm(blas.NoTrans, blas.Trans, n, m.rows, m.in, 1, x, m.in, m.w, m.in, beta, y, ldy)
	case m.rr != nil:
		step := max(1, blockValues/m.in)
		for r0 := 0; r0 < m.rows; r0 += step {
			r1 := min(r0+step, m.rows)
			buf := s.get((r1 - r0) * m.in)
			if err := m.readRows(buf, r0, r1); err != nil {
				return err
			}
			gemm(blas.NoTrans, blas.Trans, n, r1-r0, m.in, 1, x, m.in, buf, m.in, beta, y[r0:], ldy)
		}
	case m.stored != nil:
		// Stored [in, cols]: block k of stored rows is inner dims [k0, k1);
		// y += x[:, k0:k1] · S[k0:k1, col:col+rows].
		// Blocks are cut at multiples of kernels.KStep, so that the sums
		// are those of one product.
		cols := m.stored.Src.Shape[1]
		step := max(kernels.KStep, blockValues/cols/kernels.KStep*kernels.KStep)
		for k0 := 0; k0 < m.in; k0 += step {
			k1 := min(k0+step, m.in)
			buf := s.get((k1 - k0) * cols)
			if err := m.readStored(buf, k0, k1, cols); err != nil {
				return err
			}
			gemm(blas.NoTrans, blas.NoTrans, n, m.rows, k1-k0, 1, x[k0:], m.in, buf[m.col:], cols, beta, y, ldy)
			beta = 1
		}
	default:
		w, err := data[T](m.t, m.role)
		if err != nil {
			return err
		}
		gemm(blas.NoTrans, blas.Trans, n, m.rows, m.in, 1, x, m.in, w, m.in, beta, y, ldy)
	}
	return nil
}

// readStored decodes stored rows [k0, k1) of a transposed view's tensor and
// checks the view's own columns of them.
func (m *matrix[T]) readStored(buf []T, k0, k1, cols int) error {
	if err := graph.ReadRows(m.stored, buf, k0, k1); err != nil {
		return fmt.Errorf("probe: reading %s: %w", m.role, err)
	}
	var first error
	count := 0
	for k := k0; k < k1; k++ {
		row := buf[(k-k0)*cols+m.col : (k-k0)*cols+m.col+m.rows]
		for j, v := range row {
			if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
				continue
			}
			count++
			if first == nil {
				// Element (j, k) of the view, named as checkFinite names it.
				first = checkFiniteAt([]T{v}, m.t, m.role, j*m.in+k)
			}
		}
	}
	if e, ok := first.(*NonFiniteError); ok {
		e.Count = count
	}
	return first
}

// linear is y = x·Wᵀ + b with W the rows of its parts one after the other
// (q | k | v, gate | up): [out, in].
type linear[T float] struct {
	parts   []matrix[T]
	b       []T // nil without a bias
	in, out int
}

// present reports whether the map has weights.
func (l *linear[T]) present() bool { return len(l.parts) > 0 }

// apply computes y = x·Wᵀ + b for the n rows of x ([n, l.in]) into y ([n, l.out]).
func (l *linear[T]) apply(x []T, n int, y []T, s *scratch[T]) error {
	y = y[:n*l.out]
	beta := T(0)
	if l.b != nil {
		for r := 0; r < n; r++ {
			copy(y[r*l.out:(r+1)*l.out], l.b)
		}
		beta = 1
	}
	col := 0
	for k := range l.parts {
		p := &l.parts[k]
		if err := p.mul(x, n, y[col:], l.out, beta, s); err != nil {
			return err
		}
		col += p.rows
	}
	return nil
}

// newLinear builds one linear map from the [out_k, in] parts (biases
// concatenated, zero where a part has none; nil when no part has one),
// decoded now unless stream.
func newLinear[T float](role string, in int, stream bool, parts ...graph.Linear) (linear[T], error) {
	l := linear[T]{in: in}
	hasBias := false
	for _, p := range parts {
		l.out += p.W.Shape()[0]
		hasBias = hasBias || !isNil(p.B)
	}
	if hasBias {
		l.b = make([]T, l.out)
	}
	col := 0
	for k, p := range parts {
		name := fmt.Sprintf("%s[%d]", role, k)
		m, err := newMatrix[T](p.W, name+".weight", stream)
		if err != nil {
			return l, err
		}
		l.parts = append(l.parts, m)
		if !isNil(p.B) {
			b, err := data[T](p.B, name+".bias")
			if err != nil {
				return l, err
			}
			copy(l.b[col:col+m.rows], b)
		}
		col += m.rows
	}
	return l, nil
}
