// Package tokeneval measures a vocabulary extension before any training:
// bits per byte of the source and extended models on the same text, each
// with its own tokenizer, compression, the KL divergence and new-token mass
// on old tokens, and the new tokens the extended tokenizer cannot produce
// (grow tokens eval).
package tokeneval

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/tokens"
)

// Side is one model on the text: its bits per byte, negative
// log-likelihood in nats, tokens and compression.
type Side struct {
	BitsPerByte   float64 `json:"bits_per_byte"`
	NLL           float64 `json:"nll_nats"`
	Tokens        int     `json:"tokens"`
	BytesPerToken float64 `json:"bytes_per_token"`
}

// Report is the evaluation of a vocabulary extension on a text (what grow
// tokens eval prints).
type Report struct {
	Documents int  `json:"documents"`
	Bytes     int  `json:"bytes"`
	Source    Side `json:"source"`
	Extended  Side `json:"extended"`
	// Ratio is Extended.BitsPerByte / Source.BitsPerByte.
	Ratio float64 `json:"bpb_ratio"`
	// NewTokens are the new rows (tokens and padding); NewUsed the
	// positions of the extended tokenization that are new tokens, Distinct
	// how many different new tokens fire.
	NewTokens   int `json:"new_rows"`
	NewUsed     int `json:"new_token_positions"`
	NewDistinct int `json:"new_tokens_used"`
	VocabNew    int `json:"new_vocabulary_tokens"`
	Unreachable int `json:"unreachable"`
	// OldPos are the positions of the source's tokenization the KL and
	// the new tokens' mass are averaged over.
	OldPos        int      `json:"old_token_positions"`
	MeanKL        float64  `json:"mean_kl_old_tokens"`
	MaxKL         float64  `json:"max_kl_old_tokens"`
	MeanNewMass   float64  `json:"mean_new_mass"`
	MaxNewMass    float64  `json:"max_new_mass"`
	HewittBoundKL float64  `json:"kl_bound_mean_rows"`
	Notes         []string `json:"notes,omitempty"`
}

// model is one side: its graph, forward pass and tokenizer.
type model struct {
	g     *graph.Graph
	m     *probe.Model
	tok   *tokens.Encoder
	first []int
	max   int
}

// Model is one side of an evaluation: a model's weight graph and the
// directory that holds its tokenizer.json. Path names it in errors.
type Model struct {
	Path  string
	Graph *graph.Graph
	Dir   string
}

// open prepares a side for evaluation: its forward pass and tokenizer.
func open(s Model, prec probe.Precision) (*model, error) {
	g := s.Graph
	if !g.Features().Causal {
		return nil, fmt.Errorf("%s: a %s model is not a causal language model: bits per byte need next-token probabilities", s.Path, g.Family)
	}
	tok, err := tokens.Load(s.Dir)
	if err != nil {
		return nil, err
	}
	m, err := probe.New(g, prec)
	if err != nil {
		return nil, err
	}
	m.SkipHidden = true
	first, err := probe.FirstIDs(g)
	if err != nil {
		return nil, err
	}
	mx := g.Positions
	if mx <= 0 {
		mx = 1 << 30
	}
	return &model{g: g, m: m, tok: tok, first: first, max: mx}, nil
}

// ids tokenizes a document with the special tokens, and the start token in
// front when the post-processor adds none.
func (e *model) ids(doc string) []int {
	ids := e.tok.IDs(doc, true)
	if len(e.first) > 0 && (len(ids) == 0 || ids[0] != e.first[0]) {
		ids = append(append([]int(nil), e.first...), ids...)
	}
	return ids
}

// windows cuts ids into forward passes of at most e.max positions; every
// window after the first starts again with the start token (or the last id
// before it).
func (e *model) windows(ids []int) [][]int {
	if len(ids) <= e.max {
		return [][]int{ids}
	}
	var out [][]int
	out = append(out, ids[:e.max])
	for i := e.max; i < len(ids); {
		start := ids[i-1]
		if len(e.first) > 0 {
			start = e.first[0]
		}
		end := min(len(ids), i+e.max-1)
		out = append(out, append([]int{start}, ids[i:end]...))
		i = end
	}
	return out
}

// logSumExp of x.
func logSumExp(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// nll runs ids and returns the sum of -log p(ids[t] | ids[<t]) over t ≥ 1 of
// every window, and the logits of each window.
func (e *model) nll(ids []int, keep bool) (float64, int, [][][]float64, error) {
	total, n := 0.0, 0
	var logits [][][]float64
	for _, w := range e.windows(ids) {
		r, err := e.m.Forward(w)
		if err != nil {
			return 0, 0, nil, err
		}
		for t := 0; t+1 < len(w); t++ {
			row := r.Logits[t]
			total += logSumExp(row) - row[w[t+1]]
			n++
		}
		if keep {
			logits = append(logits, r.Logits)
		}
	}
	return total, n, logits, nil
}

// Extension evaluates ext, src after a vocabulary extension, on text:
// documents separated by blank lines, each run through both models with its
// own tokenizer, and the source's tokenization through both (see Report).
func Extension(srcModel, extModel Model, text string, prec probe.Precision) (*Report, error) {
	srcPath, extPath := srcModel.Path, extModel.Path
	src, err := open(srcModel, prec)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	ext, err := open(extModel, prec)
	if err != nil {
		return nil, fmt.Errorf("extended: %w", err)
	}
	V := src.g.Vocab
	if ext.g.Vocab < V {
		return nil, fmt.Errorf("%s has %d rows, fewer than %s's %d: not an extension", extPath, ext.g.Vocab, srcPath, V)
	}
	docs := tokens.Documents(text)
	if len(docs) == 0 {
		return nil, fmt.Errorf("the text has no documents")
	}
	rep := &Report{Documents: len(docs), NewTokens: ext.g.Vocab - V}
	// The new rows: ids the source's tokenizer does not have.
	isNew := func(id int) bool {
		if id >= V {
			return true
		}
		_, ok := src.tok.TokenString(id)
		return !ok
	}
	used := map[int]bool{}
	klSum, massSum := 0.0, 0.0
	for _, d := range docs {
		rep.Bytes += len(d)
		si, ei := src.ids(d), ext.ids(d)
		for _, id := range ei {
			if isNew(id) {
				rep.NewUsed++
				used[id] = true
			}
		}
		sn, sc, slog, err := src.nll(si, true)
		if err != nil {
			return nil, err
		}
		same := slices.Equal(si, ei)
		en, ec, elog, err := ext.nll(ei, same)
		if err != nil {
			return nil, err
		}
		rep.Source.NLL += sn
		rep.Source.Tokens += sc
		rep.Extended.NLL += en
		rep.Extended.Tokens += ec
		// The old tokens' distribution: the extended model on the
		// source's tokenization, which has no new token.
		for wi, w := range src.windows(si) {
			var qs [][]float64
			if same {
				qs = elog[wi]
			} else {
				r, err := ext.m.Forward(w)
				if err != nil {
					return nil, err
				}
				qs = r.Logits
			}
			for t := range w {
				p := slog[wi][t]
				q := qs[t]
				zp, zq := logSumExp(p), logSumExp(q)
				kl := 0.0
				for i, v := range p {
					lp := v - zp
					kl += math.Exp(lp) * (lp - (q[i] - zq))
				}
				mass := 0.0
				for i := V; i < len(q); i++ {
					mass += math.Exp(q[i] - zq)
				}
				for i := 0; i < V; i++ {
					if isNew(i) {
						mass += math.Exp(q[i] - zq)
					}
				}
				klSum += kl
				massSum += mass
				rep.MaxKL = max(rep.MaxKL, kl)
				rep.MaxNewMass = max(rep.MaxNewMass, mass)
				rep.OldPos++
			}
		}
	}
	rep.MeanKL = klSum / float64(max(1, rep.OldPos))
	rep.MeanNewMass = massSum / float64(max(1, rep.OldPos))
	rep.NewDistinct = len(used)
	old := src.tok.Len()
	rep.HewittBoundKL = math.Log1p(float64(rep.NewTokens) / float64(old))
	for _, s := range []*Side{&rep.Source, &rep.Extended} {
		s.BitsPerByte = s.NLL / (math.Ln2 * float64(rep.Bytes))
		if s.Tokens > 0 {
			s.BytesPerToken = float64(rep.Bytes) / float64(s.Tokens)
		}
	}
	if rep.Source.BitsPerByte > 0 {
		rep.Ratio = rep.Extended.BitsPerByte / rep.Source.BitsPerByte
	}
	// Reachability of the new vocabulary tokens.
	for id := V; id < ext.g.Vocab; id++ {
		if !isNew(id) {
			continue
		}
		if t, ok := ext.tok.TokenString(id); ok {
			if _, inSrc := src.tok.TokenID(t); inSrc {
				continue
			}
			if ext.tok.IsVocab(id) {
				rep.VocabNew++
				if !ext.tok.Reachable(id) {
					rep.Unreachable++
				}
			}
		}
	}
	return rep, nil
}

// Print writes the report as text.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "text             %d documents, %d bytes\n", r.Documents, r.Bytes)
	fmt.Fprintf(w, "                 %-12s %-12s\n", "source", "extended")
	fmt.Fprintf(w, "bits per byte    %-12.4f %-12.4f ratio %.4f\n", r.Source.BitsPerByte, r.Extended.BitsPerByte, r.Ratio)
	fmt.Fprintf(w, "tokens           %-12d %-12d\n", r.Source.Tokens, r.Extended.Tokens)
	fmt.Fprintf(w, "bytes per token  %-12.4f %-12.4f\n", r.Source.BytesPerToken, r.Extended.BytesPerToken)
	fmt.Fprintf(w, "new rows         %d (%d vocabulary tokens, %d unreachable); %d of them fire, at %d positions (%.1f%% of the extended tokens)\n",
		r.NewTokens, r.VocabNew, r.Unreachable, r.NewDistinct, r.NewUsed, 100*float64(r.NewUsed)/math.Max(1, float64(r.Extended.Tokens)))
	fmt.Fprintf(w, "old tokens       the source's tokenization, %d positions: mean KL(p_src ‖ p_ext) %.3g (max %.3g), new-token mass mean %.3g (max %.3g); mean rows bound the KL by log(1+k/n) = %.3g\n",
		r.OldPos, r.MeanKL, r.MaxKL, r.MeanNewMass, r.MaxNewMass, r.HewittBoundKL)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
