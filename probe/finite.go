package probe

import (
	"fmt"
	"math"
	"reflect"

	"github.com/grow-ml/grow/graph"
)

// NonFiniteError is a weight that holds a NaN or an infinity.
type NonFiniteError struct {
	// Tensor names the tensor: its checkpoint name where the graph knows it
	// (with ᵀ for a transposed view and [lo:hi] for a slice of one), else its
	// role in the graph.
	Tensor string
	// Index is the first non-finite element, in the tensor's coordinates as
	// stored in the checkpoint when Tensor is a checkpoint name.
	Index []int
	// Value is the value there (NaN, +Inf or -Inf).
	Value float64
	// Count is the number of non-finite elements.
	Count int
}

func (e *NonFiniteError) Error() string {
	more := ""
	if e.Count > 1 {
		more = fmt.Sprintf(" (and %d more non-finite values)", e.Count-1)
	}
	return fmt.Sprintf("probe: tensor %s holds %v at index %v%s: NaN and infinite weights are refused", e.Tensor, e.Value,
		e.Index, more)
}

// checkFinite returns a *NonFiniteError when x, the decoded data of t (role
// in the graph), holds a NaN or an infinity.
func checkFinite[T float](x []T, t graph.Tensor, role string) error {
	return checkFiniteAt(x, t, role, 0)
}

// checkFiniteAt is checkFinite for the part of t's data that starts at
// element off (a block of rows).
func checkFiniteAt[T float](x []T, t graph.Tensor, role string, off int) error {
	// v − v is 0 for a finite v and NaN for a NaN or an infinity: sums of
	// them, four apart so that the additions do not wait on each other, are
	// 0 unless a value is not finite.
	var a0, a1, a2, a3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a0 += x[i] - x[i]
		a1 += x[i+1] - x[i+1]
		a2 += x[i+2] - x[i+2]
		a3 += x[i+3] - x[i+3]
	}
	for ; i < len(x); i++ {
		a0 += x[i] - x[i]
	}
	if a0+a1+a2+a3 == 0 {
		return nil
	}
	first := -1
	count := 0
	for i, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			if first < 0 {
				first = i
			}
			count++
		}
	}
	if first < 0 {
		return nil
	}
	e := &NonFiniteError{Tensor: role, Value: float64(x[first]), Count: count}
	shape := t.Shape()
	first += off
	if v, ok := t.(*graph.View); ok {
		e.Tensor, e.Index = fmt.Sprintf("%q", v.String()), viewIndex(v, shape, first)
	} else {
		e.Tensor, e.Index = role, unflatten(first, shape)
	}
	return e
}

// viewIndex maps flat index i of view v (shape) to the index of the stored
// tensor.
func viewIndex(v *graph.View, shape []int, i int) []int {
	idx := unflatten(i, shape)
	if len(idx) == 0 {
		return idx
	}
	idx[0] += v.Lo
	if v.Transposed && len(idx) == 2 {
		idx[0], idx[1] = idx[1], idx[0]
	}
	return idx
}

// unflatten returns the row-major multi-index of flat index i in shape.
func unflatten(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		if shape[k] > 0 {
			idx[k] = i % shape[k]
			i /= shape[k]
		}
	}
	return idx
}

// CheckFinite reads every weight of g that the forward pass or a growth
// operator uses (every role, and the family extras transformed with the
// hidden size; not the copied or dropped buffers) and returns a
// *NonFiniteError for the first one that holds a NaN or an infinity, naming
// its checkpoint tensor and index. Each tensor is read once, in its own
// dtype's precision (float64 for F64, float32 otherwise, which holds every
// F32, F16 and BF16 value).
func CheckFinite(g *graph.Graph) error {
	if g == nil {
		return nil
	}
	seen := map[graph.Tensor]bool{}
	for _, r := range g.Roles() {
		t := r.T
		if isNil(t) || (r.Rule != "" && r.Rule != graph.RuleHidden) || !t.DType().IsFloat() {
			continue
		}
		if reflect.TypeOf(t).Comparable() {
			if seen[t] {
				continue
			}
			seen[t] = true
		}
		var err error
		if t.DType() == "F64" {
			err = scanTensor[float64](t, r.Role)
		} else {
			err = scanTensor[float32](t, r.Role)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scanTensor decodes t in precision T, which refuses non-finite values (data).
func scanTensor[T float](t graph.Tensor, role string) error {
	_, err := data[T](t, role)
	return err
}
