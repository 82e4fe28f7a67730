package checkpoint

import "math"

// Stats summarises the values of a float tensor.
type Stats struct {
	// Count is the number of elements; NaN, PosInf and NegInf count the
	// non-finite ones.
	Count, NaN, PosInf, NegInf int64
	// FirstNonFinite is the flat index of the first NaN or infinity, -1 when
	// there is none.
	FirstNonFinite int64
	// Min, Max and RMS are taken over the finite values (0 when there are none).
	Min, Max, RMS float64
}

// NonFinite returns the number of NaNs and infinities.
func (s Stats) NonFinite() int64 { return s.NaN + s.PosInf + s.NegInf }

// Stats reads the tensor's data once, in chunks, and summarises it;
// progress, when not nil, is told about every chunk's bytes. A tensor whose
// dtype is not a float dtype is an error.
func (t *Tensor) Stats(progress func(bytes int64)) (Stats, error) {
	st := Stats{FirstNonFinite: -1, Min: math.Inf(1), Max: math.Inf(-1)}
	if !t.DType.IsFloat() {
		return st, t.errorf("dtype %s is not a float dtype", t.DType)
	}
	n := t.NumElements()
	es := t.DType.Size()
	buf := make([]byte, min(n, decodeChunk)*es)
	vals := make([]float64, min(n, decodeChunk))
	var sumSq float64
	var finite int64
	for i := 0; i < n; i += decodeChunk {
		k := min(decodeChunk, n-i)
		if err := t.readAt(buf[:k*es], int64(i*es)); err != nil {
			return st, err
		}
		if err := decodeFloats(vals[:k], buf[:k*es], t.DType); err != nil {
			return st, t.errorf("%v", err)
		}
		for j, v := range vals[:k] {
			switch {
			case math.IsNaN(v):
				st.NaN++
			case math.IsInf(v, 1):
				st.PosInf++
			case math.IsInf(v, -1):
				st.NegInf++
			default:
				st.Min, st.Max = math.Min(st.Min, v), math.Max(st.Max, v)
				sumSq += v * v
				finite++
				continue
			}
			if st.FirstNonFinite < 0 {
				st.FirstNonFinite = int64(i + j)
			}
		}
		if progress != nil {
			progress(int64(k * es))
		}
	}
	st.Count = int64(n)
	if finite == 0 {
		st.Min, st.Max = 0, 0
	} else {
		st.RMS = math.Sqrt(sumSq / float64(finite))
	}
	return st, nil
}
