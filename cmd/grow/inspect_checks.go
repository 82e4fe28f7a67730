package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/tokens"
)

// specialKeys are the special-token id keys of transformers' configs
// (config.json and generation_config.json).
var specialKeys = []string{"bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id", "cls_token_id",
	"sep_token_id", "mask_token_id", "decoder_start_token_id"}

// inspectSpecial is one special-token id a config names.
type inspectSpecial struct {
	File  string `json:"file"`
	Key   string `json:"key"`
	IDs   []int  `json:"ids,omitempty"`
	Token string `json:"token,omitempty"` // the first id's token in the tokenizer vocabulary
}

// inspectTokenizer describes the tokenizer files.
type inspectTokenizer struct {
	Files  []string `json:"files"`
	Model  string   `json:"model,omitempty"`
	Tokens int      `json:"tokens,omitempty"`
	MaxID  int      `json:"max_id,omitempty"`
}

// inspectStats is a tensor's data summary (--stats).
type inspectStats struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	checkpoint.Stats
}

// inspectSpecials reads the special-token ids of config.json (cfg) and of
// dir's generation_config.json, and returns them with the problems found:
// ids that are not whole numbers or not in [0, vocab).
func inspectSpecials(cfg *checkpoint.Config, dir string, vocab int, names map[int]string) ([]inspectSpecial, []string) {
	var out []inspectSpecial
	var problems []string
	read := func(file string, get func(string) (any, bool)) {
		for _, key := range specialKeys {
			v, ok := get(key)
			if !ok || v == nil {
				continue
			}
			s := inspectSpecial{File: file, Key: key}
			list, isList := v.([]any)
			if !isList {
				list = []any{v}
			}
			bad := ""
			for _, e := range list {
				f, isNum := e.(float64)
				switch {
				case !isNum || f != math.Trunc(f):
					bad = fmt.Sprintf("%s: %s %s is not a token id", file, key, jsonText(e))
				case vocab > 0 && (f < 0 || f >= float64(vocab)):
					bad = fmt.Sprintf("%s: %s %v is outside the vocabulary [0, %d)", file, key, f, vocab)
				default:
					s.IDs = append(s.IDs, int(f))
					continue
				}
				break
			}
			if bad != "" {
				problems = append(problems, bad)
				continue
			}
			if len(s.IDs) > 0 {
				s.Token = names[s.IDs[0]]
			}
			out = append(out, s)
		}
	}
	if cfg != nil {
		read("config.json", cfg.Get)
	}
	if dir != "" {
		p := filepath.Join(dir, "generation_config.json")
		if b, err := os.ReadFile(p); err == nil {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil || m == nil {
				problems = append(problems, fmt.Sprintf("generation_config.json: not a JSON object (%v)", err))
			} else {
				read("generation_config.json", func(k string) (any, bool) { v, ok := m[k]; return v, ok })
			}
		}
	}
	return out, problems
}

// unflatten returns the row-major multi-index of flat index i in shape.
func unflatten(i int64, shape []int) []int64 {
	idx := make([]int64, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		if shape[k] > 0 {
			idx[k] = i % int64(shape[k])
			i /= int64(shape[k])
		}
	}
	return idx
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// inspectTokenizerFiles describes dir's tokenizer files (already checked by
// openModel) and the problems of their ids against the vocabulary.
func inspectTokenizerFiles(dir string, vocab int) (*inspectTokenizer, map[int]string, []string, error) {
	if dir == "" {
		return nil, nil, nil, nil
	}
	info, err := tokens.CheckDir(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(info.Files) == 0 {
		return nil, nil, nil, nil
	}
	it := &inspectTokenizer{Files: info.Files}
	var problems []string
	names := tokens.ReadVocab(dir)
	if tk := info.Tokenizer; tk != nil {
		it.Model, it.Tokens, it.MaxID = tk.Model, len(tk.Vocab), tk.MaxID
		if vocab > 0 && tk.MaxID >= vocab {
			problems = append(problems, fmt.Sprintf("tokenizer.json has token ids up to %d, beyond the model's vocabulary [0, %d): "+
				"the model cannot embed them", tk.MaxID, vocab))
		}
	}
	if c := info.Config; c != nil {
		for _, a := range c.Added {
			if vocab > 0 && a.ID >= vocab {
				problems = append(problems, fmt.Sprintf("tokenizer_config.json: added token %d %q is outside the vocabulary [0, %d)",
					a.ID, a.Content, vocab))
				break
			}
		}
	}
	return it, names, problems, nil
}

// inspectScan reads every float tensor's data once (--stats), with a progress
// bar on stderr when it is a terminal.
func inspectScan(ck *checkpoint.Checkpoint, stderr io.Writer) ([]inspectStats, error) {
	var total int64
	n := 0
	for _, t := range ck.Tensors {
		if t.DType.IsFloat() {
			total += t.ByteSize()
			n++
		}
	}
	p := newProgress(stderr, "stats", false)
	if p != nil {
		p.Start(n, total)
		defer p.Finish()
	}
	var out []inspectStats
	for _, t := range ck.Tensors {
		if !t.DType.IsFloat() {
			continue
		}
		var add func(int64)
		if p != nil {
			add = func(b int64) { p.Add(b, false) }
		}
		st, err := t.Stats(add)
		if err != nil {
			return nil, err
		}
		if p != nil {
			p.Add(0, true)
		}
		out = append(out, inspectStats{Name: t.Name, Shape: t.Shape, Stats: st})
	}
	return out, nil
}

// writeChecks prints the tokenizer, the special ids, the problems and the
// summary of --stats as lines of the main table.
func (r *inspectReport) writeChecks(line func(k, format string, a ...any)) {
	if t := r.Tokenizer; t != nil {
		desc := strings.Join(t.Files, ", ")
		if t.Model != "" || t.Tokens > 0 {
			desc += fmt.Sprintf(" (tokenizer.json: %s, %d tokens, ids up to %d)", t.Model, t.Tokens, t.MaxID)
		}
		line("tokenizer", "%s", desc)
	} else if r.Family != "" {
		line("tokenizer", "none")
	}
	if len(r.SpecialIDs) > 0 {
		var parts []string
		for _, s := range r.SpecialIDs {
			ids := make([]string, len(s.IDs))
			for i, id := range s.IDs {
				ids[i] = strconv.Itoa(id)
			}
			p := s.Key + " " + strings.Join(ids, ",")
			if s.Token != "" {
				p += " " + strconv.Quote(s.Token)
			}
			if s.File != "config.json" {
				p += " (" + s.File + ")"
			}
			parts = append(parts, p)
		}
		line("special ids", "%s", strings.Join(parts, ", "))
	}
	for _, p := range r.Problems {
		line("problem", "%s", p)
	}
	if r.Stats != nil {
		var bad int64
		tensors := 0
		first := ""
		for _, s := range r.Stats {
			if k := s.NonFinite(); k > 0 {
				bad += k
				tensors++
				if first == "" {
					first = fmt.Sprintf("%s at index %v", s.Name, unflatten(s.FirstNonFinite, s.Shape))
				}
			}
		}
		if bad == 0 {
			line("non-finite", "none (%d float tensors scanned)", len(r.Stats))
		} else {
			line("non-finite", "%d values in %d tensors (first: %s)", bad, tensors, first)
		}
	}
}

// writeStats prints the --stats table.
func (r *inspectReport) writeStats(w io.Writer) error {
	if r.Stats == nil {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tMIN\tMAX\tRMS\tNaN\t+Inf\t-Inf")
	for _, s := range r.Stats {
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t%.4g\t%d\t%d\t%d\n", s.Name, s.Min, s.Max, s.RMS, s.NaN, s.PosInf, s.NegInf)
	}
	return tw.Flush()
}
