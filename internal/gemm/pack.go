package gemm

// packRows packs a block of x whose stored rows become the lanes of the
// slivers: lanes [l0, l0+nl) are rows l0.. of x, steps [p0, p0+kb) its columns
// p0... Sliver s (lanes s·w to s·w+w) holds at dst[s·w·kb + p·w + l] the
// element x[l0+s·w+l][p0+p]; lanes past nl are zero. This is A as stored
// (NoTrans) and Bᵀ as stored (B Trans): every lane is read contiguously and
// written with stride w, four lanes at a time.
func packRows[T float](dst, x []T, ld, w, l0, nl, p0, kb int) {
	for s := 0; s < nl; s += w {
		sl := dst[s*kb : (s+w)*kb]
		lanes := min(w, nl-s)
		l := 0
		for ; l+4 <= lanes; l += 4 {
			r := (l0 + s + l) * ld
			x0 := x[r+p0 : r+p0+kb]
			x1 := x[r+ld+p0 : r+ld+p0+kb]
			x2 := x[r+2*ld+p0 : r+2*ld+p0+kb]
			x3 := x[r+3*ld+p0 : r+3*ld+p0+kb]
			for p := range x0 {
				d := sl[p*w+l : p*w+l+4 : p*w+l+4]
				d[0], d[1], d[2], d[3] = x0[p], x1[p], x2[p], x3[p]
			}
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

// packCols packs a block of x whose stored columns become the lanes of the
// slivers: lanes [l0, l0+nl) are columns l0.. of x, steps [p0, p0+kb) its
// rows p0..; the layout of dst is packRows'. This is Aᵀ as stored (A Trans)
// and B as stored (B NoTrans): each step is one contiguous copy.
func packCols[T float](dst, x []T, ld, w, l0, nl, p0, kb int) {
	for s := 0; s < nl; s += w {
		sl := dst[s*kb : (s+w)*kb]
		lanes := min(w, nl-s)
		for p := range kb {
			r := (p0+p)*ld + l0 + s
			copy(sl[p*w:p*w+lanes], x[r:r+lanes])
		}
		zeroLanes(sl, w, lanes, kb)
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
