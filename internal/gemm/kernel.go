package gemm

// kernels32 and kernels64 are the micro-kernels this machine can run, fastest
// first; the portable Go kernel is always last.
var kernels32, kernels64 = available()

// active32 and active64 are the kernels Sgemm and Dgemm use: the fastest.
var active32, active64 = kernels32[0], kernels64[0]

func available() ([]*kernel[float32], []*kernel[float64]) {
	k32, k64 := archKernels()
	return append(k32, goKernel[float32]()), append(k64, goKernel[float64]())
}

// goKernel is the portable kernel: a 4×4 tile in sixteen scalar accumulators.
func goKernel[T float]() *kernel[T] {
	return &kernel[T]{name: "go", mr: 4, nr: 4, kc: 256, mc: 512, nc: 1024, micro: micro4x4[T]}
}

// micro4x4 is the micro-kernel contract (see kernel) for a 4×4 tile in Go.
func micro4x4[T float](k int, a, b, c []T, ldc int, acc bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	a, b = a[:4*k], b[:4*k]
	for p := 0; p+4 <= len(a); p += 4 {
		av, bv := a[p:p+4:p+4], b[p:p+4:p+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00, c01, c02, c03 = c00+a0*b0, c01+a0*b1, c02+a0*b2, c03+a0*b3
		c10, c11, c12, c13 = c10+a1*b0, c11+a1*b1, c12+a1*b2, c13+a1*b3
		c20, c21, c22, c23 = c20+a2*b0, c21+a2*b1, c22+a2*b2, c23+a2*b3
		c30, c31, c32, c33 = c30+a3*b0, c31+a3*b1, c32+a3*b2, c33+a3*b3
	}
	rows := [4][4]T{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i, r := range rows {
		dst := c[i*ldc : i*ldc+4 : i*ldc+4]
		if acc {
			dst[0], dst[1], dst[2], dst[3] = dst[0]+r[0], dst[1]+r[1], dst[2]+r[2], dst[3]+r[3]
		} else {
			dst[0], dst[1], dst[2], dst[3] = r[0], r[1], r[2], r[3]
		}
	}
}
