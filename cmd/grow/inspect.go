package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/grow-ml/grow/graph"
)

func newInspectCmd() *cobra.Command {
	var tensors, asJSON, stats bool
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Show a checkpoint's family, sizes, dtypes and parameter count",
		Long: `inspect reads a model directory (config.json + model.safetensors, or a sharded
index) or a bare .safetensors file and prints its family, hidden size, layers, heads,
key/value heads, head_dim, FFN size, vocabulary, whether the output head is tied to the
embedding, dtypes, parameter count, bytes and shards. Only headers are read, except
that a head stored beside a tied embedding is compared with it.

With --tensors every tensor is listed with its role in the weight graph, shape and
dtype. A tensor that fits no role of its family is an error.

The tokenizer files are parsed (an invalid one is an error naming it) and
described, and the special-token ids of config.json and generation_config.json
(bos, eos, pad, unk, cls, sep, mask, decoder start) are listed with their tokens;
an id outside the vocabulary, or a tokenizer with ids beyond it, is reported as a
problem. --stats reads every float tensor's data once and reports its minimum,
maximum and RMS over the finite values and its count of NaN and infinities (with
a progress bar on a terminal).`,
		Example: `  grow inspect testdata/stories260k
  grow inspect testdata/gpt2-random-realtok --tensors
  grow inspect path/to/model --json | jq .parameters
  grow inspect path/to/model --stats`,
		Args: exactArgs("MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := inspectModel(args[0], tensors)
			if err != nil {
				return err
			}
			if stats {
				if rep.Stats, err = inspectScanPath(args[0], cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			return rep.writeText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&tensors, "tensors", false, "list every tensor with its role, shape and dtype")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&stats, "stats", false, "read every tensor: min, max, RMS and the count of NaN and infinities")
	return cmd
}

// inspectReport is what grow inspect prints (--json writes it as is).
type inspectReport struct {
	Path          string   `json:"path"`
	Family        string   `json:"family,omitempty"`
	ModelType     string   `json:"model_type,omitempty"`
	Architectures []string `json:"architectures,omitempty"`
	Hidden        int      `json:"hidden_size,omitempty"`
	Layers        int      `json:"layers,omitempty"`
	Heads         int      `json:"heads,omitempty"`
	KVHeads       int      `json:"kv_heads,omitempty"`
	HeadDim       int      `json:"head_dim,omitempty"`
	FFN           int      `json:"ffn_size,omitempty"`
	Vocab         int      `json:"vocab_size,omitempty"`
	Positions     int      `json:"max_positions,omitempty"`
	TypeVocab     int      `json:"type_vocab_size,omitempty"`
	// Head is "tied", "untied" or "none" (a base model without an output head).
	Head      string  `json:"head,omitempty"`
	Tied      bool    `json:"tied"`
	Norm      string  `json:"norm,omitempty"`
	Eps       float64 `json:"norm_eps,omitempty"`
	Act       string  `json:"activation,omitempty"`
	RopeTheta float64 `json:"rope_theta,omitempty"`
	// RotaryDims is how many dims of each head RoPE rotates (head_dim unless
	// the config asks for partial rotary); QKNorm: queries and keys are
	// normalised per head (Qwen3).
	RotaryDims int  `json:"rotary_dims,omitempty"`
	QKNorm     bool `json:"qk_norm,omitempty"`
	// Features says in words what the family's forward pass does beyond a
	// plain block (graph.Graph.Distinctive): parallel residual, rotary
	// fraction, norm form, QK-norm, post-LN, ...
	Features    []string `json:"features,omitempty"`
	ConfigDType string   `json:"config_dtype,omitempty"`
	// DTypes counts tensors per dtype.
	DTypes map[string]int `json:"dtypes"`
	// Parameters counts the elements of float weights (a tied head once; buffers
	// such as causal masks and position ids not).
	Parameters int64 `json:"parameters"`
	// Bytes is the tensor data; FileBytes the safetensors files on disk.
	Bytes     int64           `json:"bytes"`
	FileBytes int64           `json:"file_bytes"`
	Shards    []string        `json:"shards"`
	Extras    []inspectExtra  `json:"extras,omitempty"`
	Tensors   []inspectTensor `json:"tensors,omitempty"`
	// Tokenizer describes the tokenizer files; SpecialIDs the special-token
	// ids of the configs; Problems what is inconsistent (ids outside the
	// vocabulary).
	Tokenizer  *inspectTokenizer `json:"tokenizer,omitempty"`
	SpecialIDs []inspectSpecial  `json:"special_ids,omitempty"`
	Problems   []string          `json:"problems,omitempty"`
	// Stats summarises every float tensor's data (--stats).
	Stats []inspectStats `json:"stats,omitempty"`
}

type inspectExtra struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Rule string `json:"rule"`
}

type inspectTensor struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles,omitempty"`
	Shape []int    `json:"shape"`
	DType string   `json:"dtype"`
	File  string   `json:"file"`
}

// inspectModel opens a model and describes it.
func inspectModel(path string, withTensors bool) (*inspectReport, error) {
	ck, g, err := openModel(path)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	rep := &inspectReport{Path: path, DTypes: map[string]int{}, Shards: []string{}}
	for _, f := range ck.Files {
		rep.Shards = append(rep.Shards, filepath.Base(f.Path))
		if st, err := os.Stat(f.Path); err == nil {
			rep.FileBytes += st.Size()
		}
	}
	for _, t := range ck.Tensors {
		rep.DTypes[string(t.DType)]++
		rep.Bytes += t.ByteSize()
	}
	roles := map[string][]string{}
	if g == nil {
		for _, t := range ck.Tensors {
			if t.DType.IsFloat() {
				rep.Parameters += int64(t.NumElements())
			}
		}
	} else {
		describeGraph(rep, g)
		for _, r := range g.Roles() {
			if r.Rule != graph.RuleDrop && r.T.DType().IsFloat() {
				rep.Parameters += int64(numel(r.T.Shape()))
			}
			name := r.Role
			if r.Rule != "" {
				name += " (" + r.Rule + ")"
			}
			for _, n := range r.Names {
				roles[n] = append(roles[n], name)
			}
		}
	}
	vocab := 0
	if g != nil {
		vocab = g.Vocab
	}
	tok, names, problems, err := inspectTokenizerFiles(ck.Dir, vocab)
	if err != nil {
		return nil, err
	}
	rep.Tokenizer, rep.Problems = tok, problems
	specials, problems := inspectSpecials(ck.Config, ck.Dir, vocab, names)
	rep.SpecialIDs, rep.Problems = specials, append(rep.Problems, problems...)
	if withTensors {
		for _, t := range ck.Tensors {
			rep.Tensors = append(rep.Tensors, inspectTensor{Name: t.Name, Roles: roles[t.Name],
				Shape: append([]int{}, t.Shape...), DType: string(t.DType), File: filepath.Base(t.File)})
		}
	}
	return rep, nil
}

// inspectScanPath opens path again and scans its data (--stats).
func inspectScanPath(path string, stderr io.Writer) ([]inspectStats, error) {
	ck, _, err := openModel(path)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	return inspectScan(ck, stderr)
}

func describeGraph(rep *inspectReport, g *graph.Graph) {
	c := g.Config
	rep.Family, rep.ModelType, rep.Architectures = string(g.Family), c.ModelType, c.Architectures
	rep.Hidden, rep.Layers, rep.Heads, rep.KVHeads, rep.HeadDim = g.Hidden, g.Dims.Layers, g.Heads, g.KVHeads, g.HeadDim
	rep.FFN, rep.Vocab, rep.Positions, rep.TypeVocab = g.FFN, g.Vocab, g.Positions, g.TypeVocab
	rep.Tied = g.Tied
	switch {
	case g.Headless:
		rep.Head = "none"
	case g.Tied:
		rep.Head = "tied"
	default:
		rep.Head = "untied"
	}
	rep.Norm, rep.Eps, rep.Act, rep.RopeTheta, rep.ConfigDType = string(g.NormKind), g.Eps, g.Act, g.RopeTheta, c.DType
	rep.RotaryDims, rep.QKNorm = g.RotaryDim(), g.Features().QKNorm
	rep.Features = g.Distinctive()
	for _, x := range g.Extras {
		rep.Extras = append(rep.Extras, inspectExtra{Name: x.Name, Role: x.Role, Rule: x.Rule})
	}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// thousands writes n with comma separators: 260032 → "260,032".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// humanBytes writes a byte count in decimal units: 1044992 → "1.04 MB".
func humanBytes(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	v := float64(n)
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.3g %s", v, units[i])
}

func (r *inspectReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	line("model", "%s", r.Path)
	if r.Family == "" {
		line("family", "unknown (no config.json: a bare safetensors file)")
	} else {
		arch := ""
		if len(r.Architectures) > 0 {
			arch = ", " + strings.Join(r.Architectures, ", ")
		}
		line("family", "%s (model_type %s%s)", r.Family, r.ModelType, arch)
		line("hidden size", "%d", r.Hidden)
		line("layers", "%d", r.Layers)
		line("heads", "%d", r.Heads)
		line("key/value heads", "%d", r.KVHeads)
		line("head_dim", "%d", r.HeadDim)
		line("FFN size", "%d", r.FFN)
		line("vocabulary", "%d", r.Vocab)
		if r.Positions > 0 {
			line("positions", "%d", r.Positions)
		}
		if r.TypeVocab > 0 {
			line("token types", "%d", r.TypeVocab)
		}
		switch r.Head {
		case "tied":
			line("output head", "tied to the embedding")
		case "untied":
			line("output head", "untied (its own matrix)")
		default:
			line("output head", "none (base model; tie_word_embeddings %v)", r.Tied)
		}
		line("norm", "%s, eps %g", r.Norm, r.Eps)
		for _, f := range r.Features {
			line("feature", "%s", f)
		}
		line("activation", "%s", r.Act)
		if r.RopeTheta > 0 {
			if r.RotaryDims != r.HeadDim {
				line("rope theta", "%g, rotating %d of each head's %d dims", r.RopeTheta, r.RotaryDims, r.HeadDim)
			} else {
				line("rope theta", "%g", r.RopeTheta)
			}
		}
	}
	dts := make([]string, 0, len(r.DTypes))
	for d := range r.DTypes {
		dts = append(dts, d)
	}
	sort.Strings(dts)
	parts := make([]string, len(dts))
	for i, d := range dts {
		parts[i] = fmt.Sprintf("%s (%d tensors)", d, r.DTypes[d])
	}
	dtl := strings.Join(parts, ", ")
	if r.ConfigDType != "" {
		dtl += "; config says " + r.ConfigDType
	}
	line("dtypes", "%s", dtl)
	line("parameters", "%s", thousands(r.Parameters))
	line("bytes", "%s of tensor data (%s), %s on disk", thousands(r.Bytes), humanBytes(r.Bytes), humanBytes(r.FileBytes))
	line("shards", "%d (%s)", len(r.Shards), strings.Join(r.Shards, ", "))
	for _, x := range r.Extras {
		line("extra", "%s: %s, rule %s", x.Name, x.Role, x.Rule)
	}
	r.writeChecks(line)
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := r.writeStats(w); err != nil {
		return err
	}
	if len(r.Tensors) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tROLE\tSHAPE\tDTYPE")
	for _, t := range r.Tensors {
		role := joinRoles(t.Roles)
		if role == "" {
			role = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", t.Name, role, t.Shape, t.DType)
	}
	return tw.Flush()
}

// joinRoles writes roles that differ in one dotted component compactly:
// layers.0.attn.{q,k,v}.weight.
func joinRoles(roles []string) string {
	if len(roles) < 2 {
		return strings.Join(roles, ", ")
	}
	first := strings.Split(roles[0], ".")
	diff := -1
	alts := []string{first[0]}
	for _, r := range roles[1:] {
		p := strings.Split(r, ".")
		if len(p) != len(first) {
			return strings.Join(roles, ", ")
		}
		for i := range p {
			if p[i] != first[i] {
				if diff != -1 && diff != i {
					return strings.Join(roles, ", ")
				}
				diff = i
			}
		}
	}
	if diff == -1 {
		return roles[0]
	}
	alts = alts[:0]
	for _, r := range roles {
		alts = append(alts, strings.Split(r, ".")[diff])
	}
	first[diff] = "{" + strings.Join(alts, ",") + "}"
	return strings.Join(first, ".")
}
