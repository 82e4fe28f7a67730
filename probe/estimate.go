package probe

import (
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	kernels "github.com/grow-ml/grow/internal/gemm"
)

// Estimate is what a check costs, worked out from the shapes before it runs
// (EstimateCheck), or measured as it ran (Report.Cost).
type Estimate struct {
	// FLOPs counts the floating-point operations of the matrix products of
	// both passes (two per multiply-add: projections, attention, head).
	FLOPs float64 `json:"flops"`
	// ReadBytes is the tensor data both passes read.
	ReadBytes float64 `json:"read_bytes"`
	// Memory is the peak bytes the check holds (EstimateCheck); the
	// process's peak resident set is measured by the caller.
	Memory float64 `json:"memory_bytes,omitempty"`
	// Seconds is the wall time: estimated (with GFLOPS the rate assumed) or
	// measured (GFLOPS = FLOPs / Seconds achieved).
	Seconds float64 `json:"seconds"`
	GFLOPS  float64 `json:"gflops"`
	// DecodeSeconds is the part of an estimated Seconds spent decoding the
	// weights (at Rates.Decode, from memory: reading them from a disk adds
	// its own time).
	DecodeSeconds float64 `json:"decode_seconds,omitempty"`
}

// Rates are the speeds of this machine that EstimateCheck's time assumes
// (MeasureRates).
type Rates struct {
	// GFLOPS is the rate of the matrix products.
	GFLOPS float64
	// Decode is the bytes per second of stored data decoded and checked for
	// NaN and infinities in the check's precision, per stored dtype.
	Decode map[checkpoint.DType]float64
}

// EstimateCheck works out the cost of Check(src, dst, _, opts) from the
// models' shapes, and its time at the rates r (MeasureRates; zero rates
// leave the time out): the products at r.GFLOPS, the weights decoded at
// r.Decode. Reading from a disk is not in it.
//
// The memory is that of the streaming pass (Open): per model its vectors
// (norms, biases, learned positions), one block of a matrix, a matrix that
// cannot be read by blocks (decoded whole when used), the activations of
// the pass, and the logits and hidden states of every probe position, which
// the check keeps for both models.
func EstimateCheck(src, dst *graph.Graph, opts CheckOptions, r Rates) Estimate {
	var positions, pairs float64
	if opts.IDs != nil {
		for _, s := range opts.IDs {
			positions += float64(len(s))
			pairs += float64(len(s)) * float64(len(s)+1) / 2
		}
	} else {
		n, p := float64(max(opts.SeqLen, 1)), float64(max(opts.Probes, 1))
		positions, pairs = n*p, n*(n+1)/2*p
	}
	size := 8.0
	if opts.Precision == F32 {
		size = 4
	}
	var e Estimate
	var transient float64
	for _, g := range []*graph.Graph{src, dst} {
		var vectors, matrices, whole, bytes float64
		for _, f := range g.Fields() {
			t := *f.T
			if isNil(t) {
				continue
			}
			n := 1.0
			for _, d := range t.Shape() {
				n *= float64(d)
			}
			bytes += n * float64(t.DType().Size())
			if rate := r.Decode[t.DType()]; rate > 0 {
				e.DecodeSeconds += n * float64(t.DType().Size()) / rate
			}
			switch {
			case len(t.Shape()) != 2 || f.Role == "pos" || f.Role == "token_type" || f.Role == "pos_pad":
				vectors += n
			default:
				matrices += n
				if !readsByBlocks(t) {
					whole = math.Max(whole, n)
				}
			}
		}
		e.ReadBytes += bytes
		if g.Tied && !g.Headless { // the head reads the embedding again
			b := float64(g.Vocab) * float64(g.Hidden) * float64(sizeOf(g))
			e.ReadBytes += b
			if rate := r.Decode[embedDType(g)]; rate > 0 {
				e.DecodeSeconds += b / rate
			}
		}
		D, L, V := float64(g.Hidden), float64(g.Dims.Layers), float64(g.Vocab)
		H, K, d, I := float64(g.Heads), float64(g.KVHeads), float64(g.HeadDim), float64(g.FFN)
		e.FLOPs += spanFLOPs(g, positions, pairs, span{from: 0, to: g.Dims.Layers, head: true})
		acts := positions * (4*D + (H+2*K)*d + H*d + 3*I + V) * size
		held := positions * ((L+1)*D + V) * 8
		e.Memory += vectors*size + held
		transient = math.Max(transient, acts+math.Min(float64(blockValues), matrices)*size+whole*size)
	}
	e.Memory += transient + 64<<20 // the runtime, the binary and the buffers of reads
	e.GFLOPS = r.GFLOPS
	if r.GFLOPS > 0 {
		e.Seconds = e.FLOPs/(r.GFLOPS*1e9) + e.DecodeSeconds
	}
	return e
}

// readsByBlocks reports whether a streamed matrix reads t block by block
// (newMatrix), rather than decoding it whole when it is used.
func readsByBlocks(t graph.Tensor) bool {
	if _, ok := graph.RowReaderOf(t); ok {
		return true
	}
	v, ok := t.(*graph.View)
	return ok && v.Transposed && v.Stride == 0 && len(v.Src.Shape) == 2
}

// MeasureRates measures this machine's rates for a check in precision p of
// models stored in dtypes (a few tens of milliseconds).
func MeasureRates(p Precision, dtypes ...checkpoint.DType) Rates {
	r := Rates{GFLOPS: KernelGFLOPS(p), Decode: map[checkpoint.DType]float64{}}
	for _, dt := range dtypes {
		if _, done := r.Decode[dt]; !done && dt.IsFloat() {
			r.Decode[dt] = DecodeRate(dt, p)
		}
	}
	return r
}

// DecodeRate measures the bytes per second at which stored data of dtype dt
// is decoded to precision p and checked for NaN and infinities, on every
// core, as a streamed pass does it (the data in memory).
func DecodeRate(dt checkpoint.DType, p Precision) float64 {
	const n = 1 << 20 // values per core
	workers := runtime.GOMAXPROCS(0)
	src := make([]byte, n*dt.Size())
	var wg sync.WaitGroup
	best := time.Duration(math.MaxInt64)
	for range 3 {
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if p == F32 {
					dst := make([]float32, n)
					_ = checkpoint.DecodeFloat32(dst, src, dt)
					_ = checkFinite(dst, nil, "")
				} else {
					dst := make([]float64, n)
					_ = checkpoint.DecodeFloat64(dst, src, dt)
					_ = checkFinite(dst, nil, "")
				}
			}()
		}
		wg.Wait()
		best = min(best, time.Since(start))
	}
	return float64(workers*len(src)) / best.Seconds()
}

// KernelGFLOPS measures the rate of this machine's matrix products in
// precision p on a product shaped like a check's (256 positions through a
// 1024×1024 matrix), on every core: the rate EstimateCheck's time assumes.
// It takes a few tens of milliseconds.
func KernelGFLOPS(p Precision) float64 {
	const m, n, k = 256, 1024, 1024
	a32, b32, c32 := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
	a64, b64, c64 := make([]float64, m*k), make([]float64, n*k), make([]float64, m*n)
	run := func() time.Duration {
		start := time.Now()
		if p == F32 {
			kernels.Sgemm(kernels.NoTrans, kernels.Trans, m, n, k, 1, a32, k, b32, k, 0, c32, n)
		} else {
			kernels.Dgemm(kernels.NoTrans, kernels.Trans, m, n, k, 1, a64, k, b64, k, 0, c64, n)
		}
		return time.Since(start)
	}
	best := run()
	for range 2 {
		best = min(best, run())
	}
	return 2 * m * n * k / best.Seconds() / 1e9
}
