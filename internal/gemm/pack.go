package gemm

// packRows packs a block of x whose stored rows become the lanes of the
// slivers: lanes [l0, l0+nl) are rows l0.. of x, steps [p0, p0+kb) its columns
// p0... Sliver s (lanes s·w to s·w+w) holds at dst[s·w·kb + p·w + l] the
// element x[l0+s·w+l][p0+p]; lanes past nl are zero. This is A as stored
// (NoTrans) and Bᵀ as stored (B Trans): a transpose. With tr, square blocks of
// tr.n lanes and steps are transposed by tr.fn; the rest goes four lanes at a
// time, each read contiguously and written with stride w.
func packRows[T float](dst, x []T, ld, w, l0, nl, p0, kb int, tr *transposer[T]) {
	for s := 0; s < nl; s += w {
		sl := dst[s*kb : (s+w)*kb]
		lanes := min(w, nl-s)
		l := 0
		if tr != nil {
			for ; l+tr.n <= lanes; l += tr.n {
				tr.block(sl, w, l, x, ld, (l0+s+l)*ld+p0, kb)
			}
		}
		for ; l+4 <= lanes; l += 4 {
			rows4(sl, w, l, x, ld, (l0+s+l)*ld+p0, 0, kb)
		}
		for ; l < lanes; l++ {
			r := (l0+s+l)*ld + p0
			for p, v := range x[r : r+kb] {
				sl[p*w+l] = v
			}
		}
		zeroLanes(sl, w, lanes, kb)
	}
}

// rows4 packs steps [p0, p1) of the four rows of x from offset r (stride ld)
// into lanes l..l+3 of sliver sl (w lanes).
func rows4[T float](sl []T, w, l int, x []T, ld, r, p0, p1 int) {
	x0 := x[r+p0 : r+p1]
	x1 := x[r+ld+p0 : r+ld+p1]
	x2 := x[r+2*ld+p0 : r+2*ld+p1]
	x3 := x[r+3*ld+p0 : r+3*ld+p1]
	for i := range x0 {
		p := p0 + i
		d := sl[p*w+l : p*w+l+4 : p*w+l+4]
		d[0], d[1], d[2], d[3] = x0[i], x1[i], x2[i], x3[i]
	}
}

// transposer transposes square blocks of n×n elements: dst[j·ldd+i] =
// src[i·lds+j] for i, j < n (an assembly routine).
type transposer[T float] struct {
	n  int
	fn func(dst *T, ldd int, src *T, lds int)
}

// block packs the kb steps of the tr.n rows of x from offset r (stride ld)
// into lanes l.. of sliver sl (w lanes): whole blocks with tr.fn, the steps
// past the last whole block four rows at a time.
func (tr *transposer[T]) block(sl []T, w, l int, x []T, ld, r, kb int) {
	n := tr.n
	_ = x[r+(n-1)*ld+kb-1] // every block read below lies in x
	p := 0
	for ; p+n <= kb; p += n {
		_ = sl[(p+n-1)*w+l+n-1] // and every block written in sl
		tr.fn(&sl[p*w+l], w, &x[r+p], ld)
	}
	if p < kb {
		for i := 0; i < n; i += 4 {
			rows4(sl, w, l+i, x, ld, r+i*ld, p, kb)
		}
	}
}

// packCols packs a block of x whose stored columns become the lanes of the
// slivers: lanes [l0, l0+nl) are columns l0.. of x, steps [p0, p0+kb) its
// rows p0..; the layout of dst is packRows'. This is Aᵀ as stored (A Trans)
// and B as stored (B NoTrans): contiguous copies of w lanes. The steps go in
// groups of 16 and the slivers inside each group, so that both the rows read
// and the pieces of the slivers written stay few at a time.
func packCols[T float](dst, x []T, ld, w, l0, nl, p0, kb int) {
	const group = 16
	for g := 0; g < kb; g += group {
		for s := 0; s < nl; s += w {
			lanes := min(w, nl-s)
			for p := g; p < min(g+group, kb); p++ {
				r := (p0+p)*ld + l0 + s
				d := dst[s*kb+p*w : s*kb+p*w+w]
				copy(d, x[r:r+lanes])
				clear(d[lanes:])
			}
		}
	}
}

// zeroLanes clears lanes [lanes, w) of the kb steps of sliver sl.
func zeroLanes[T float](sl []T, w, lanes, kb int) {
	if lanes == w {
		return
	}
	for p := range kb {
		clear(sl[p*w+lanes : p*w+w])
	}
}
