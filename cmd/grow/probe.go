package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/tokens"
	"github.com/spf13/cobra"
)

func newProbeCmd() *cobra.Command {
	var (
		idsFlag   string
		precision string
		asJSON    bool
		greedy    int
		top       int
	)
	cmd := &cobra.Command{
		Use:   "probe MODEL --ids 1,403,407",
		Short: "Run a model forward on token ids and show its logits",
		Long: `probe runs MODEL (a checkpoint directory with its config.json) forward on the given
token ids with grow's own forward pass and shows, for every position, the five most
likely next tokens (with their token strings when the model directory has a
tokenizer vocabulary). --json prints every logit instead: {"logits": [[...], ...]},
one row per position over the whole vocabulary (a BERT without an MLM head gives
its last hidden state). --greedy N appends N greedily decoded ids.`,
		Args: exactArgs("MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(idsFlag)
			if err != nil {
				return usagef("--ids: %w", err)
			}
			if len(ids) == 0 {
				return usagef("no token ids: give --ids, e.g. --ids 1,403,407")
			}
			if greedy < 0 {
				return usagef("--greedy %d: must not be negative", greedy)
			}
			if top < 0 {
				return usagef("--top %d: must not be negative", top)
			}
			prec, err := parsePrecision(precision)
			if err != nil {
				return err
			}
			c, g, err := openGraph(args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			m, err := probe.Open(g, prec)
			if err != nil {
				return err
			}
			m.SkipHidden = true
			r, err := m.Forward(ids)
			if err != nil {
				return err
			}
			var cont []int
			if greedy > 0 {
				if cont, err = m.Greedy(ids, greedy); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeProbeJSON(out, r.Logits, cont, greedy > 0)
			}
			vocab := probeReadVocab(c.Dir)
			return writeProbeText(out, args[0], g, prec, ids, r.Logits, cont, vocab, top, m.HasLMHead())
		},
	}
	f := cmd.Flags()
	f.StringVar(&idsFlag, "ids", "", "token ids, comma separated (required)")
	f.StringVar(&precision, "precision", "f64", "arithmetic: f32 or f64")
	f.BoolVar(&asJSON, "json", false, `print {"logits": [[...], ...]} (and "greedy") as JSON`)
	f.IntVar(&greedy, "greedy", 0, "append N greedily decoded ids")
	f.IntVar(&top, "top", 5, "tokens shown per position in the text output")
	return cmd
}

func writeProbeJSON(w io.Writer, logits [][]float64, greedy []int, withGreedy bool) error {
	out := struct {
		Logits [][]float64 `json:"logits"`
		Greedy []int       `json:"greedy,omitempty"`
	}{Logits: logits}
	if withGreedy {
		out.Greedy = greedy
	}
	for _, row := range logits {
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("the forward pass produced %v; JSON cannot hold it", v)
			}
		}
	}
	enc := json.NewEncoder(w)
	return enc.Encode(out)
}

func writeProbeText(w io.Writer, path string, g *graph.Graph, prec probe.Precision, ids []int, logits [][]float64,
	greedy []int, vocab map[int]string, top int, isVocab bool) error {
	fmt.Fprintf(w, "%s: %s, hidden %d, %d layers, %d heads (%d kv), vocabulary %d; precision %s\n",
		path, g.Family, g.Hidden, g.Dims.Layers, g.Heads, g.KVHeads, g.Vocab, prec)
	tok := func(id int) string {
		if s, ok := vocab[id]; ok {
			return strconv.Quote(s)
		}
		return ""
	}
	if !isVocab {
		fmt.Fprintf(w, "no LM head: the outputs are the last hidden state (width %d)\n", len(logits[0]))
	}
	for t, row := range logits {
		fmt.Fprintf(w, "%4d  %6d %-14s", t, ids[t], tok(ids[t]))
		if !isVocab {
			fmt.Fprintf(w, " |h| max %.4g\n", probeMaxAbs(row))
			continue
		}
		idx := probeTopK(row, top)
		parts := make([]string, len(idx))
		for i, j := range idx {
			if ts := tok(j); ts != "" {
				parts[i] = fmt.Sprintf("%d %s %.4f", j, ts, row[j])
			} else {
				parts[i] = fmt.Sprintf("%d %.4f", j, row[j])
			}
		}
		fmt.Fprintf(w, " → %s\n", strings.Join(parts, " | "))
	}
	if greedy != nil {
		strs := make([]string, len(greedy))
		for i, id := range greedy {
			strs[i] = strconv.Itoa(id)
		}
		fmt.Fprintf(w, "greedy: %s\n", strings.Join(strs, ","))
		if len(vocab) > 0 {
			var b strings.Builder
			for _, id := range greedy {
				b.WriteString(vocab[id])
			}
			fmt.Fprintf(w, "greedy tokens: %q\n", b.String())
		}
	}
	return nil
}

func probeMaxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// probeTopK returns the indices of the k largest values, largest first (lower index on ties).
func probeTopK(x []float64, k int) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] > x[idx[b]] })
	if k < len(idx) {
		idx = idx[:k]
	}
	return idx
}

// probeReadVocab reads id → token string from the model directory's
// tokenizer files (tokens.ReadVocab); nil when there is none: the token
// strings are a convenience of the text output.
func probeReadVocab(dir string) map[int]string { return tokens.ReadVocab(dir) }
