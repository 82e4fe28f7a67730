package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naive computes C = alpha·op(A)·op(B) + beta·C in float64 with a triple
// loop, and for every element the bound sum |alpha|·Σ|a·b| + |beta·c| that
// scales its rounding error.
func naive[T float](tA, tB Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int,
	beta T, c []T, ldc int) (want, mag []float64) {
	at := func(i, p int) float64 {
		if tA == Trans {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if tB == Trans {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	want, mag = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				s += at(i, p) * bt(p, j)
				abs += math.Abs(at(i, p) * bt(p, j))
			}
			s *= float64(alpha)
			abs *= math.Abs(float64(alpha))
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
				abs += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j], mag[i*n+j] = s, abs
		}
	}
	return want, mag
}

func random[T float](rng *rand.Rand, n int) []T {
	x := make([]T, n)
	for i := range x {
		x[i] = T(2*rng.Float64() - 1)
	}
	return x
}

// unitRoundoff is 2⁻²⁴ for float32 and 2⁻⁵³ for float64.
func unitRoundoff[T float]() float64 {
	var x T
	if _, ok := any(x).(float32); ok {
		return 0x1p-24
	}
	return 0x1p-53
}

// shapes are (m, n, k) triples: single rows and columns, sizes around the
// tiles (4, 6, 8, 12, 16, 32), the blocks (kc 256/384, nc 384/512, mc 512/960)
// and primes in between.
var shapes = [][3]int{
	{1, 1, 1}, {1, 1, 17}, {3, 5, 7}, {1, 65, 31}, {65, 1, 31}, {17, 31, 1},
	{12, 32, 8}, {13, 33, 9}, {11, 31, 65}, {24, 64, 257}, {25, 17, 3},
	{31, 65, 385}, {37, 520, 19}, {100, 100, 100}, {7, 1030, 33}, {257, 3, 5},
	{970, 5, 13}, {61, 129, 513}, {36, 96, 777},
}

// testGemm compares the kernel's products with naive over every shape, both
// transposes of both operands, padded leading dimensions and several alpha
// and beta, with the error bound 4(k+2)·u·(|alpha|·Σ|a·b| + |beta·c|).
func testGemm[T float](t *testing.T, kr *kernel[T]) {
	rng := rand.New(rand.NewPCG(1, uint64(kr.mr)))
	u := unitRoundoff[T]()
	scalars := [][2]T{{1, 0}, {1, 1}, {-0.5, 2}, {3, -1}, {0, 0.5}}
	for si, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []Transpose{NoTrans, Trans} {
			for _, tB := range []Transpose{NoTrans, Trans} {
				ab := scalars[(si+int(tA)+2*int(tB))%len(scalars)]
				pad := (si + int(tA)) % 3 * 3 // leading dimensions wider than the rows, in some cases
				ar, ac := m, k
				if tA == Trans {
					ar, ac = k, m
				}
				br, bc := k, n
				if tB == Trans {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+pad, bc+pad, n+pad
				a, b, c := random[T](rng, ar*lda), random[T](rng, br*ldb), random[T](rng, m*ldc)
				want, mag := naive(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
				before := append([]T(nil), c...)
				gemm(kr, tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
				name := fmt.Sprintf("%s %dx%dx%d tA=%d tB=%d alpha=%v beta=%v pad=%d", kr.name, m, n, k, tA, tB, ab[0], ab[1], pad)
				for i := range m {
					for j := range n {
						got, w := float64(c[i*ldc+j]), want[i*n+j]
						if tol := 4 * float64(k+2) * u * mag[i*n+j]; math.Abs(got-w) > tol {
							t.Fatalf("%s: C[%d,%d] = %v, want %v (tolerance %.3g)", name, i, j, got, w, tol)
						}
					}
					for j := n; j < ldc && i*ldc+j < len(c); j++ {
						if c[i*ldc+j] != before[i*ldc+j] {
							t.Fatalf("%s: padding C[%d,%d] written", name, i, j)
						}
					}
				}
			}
		}
	}
}

// TestKernels runs every kernel this machine has, the portable Go one
// included, over the shapes.
func TestKernels(t *testing.T) {
	for _, kr := range kernels32 {
		t.Run("f32/"+kr.name, func(t *testing.T) { testGemm(t, kr) })
	}
	for _, kr := range kernels64 {
		t.Run("f64/"+kr.name, func(t *testing.T) { testGemm(t, kr) })
	}
}

// TestPortable makes sure the fallback is among the tested kernels and that
// the fastest kernel is the one in use.
func TestPortable(t *testing.T) {
	if last := kernels32[len(kernels32)-1]; last.name != "go" {
		t.Fatalf("last float32 kernel is %q, want the portable one", last.name)
	}
	if last := kernels64[len(kernels64)-1]; last.name != "go" {
		t.Fatalf("last float64 kernel is %q, want the portable one", last.name)
	}
	if active32 != kernels32[0] || active64 != kernels64[0] || Kernel() != kernels32[0].name {
		t.Fatalf("active kernels %q/%q, want the first of the list", active32.name, active64.name)
	}
	t.Logf("kernels: %d float32, %d float64; in use: %s", len(kernels32), len(kernels64), Kernel())
}

// TestParallel checks the parallel split in both directions with more
// workers than the machine may have, against the serial product.
func TestParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][3]int{{50, 300, 70}, {300, 50, 70}, {5, 7, 9}} {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []Transpose{NoTrans, Trans} {
			for _, tB := range []Transpose{NoTrans, Trans} {
				a, b := random[float64](rng, m*k), random[float64](rng, k*n)
				lda, ldb := k, n
				if tA == Trans {
					lda = m
				}
				if tB == Trans {
					ldb = k
				}
				c0 := random[float64](rng, m*n)
				c1 := append([]float64(nil), c0...)
				p := problem[float64]{tA, tB, m, n, k, 0.5, a, lda, b, ldb, c0, n, true}
				p.serial(active64)
				p.c = c1
				p.parallel(active64, 3)
				for i := range c0 {
					if c0[i] != c1[i] {
						t.Fatalf("%v tA=%d tB=%d: parallel C[%d] = %v, serial %v", s, tA, tB, i, c1[i], c0[i])
					}
				}
			}
		}
	}
}

// TestBetaZero: with beta 0, NaNs and infinities in C do not reach the result.
func TestBetaZero(t *testing.T) {
	for _, kr := range kernels32 {
		a, b := []float32{1, 2, 3, 4}, []float32{1, 0, 0, 1}
		c := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.NaN()), 7}
		gemm(kr, NoTrans, NoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
		if c[0] != 1 || c[1] != 2 || c[2] != 3 || c[3] != 4 {
			t.Errorf("%s: C = %v, want [1 2 3 4]", kr.name, c)
		}
		c = []float32{float32(math.NaN()), 1}
		gemm(kr, NoTrans, NoTrans, 1, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
		if c[0] != 0 || c[1] != 0 {
			t.Errorf("%s: k=0, beta=0: C = %v, want zeros", kr.name, c)
		}
	}
}

// TestPanics: arguments that do not describe their slices panic.
func TestPanics(t *testing.T) {
	x := make([]float64, 12)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Dgemm(NoTrans, NoTrans, -1, 2, 2, 1, x, 2, x, 2, 0, x, 2) }},
		{"lda < k", func() { Dgemm(NoTrans, NoTrans, 2, 2, 3, 1, x, 2, x, 2, 0, x, 2) }},
		{"ldb < k for Bᵀ", func() { Dgemm(NoTrans, Trans, 2, 2, 3, 1, x, 3, x, 2, 0, x, 2) }},
		{"short C", func() { Dgemm(NoTrans, NoTrans, 4, 4, 1, 1, x, 1, x, 4, 0, x, 4) }},
		{"short A", func() {
			Sgemm(Trans, NoTrans, 2, 2, 13, 1, make([]float32, 20), 2, make([]float32, 26), 2, 0, make([]float32, 4), 2)
		}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

// TestTransposers checks the block transposes of the kernels that pack with
// one, with strides wider than the block.
func TestTransposers(t *testing.T) {
	for _, kr := range kernels32 {
		if kr.tr != nil {
			testTransposer(t, kr.name, kr.tr)
		}
	}
	for _, kr := range kernels64 {
		if kr.tr != nil {
			testTransposer(t, kr.name, kr.tr)
		}
	}
}

func testTransposer[T float](t *testing.T, name string, tr *transposer[T]) {
	n := tr.n
	lds, ldd := n+3, n+5
	src := random[T](rand.New(rand.NewPCG(5, 6)), n*lds)
	dst := make([]T, n*ldd)
	tr.fn(&dst[0], ldd, &src[0], lds)
	for i := range n {
		for j := range n {
			if dst[j*ldd+i] != src[i*lds+j] {
				t.Fatalf("%s %d×%d: dst[%d][%d] = %v, want src[%d][%d] = %v", name, n, n, j, i, dst[j*ldd+i], i, j, src[i*lds+j])
			}
		}
		for j := n; j < ldd && i*ldd+j < len(dst); j++ {
			if dst[i*ldd+j] != 0 {
				t.Fatalf("%s: padding dst[%d][%d] written", name, i, j)
			}
		}
	}
}

// TestNoAllocs: once the pool holds buffers, a product allocates nothing.
func TestNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	// attention's second product: [32, 256] · [64, 256]ᵀ.
	a, b, c := random[float32](rng, 32*256), random[float32](rng, 64*256), make([]float32, 32*64)
	allocs := testing.AllocsPerRun(100, func() {
		Sgemm(NoTrans, Trans, 32, 64, 256, 1, a, 256, b, 256, 0, c, 64)
	})
	if allocs != 0 {
		t.Errorf("Sgemm allocated %v times per call", allocs)
	}
}

// TestKStep: every kernel's depth block divides KStep, and a product split
// along k at KStep, the parts accumulated one after the other, equals the
// whole product bit for bit.
func TestKStep(t *testing.T) {
	for _, kr := range kernels32 {
		if KStep%kr.kc != 0 {
			t.Errorf("f32/%s: kc %d does not divide KStep %d", kr.name, kr.kc, KStep)
		}
	}
	for _, kr := range kernels64 {
		if KStep%kr.kc != 0 {
			t.Errorf("f64/%s: kc %d does not divide KStep %d", kr.name, kr.kc, KStep)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	m, n, k := 7, 33, 2*KStep+100
	a, b := make([]float64, m*k), make([]float64, k*n)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	whole, split := make([]float64, m*n), make([]float64, m*n)
	Dgemm(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, whole, n)
	for k0 := 0; k0 < k; k0 += KStep {
		k1 := min(k0+KStep, k)
		beta := 1.0
		if k0 == 0 {
			beta = 0
		}
		Dgemm(NoTrans, NoTrans, m, n, k1-k0, 1, a[k0:], k, b[k0*n:], n, beta, split, n)
	}
	for i := range whole {
		if whole[i] != split[i] {
			t.Fatalf("element %d: split %v, whole %v", i, split[i], whole[i])
		}
	}
}
