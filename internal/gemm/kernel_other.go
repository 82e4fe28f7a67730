//go:build !amd64 || purego

package gemm

// archKernels returns no kernels: this architecture (or a purego build) runs
// the portable Go kernel.
func archKernels() (k32 []*kernel[float32], k64 []*kernel[float64]) { return nil, nil }
