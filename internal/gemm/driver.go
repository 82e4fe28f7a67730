package gemm

import (
	"runtime"
	"sync"
)

// float is the element type of a product.
type float interface{ float32 | float64 }

// kernel is a micro-kernel with the blocking that suits it.
type kernel[T float] struct {
	name   string
	mr, nr int // the tile of C one call computes: mr rows, nr columns
	kc     int // k steps per packed sliver: the depth of one rank-kc update
	mc     int // rows of A packed at a time, a multiple of mr
	nc     int // columns of B packed at a time, a multiple of nr
	// tr, when not nil, transposes square blocks while packing.
	tr *transposer[T]
	// micro computes the mr×nr tile c (leading dimension ldc) as the sum over
	// the k steps of the packed slivers a (mr values per step) and b (nr values
	// per step): c = a·b, or c += a·b when acc is set.
	micro func(k int, a, b, c []T, ldc int, acc bool)
}

// parallelWork is the number of multiply-adds from which a product is split
// over GOMAXPROCS goroutines, about half a millisecond of one core's work:
// below it, starting goroutines costs more than they save.
const parallelWork = 1 << 23

// problem is one product C = op(A)·op(B) (+ C when acc is set); alpha is
// applied while packing A, beta before the product.
type problem[T float] struct {
	tA, tB  Transpose
	m, n, k int
	alpha   T
	a       []T
	lda     int
	b       []T
	ldb     int
	c       []T
	ldc     int
	acc     bool
}

// gemm checks the arguments, applies beta and runs the product on one or
// more goroutines.
func gemm[T float](kr *kernel[T], tA, tB Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int,
	beta T, c []T, ldc int) {
	check(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(c, m, n, ldc, beta)
		return
	}
	if beta != 0 && beta != 1 {
		scale(c, m, n, ldc, beta)
	}
	p := problem[T]{tA, tB, m, n, k, alpha, a, lda, b, ldb, c, ldc, beta != 0}
	workers := runtime.GOMAXPROCS(0)
	if work := float64(m) * float64(n) * float64(k); workers > 1 && work >= parallelWork {
		p.parallel(kr, min(workers, int(work/parallelWork)+1))
		return
	}
	p.serial(kr)
}

// scale sets C = beta·C; a zero beta clears C without reading it.
func scale[T float](c []T, m, n, ldc int, beta T) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// parallel splits the product into workers parts of whole tiles along the
// dimension of C with more tiles and computes them concurrently, each with its
// own packing buffers.
func (p *problem[T]) parallel(kr *kernel[T], workers int) {
	tm, tn := roundUp(p.m, kr.mr)/kr.mr, roundUp(p.n, kr.nr)/kr.nr
	byCols := tn >= tm
	tiles := tm
	if byCols {
		tiles = tn
	}
	workers = min(workers, tiles)
	var wg sync.WaitGroup
	for w := workers - 1; w >= 0; w-- {
		lo, hi := w*tiles/workers, (w+1)*tiles/workers
		var part problem[T]
		if byCols {
			part = p.cols(lo*kr.nr, min(hi*kr.nr, p.n))
		} else {
			part = p.rows(lo*kr.mr, min(hi*kr.mr, p.m))
		}
		if w == 0 {
			part.serial(kr)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			part.serial(kr)
		}()
	}
	wg.Wait()
}

// cols is the part of the product that computes columns [lo, hi) of C.
func (p *problem[T]) cols(lo, hi int) problem[T] {
	q := *p
	q.n = hi - lo
	q.c = p.c[lo:]
	if p.tB == Trans {
		q.b = p.b[lo*p.ldb:]
	} else {
		q.b = p.b[lo:]
	}
	return q
}

// rows is the part of the product that computes rows [lo, hi) of C.
func (p *problem[T]) rows(lo, hi int) problem[T] {
	q := *p
	q.m = hi - lo
	q.c = p.c[lo*p.ldc:]
	if p.tA == Trans {
		q.a = p.a[lo:]
	} else {
		q.a = p.a[lo*p.lda:]
	}
	return q
}

// serial computes the product on the calling goroutine. The loops are those
// of Goto and van de Geijn with the roles of the operands chosen for row-major
// storage: a block of mc rows of A and kc steps is packed once and stays in
// the outer caches, each block of nc columns of B is packed into a buffer
// that fits L2, and the macro-kernel keeps one sliver of A (mr rows) in L1
// while the slivers of B stream past it.
func (p *problem[T]) serial(kr *kernel[T]) {
	buf := getBuffers(kr, p.m, p.n, p.k)
	defer putBuffers(buf)
	for ic := 0; ic < p.m; ic += kr.mc {
		mb := min(kr.mc, p.m-ic)
		for pc := 0; pc < p.k; pc += kr.kc {
			kb := min(kr.kc, p.k-pc)
			p.packA(kr.mr, kr.tr, buf.a, ic, mb, pc, kb)
			for jc := 0; jc < p.n; jc += kr.nc {
				nb := min(kr.nc, p.n-jc)
				p.packB(kr.nr, kr.tr, buf.b, jc, nb, pc, kb)
				kr.macro(buf, p.c[ic*p.ldc+jc:], p.ldc, mb, nb, kb, p.acc || pc > 0)
			}
		}
	}
}

// packA packs rows [i0, i0+mb) and steps [p0, p0+kb) of op(A), times alpha,
// into slivers of mr rows.
func (p *problem[T]) packA(mr int, tr *transposer[T], dst []T, i0, mb, p0, kb int) {
	if p.tA == Trans {
		packCols(dst, p.a, p.lda, mr, i0, mb, p0, kb)
	} else {
		packRows(dst, p.a, p.lda, mr, i0, mb, p0, kb, tr)
	}
	if p.alpha != 1 {
		dst = dst[:roundUp(mb, mr)*kb]
		for i := range dst {
			dst[i] *= p.alpha
		}
	}
}

// packB packs columns [j0, j0+nb) and steps [p0, p0+kb) of op(B) into
// slivers of nr columns.
func (p *problem[T]) packB(nr int, tr *transposer[T], dst []T, j0, nb, p0, kb int) {
	if p.tB == Trans {
		packRows(dst, p.b, p.ldb, nr, j0, nb, p0, kb, tr)
	} else {
		packCols(dst, p.b, p.ldb, nr, j0, nb, p0, kb)
	}
}

// macro computes the mb×nb block c from the packed buffers, one micro-kernel
// call per tile; tiles cut by the block's edge go through buf.tmp.
func (kr *kernel[T]) macro(buf *buffers[T], c []T, ldc, mb, nb, kb int, acc bool) {
	mr, nr := kr.mr, kr.nr
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		a := buf.a[ir*kb : (ir+mr)*kb]
		for jr := 0; jr < nb; jr += nr {
			cols := min(nr, nb-jr)
			b := buf.b[jr*kb : (jr+nr)*kb]
			if rows == mr && cols == nr {
				kr.micro(kb, a, b, c[ir*ldc+jr:], ldc, acc)
				continue
			}
			kr.micro(kb, a, b, buf.tmp, nr, false)
			addTile(c[ir*ldc+jr:], ldc, buf.tmp, nr, rows, cols, acc)
		}
	}
}

// addTile stores the rows×cols corner of tile t (leading dimension ldt) into
// c, or adds it when acc is set.
func addTile[T float](c []T, ldc int, t []T, ldt, rows, cols int, acc bool) {
	for i := range rows {
		dst, src := c[i*ldc:i*ldc+cols], t[i*ldt:i*ldt+cols]
		if !acc {
			copy(dst, src)
			continue
		}
		for j, v := range src {
			dst[j] += v
		}
	}
}

// buffers are the packing buffers of one goroutine's product.
type buffers[T float] struct{ a, b, tmp []T }

// pool32 and pool64 keep packing buffers between products, so that a product
// allocates nothing once the pool is warm.
var pool32, pool64 sync.Pool

func poolOf[T float]() *sync.Pool {
	var x T
	if _, ok := any(x).(float32); ok {
		return &pool32
	}
	return &pool64
}

// getBuffers returns buffers for an m×n×k product from the pool, grown to
// what its blocks need (no more, so that small products stay cheap when the
// pool is empty).
func getBuffers[T float](kr *kernel[T], m, n, k int) *buffers[T] {
	buf, _ := poolOf[T]().Get().(*buffers[T])
	if buf == nil {
		buf = new(buffers[T])
	}
	kb := min(k, kr.kc)
	buf.a = resize(buf.a, roundUp(min(m, kr.mc), kr.mr)*kb)
	buf.b = resize(buf.b, roundUp(min(n, kr.nc), kr.nr)*kb)
	buf.tmp = resize(buf.tmp, kr.mr*kr.nr)
	return buf
}

// roundUp rounds n up to a multiple of q.
func roundUp(n, q int) int { return (n + q - 1) / q * q }

func putBuffers[T float](buf *buffers[T]) { poolOf[T]().Put(buf) }

// resize returns s with length n, reallocated only when its capacity is short.
func resize[T float](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
