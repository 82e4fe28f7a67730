package gemm

import "fmt"

// Transpose says whether an operand is used as stored or transposed.
type Transpose uint8

const (
	// NoTrans uses the operand as stored: op(X) = X.
	NoTrans Transpose = iota
	// Trans uses the operand transposed: op(X) = Xᵀ.
	Trans
)

// KStep is a depth that the kc of every kernel divides: a product split along
// k at multiples of KStep, its parts accumulated into C one after the other
// (beta 1), adds in the same order as the whole product and gives its values
// bit for bit.
const KStep = 768

// Sgemm computes C = alpha·op(A)·op(B) + beta·C in float32, where op(A) is
// m×k, op(B) is k×n and C is m×n, all row-major with leading dimensions
// (distance between rows) lda, ldb and ldc. A stored transposed is k×m, B
// stored transposed is n×k. When beta is 0, C is not read (NaNs in it do not
// propagate). It panics on negative sizes, leading dimensions smaller than a
// row or slices too short for the sizes, as BLAS implementations do.
func Sgemm(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) {
	gemm(active32, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm computes C = alpha·op(A)·op(B) + beta·C in float64; see Sgemm for the
// arguments.
func Dgemm(tA, tB Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int,
	beta float64, c []float64, ldc int) {
	gemm(active64, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Kernel names the micro-kernel Sgemm and Dgemm use on this machine: "avx512",
// "avx2" or "go" (the portable one).
func Kernel() string { return active32.name }

// check panics unless the arguments describe matrices that fit their slices.
func check[T float](tA, tB Transpose, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k // A as stored
	if tA == Trans {
		ar, ac = k, m
	}
	br, bc := k, n // B as stored
	if tB == Trans {
		br, bc = n, k
	}
	operand("A", a, ar, ac, lda)
	operand("B", b, br, bc, ldb)
	operand("C", c, m, n, ldc)
}

// operand panics unless x holds rows×cols elements with leading dimension ld.
func operand[T float](name string, x []T, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: ld%s=%d smaller than the %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: %s has %d elements, %d×%d with leading dimension %d needs %d",
			name, len(x), rows, cols, ld, (rows-1)*ld+cols))
	}
}
