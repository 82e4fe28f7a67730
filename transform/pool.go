package transform

import "sync"

// bufPool keeps a few large float32 buffers for reuse, so that writing a grown
// model does not fault fresh pages in for every tensor. Only Pipeline returns
// buffers to it, once an entry's data has been written.
type bufPool struct {
	mu   sync.Mutex
	bufs [][]float32
	// limit is the most float32 elements kept (0: poolKeep buffers of any size).
	limit int
}

// poolKeep is the most buffers the pool keeps.
const poolKeep = 3

// setLimit bounds the elements the pool keeps and drops what exceeds it.
func (p *bufPool) setLimit(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limit = n
	p.trim()
}

// trim drops the smallest buffers until the pool is within its bounds.
func (p *bufPool) trim() {
	for len(p.bufs) > 0 {
		total := 0
		for _, b := range p.bufs {
			total += cap(b)
		}
		if len(p.bufs) <= poolKeep && (p.limit == 0 || total <= p.limit) {
			return
		}
		small := 0
		for i, x := range p.bufs {
			if cap(x) < cap(p.bufs[small]) {
				small = i
			}
		}
		p.bufs = append(p.bufs[:small], p.bufs[small+1:]...)
	}
}

var f32Pool bufPool

// get returns a slice of length n, reusing the smallest kept buffer that is
// large enough; it is zeroed when zero is set (fresh memory always is).
func (p *bufPool) get(n int, zero bool) []float32 {
	p.mu.Lock()
	best := -1
	for i, b := range p.bufs {
		if cap(b) >= n && (best < 0 || cap(b) < cap(p.bufs[best])) {
			best = i
		}
	}
	var b []float32
	if best >= 0 {
		b = p.bufs[best][:n]
		p.bufs = append(p.bufs[:best], p.bufs[best+1:]...)
	}
	p.mu.Unlock()
	if b == nil {
		return make([]float32, n)
	}
	if zero {
		clear(b)
	}
	return b
}

// put offers a buffer back; the pool keeps the largest poolKeep.
func (p *bufPool) put(b []float32) {
	if cap(b) < 1<<16 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bufs = append(p.bufs, b)
	p.trim()
}
