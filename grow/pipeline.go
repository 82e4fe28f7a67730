package grow

import (
	"fmt"
	"io"
	"unsafe"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// littleEndian reports whether float32 memory is already safetensors' encoding.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Pipeline wraps the entries of a grown graph (g.Entries, in the order they are
// written) for speed; the bytes written are the same.
//
//   - While entry i is being written, the grown tensors of entry i+1 are
//     computed on another goroutine (at most two entries' data in memory).
//   - A float32 entry that is exactly one grown tensor in its own layout (not a
//     GPT-2 Conv1D or fused c_attn) is written straight from the float32 data,
//     which on little-endian machines is already its encoding.
//   - The float32 buffers of written entries are reused for later tensors.
//
// Entries written from float64 (an F64 output or source) are left as they are.
func Pipeline(g *graph.Graph, entries []checkpoint.Entry) []checkpoint.Entry {
	byName := map[string][]*lazy{}
	largest := 0
	for _, r := range g.Roles() {
		if l, ok := r.T.(*lazy); ok {
			largest = max(largest, int(prod(l.shape)))
		}
		l, ok := r.T.(*lazy)
		if !ok || l.dt == checkpoint.F64 {
			continue
		}
		for _, n := range r.Names {
			byName[n] = append(byName[n], l)
		}
	}
	// keep at most about one and a half of the largest tensor in reusable buffers
	f32Pool.setLimit(largest + largest/2)
	out := make([]checkpoint.Entry, len(entries))
	copy(out, entries)
	for i := range out {
		e := entries[i]
		cur := byName[e.Name]
		if e.DType == checkpoint.F64 {
			cur = nil
		}
		var next []*lazy
		if i+1 < len(entries) && entries[i+1].DType != checkpoint.F64 {
			next = byName[entries[i+1].Name]
		}
		if len(next) == 0 && len(cur) == 0 {
			continue
		}
		write := e.Write
		if len(cur) == 1 && e.DType == checkpoint.F32 && littleEndian && g.Family != graph.FamilyGPT2 && sameShape(e.Shape, cur[0].shape) {
			l, name := cur[0], e.Name
			n := int(prod(e.Shape))
			write = func(w io.Writer) error {
				v, err := l.Float32()
				if err != nil {
					return err
				}
				if len(v) != n {
					return fmt.Errorf("expand: tensor %q: %d values for %d elements", name, len(v), n)
				}
				if n == 0 {
					return nil
				}
				// one write: a buffered writer passes it through without a copy
				_, err = w.Write(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*n))
				return err
			}
		}
		last := i+1 == len(entries)
		out[i].Write = func(w io.Writer) error {
			for _, l := range next {
				l.prefetch()
			}
			err := write(w)
			// This entry's data has been encoded and written; buffers taken
			// from a prefetch are owned here and can be reused (the last
			// entry's are left to the garbage collector).
			if !last {
				for _, l := range cur {
					l.release()
				}
			}
			return err
		}
	}
	return out
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
