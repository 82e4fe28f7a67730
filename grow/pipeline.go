package grow

import (
	"io"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// Pipeline wraps the entries of a grown graph (g.Entries, in the order they are
// written) so that while entry i is being written, the grown tensors of entry
// i+1 are computed on another goroutine. At most two entries' data are in
// memory at once. Entries written from float64 (an F64 output or source) are
// not prefetched.
func Pipeline(g *graph.Graph, entries []checkpoint.Entry) []checkpoint.Entry {
	byName := map[string][]*lazy{}
	for _, r := range g.Roles() {
		l, ok := r.T.(*lazy)
		if !ok || l.dt == checkpoint.F64 {
			continue
		}
		for _, n := range r.Names {
			byName[n] = append(byName[n], l)
		}
	}
	out := make([]checkpoint.Entry, len(entries))
	copy(out, entries)
	for i := range out {
		if i+1 >= len(entries) {
			break // the last entry: nothing to prefetch, and its buffer is not reused
		}
		next := byName[entries[i+1].Name]
		if len(next) == 0 || entries[i+1].DType == checkpoint.F64 {
			next = nil
		}
		cur := byName[entries[i].Name]
		if len(next) == 0 && len(cur) == 0 {
			continue
		}
		write := entries[i].Write
		out[i].Write = func(w io.Writer) error {
			for _, l := range next {
				l.prefetch()
			}
			err := write(w)
			// the data of this entry has been encoded and written: its
			// buffers (taken from a prefetch, so owned here) can be reused
			for _, l := range cur {
				l.release()
			}
			return err
		}
	}
	return out
}
