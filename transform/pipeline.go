package transform

import (
	"fmt"
	"io"
	"slices"
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
//     which on little-endian machines is already its encoding; a row-tiled
//     matrix is written as its first block of rows, repeated.
//   - The float32 buffers of written entries are reused for later tensors.
//
// Entries written from float64 (an F64 output or source) are left as they are.
func Pipeline(g *graph.Graph, entries []checkpoint.Entry) []checkpoint.Entry {
	byName := map[string][]*lazy{}
	asIs := map[string]bool{} // names stored alone in the graph's layout
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
			asIs[n] = r.AsIs
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
		if direct(asIs[e.Name], e, cur) {
			l, name := cur[0], e.Name
			n := int(prod(e.Shape))
			block := l.block32 != nil
			write = func(w io.Writer) error {
				v, reps, err := l.take(block)
				if err != nil {
					return err
				}
				reps = max(reps, 1)
				if len(v)*reps != n {
					return fmt.Errorf("expand: tensor %q: %d×%d values for %d elements", name, len(v), reps, n)
				}
				if n == 0 {
					return nil
				}
				// whole writes: a buffered writer passes them through without a copy
				b := unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
				for range reps {
					if _, err := w.Write(b); err != nil {
						return err
					}
				}
				return nil
			}
		}
		last := i+1 == len(entries)
		var nextBlock bool
		if i+1 < len(entries) && direct(asIs[entries[i+1].Name], entries[i+1], next) {
			nextBlock = next[0].block32 != nil
		}
		out[i].Write = func(w io.Writer) error {
			for _, l := range next {
				l.prefetch(nextBlock)
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

// direct reports whether entry e is written straight from the float32 data of
// its single grown tensor: F32, little-endian, stored as is (the graph's
// Role.AsIs: not a GPT-2 Conv1D or fused c_attn).
func direct(asIs bool, e checkpoint.Entry, ls []*lazy) bool {
	return asIs && len(ls) == 1 && e.DType == checkpoint.F32 && littleEndian &&
		slices.Equal(e.Shape, ls[0].shape)
}

// ComputedShare returns the elements of g's tensors that are computed (a
// transform's lazy tensors) and of all its tensors: a write that is mostly
// byte copies (depth growth) is best left to the kernel's file copies.
func ComputedShare(g *graph.Graph) (computed, total int64) {
	for _, r := range g.Roles() {
		if r.T == nil {
			continue
		}
		n := prod(r.T.Shape())
		total += n
		if _, ok := r.T.(*lazy); ok {
			computed += n
		}
	}
	return computed, total
}
