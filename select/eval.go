package selection

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
)

// Loss is a model's next-token loss (mean negative log-likelihood in nats)
// on a set of sequences. Raw is the loss of its logits as they are;
// Calibrated the lowest loss of its logits divided by one temperature for
// every position (Temperature, found by minimising the loss, which is convex
// in 1/T): an untrained model whose logits are confidently wrong shows what
// it knows once they are softened.
type Loss struct {
	Raw, Calibrated, Temperature float64
	// Tokens is the number of predicted positions.
	Tokens int
}

// maxEvalLogits bounds the logits Evaluate keeps for its temperature search.
const maxEvalLogits = 1 << 28

// Evaluate runs g (float32) on the sequences and returns its loss: each
// position predicts the next id of its sequence.
func Evaluate(g *graph.Graph, seqs [][]int) (Loss, error) {
	m, err := probe.New(g, probe.F32)
	if err != nil {
		return Loss{}, err
	}
	if !m.HasLMHead() {
		return Loss{}, fmt.Errorf("evaluate: the model has no language-model head")
	}
	m.SkipHidden = true
	V := m.OutputWidth()
	n := 0
	for _, s := range seqs {
		n += max(len(s)-1, 0)
	}
	if n == 0 {
		return Loss{}, fmt.Errorf("evaluate: no sequence of two or more ids")
	}
	if n*V > maxEvalLogits {
		return Loss{}, fmt.Errorf("evaluate: %d positions × %d logits is more than the %d this evaluation keeps; give fewer or shorter sequences", n, V, maxEvalLogits)
	}
	logits := make([]float32, 0, n*V)
	targets := make([]int, 0, n)
	for lo := 0; lo < len(seqs); {
		hi, k := lo, 0
		for hi < len(seqs) && (hi == lo || k+len(seqs[hi]) <= batchTokens) {
			k += len(seqs[hi])
			hi++
		}
		rs, err := m.ForwardBatch(seqs[lo:hi])
		if err != nil {
			return Loss{}, fmt.Errorf("evaluate: sequences %d..%d: %w", lo, hi-1, err)
		}
		for b, r := range rs {
			s := seqs[lo+b]
			for t := 0; t+1 < len(s); t++ {
				for _, v := range r.Logits[t] {
					logits = append(logits, float32(v))
				}
				targets = append(targets, s[t+1])
			}
		}
		lo = hi
	}
	raw, _, _ := nll(logits, targets, V, 1)
	for _, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Loss{}, fmt.Errorf("evaluate: non-finite logits")
		}
	}
	beta := calibrate(logits, targets, V)
	cal, _, _ := nll(logits, targets, V, beta)
	t := math.Inf(1)
	if beta > 0 {
		t = 1 / beta
	}
	return Loss{Raw: raw, Calibrated: min(cal, raw), Temperature: t, Tokens: len(targets)}, nil
}

// nll returns the mean negative log-likelihood of the targets under
// softmax(β·logits), and its first and second derivatives in β.
func nll(logits []float32, targets []int, V int, beta float64) (f, df, d2f float64) {
	for p, y := range targets {
		row := logits[p*V : (p+1)*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, beta*float64(v))
		}
		var z, ez, ez2 float64
		for _, v := range row {
			e := math.Exp(beta*float64(v) - mx)
			z += e
			ez += e * float64(v)
			ez2 += e * float64(v) * float64(v)
		}
		mean := ez / z
		f += mx + math.Log(z) - beta*float64(row[y])
		df += mean - float64(row[y])
		d2f += ez2/z - mean*mean
	}
	n := float64(len(targets))
	return f / n, df / n, d2f / n
}

// calibrate returns the inverse temperature β ≥ 0 that minimises the loss:
// Newton steps on its derivative (increasing, the loss being convex in β),
// kept inside a bracket that bisection shrinks.
func calibrate(logits []float32, targets []int, V int) float64 {
	lo, hi := 0.0, 1.0
	for range 60 { // find hi with a non-negative derivative
		if _, df, _ := nll(logits, targets, V, hi); df >= 0 {
			break
		}
		lo, hi = hi, 2*hi
	}
	beta := (lo + hi) / 2
	for range 50 {
		_, df, d2f := nll(logits, targets, V, beta)
		if df > 0 {
			hi = beta
		} else {
			lo = beta
		}
		next := beta - df/d2f
		if d2f <= 0 || math.IsNaN(next) || next <= lo || next >= hi {
			next = (lo + hi) / 2
		}
		if math.Abs(next-beta) <= 1e-9*math.Max(1, beta) || hi-lo <= 1e-9 {
			return next
		}
		beta = next
	}
	return beta
}

// RandomInit returns a model of g's shape with the initialisation
// transformers gives a new model: every matrix and embedding drawn from
// N(0, std²), norm gains 1, biases 0 (extras keep g's). std 0 reads the
// config's initializer_range, else 0.02.
func RandomInit(g *graph.Graph, std float64, seed uint64) *graph.Graph {
	if std == 0 {
		std = 0.02
		if g.Config != nil {
			if v, ok := g.Config.Get("initializer_range"); ok {
				if f, ok := v.(float64); ok && f > 0 {
					std = f
				}
			}
		}
	}
	out := *g
	out.Layers = slices.Clone(g.Layers)
	for _, f := range out.Fields() {
		t := *f.T
		if t == nil {
			continue
		}
		decl, ok := graph.DeclOf(f.Role)
		if !ok {
			continue
		}
		sh := t.Shape()
		v := make([]float32, prodInts(sh))
		switch decl.Kind {
		case graph.KindLinear, graph.KindTable:
			rng := rand.New(rand.NewPCG(seed, hashRole(f.Role)))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		case graph.KindNormWeight:
			for i := range v {
				v[i] = 1
			}
		}
		*f.T = graph.NewDense32(v, checkpoint.F32, slices.Clone(sh)...)
	}
	return &out
}

func prodInts(sh []int) int {
	n := 1
	for _, d := range sh {
		n *= d
	}
	return n
}

// hashRole is FNV-1a of a role name, a stream key per tensor.
func hashRole(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
