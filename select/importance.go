package selection

import (
	"fmt"
	"math"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
)

// Scores are the importance of a teacher's units, measured by its activations
// in grow's forward pass (package probe) on calibration sequences, as Minitron
// ranks them (Muralidharan et al. 2024, "Compact Language Models via Pruning
// and Knowledge Distillation"): a residual channel by the magnitude of what
// every block's normalised inputs hold on it, a query head by the norm of its
// attention output, an FFN unit by the magnitude of its activation, each
// averaged over every calibration position; a block by how much it turns the
// hidden state, 1 − cos(h_in, h_out) averaged over the positions.
type Scores struct {
	// Hidden has one score per residual channel, summed over the attention
	// and MLP inputs of every block.
	Hidden []float64
	// Heads[l][h] is query head h of teacher layer l; KVHeads[l][k] is the
	// sum over the query heads that read key/value head k.
	Heads, KVHeads [][]float64
	// FFN[l][u] is FFN unit u of teacher layer l.
	FFN [][]float64
	// Blocks[l] is teacher block l's importance (nil unless measured).
	Blocks []float64
	// Tokens is the number of calibration positions.
	Tokens int
}

// batchTokens is how many positions one forward pass of Measure runs.
const batchTokens = 4096

// Measure runs g on the calibration sequences and scores its units, and
// with blocks its blocks (which keeps every hidden state of a batch).
func Measure(g *graph.Graph, seqs [][]int, blocks bool) (*Scores, error) {
	if len(seqs) == 0 {
		return nil, fmt.Errorf("importance: no calibration sequences")
	}
	m, err := probe.New(g, probe.F32)
	if err != nil {
		return nil, err
	}
	d, L := g.Dims, len(g.Layers)
	m.SkipHidden = !blocks
	s := &Scores{Hidden: make([]float64, d.Hidden)}
	if blocks {
		s.Blocks = make([]float64, L)
	}
	s.Heads, s.KVHeads, s.FFN = grid(L, d.Heads), grid(L, d.KVHeads), grid(L, d.FFN)
	m.Observe = func(l int, site probe.Site, x []float64, rows, width int) {
		switch site {
		case probe.AttnInput, probe.MLPInput:
			addAbs(s.Hidden, x, rows, width)
		case probe.Units:
			addAbs(s.FFN[l], x, rows, width)
		case probe.Heads:
			hd := d.HeadDim
			for r := 0; r < rows; r++ {
				row := x[r*width : (r+1)*width]
				for h := range s.Heads[l] {
					ss := 0.0
					for _, v := range row[h*hd : (h+1)*hd] {
						ss += v * v
					}
					s.Heads[l][h] += math.Sqrt(ss)
				}
			}
		}
	}
	for lo := 0; lo < len(seqs); {
		hi, n := lo, 0
		for hi < len(seqs) && (hi == lo || n+len(seqs[hi]) <= batchTokens) {
			n += len(seqs[hi])
			hi++
		}
		rs, err := m.ForwardBatch(seqs[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("importance: calibration sequences %d..%d: %w", lo, hi-1, err)
		}
		for _, r := range rs {
			if !blocks {
				break
			}
			for l := 0; l < L; l++ {
				for t := range r.Hidden[l] {
					s.Blocks[l] += 1 - cosine(r.Hidden[l][t], r.Hidden[l+1][t])
				}
			}
		}
		s.Tokens += n
		lo = hi
	}
	inv := 1 / float64(s.Tokens)
	scale(s.Hidden, inv)
	scale(s.Blocks, inv)
	gq := d.Heads / d.KVHeads
	for l := 0; l < L; l++ {
		scale(s.Heads[l], inv)
		scale(s.FFN[l], inv)
		for h, v := range s.Heads[l] {
			s.KVHeads[l][h/gq] += v
		}
	}
	return s, nil
}

func grid(rows, cols int) [][]float64 {
	out := make([][]float64, rows)
	for i := range out {
		out[i] = make([]float64, cols)
	}
	return out
}

// addAbs adds |x| of every row to acc, column by column.
func addAbs(acc, x []float64, rows, width int) {
	for r := 0; r < rows; r++ {
		for i, v := range x[r*width : (r+1)*width] {
			acc[i] += math.Abs(v)
		}
	}
}

func scale(v []float64, c float64) {
	for i := range v {
		v[i] *= c
	}
}

// cosine is the cosine similarity of a and b (1 when either is zero).
func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return 1
	}
	return ab / math.Sqrt(aa*bb)
}
