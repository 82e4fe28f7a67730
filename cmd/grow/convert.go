package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/tokens"
)

// convertFlags are the flags of grow convert.
type convertFlags struct {
	outputFlags
	dtype       string
	noTokenizer bool
}

func newConvertCmd() *cobra.Command {
	var f convertFlags
	cmd := &cobra.Command{
		Use:   "convert MODEL -o OUT [--dtype f32|f16|bf16] [--max-shard-size 5GB] [--no-tokenizer]",
		Short: "Rewrite a checkpoint: change its dtype, re-shard it",
		Long: `convert reads MODEL into the weight graph and writes it back as a Hugging Face
checkpoint in OUT: the same tensors under the same names, in the dtype asked for (the
source's by default, then every tensor's bytes are copied unchanged), split into shards
of at most --max-shard-size bytes of tensor data (model-00001-of-0000N.safetensors and
an index; one model.safetensors when it fits). config.json is rewritten with the new
dtype; tokenizer files, generation_config.json and other side files are copied. The
tokenizer files (tokenizer.json, tokenizer_config.json, special_tokens_map.json) are
parsed first, and an invalid one is an error naming it; --no-tokenizer neither checks
nor copies any tokenizer file (those and vocab.json, vocab.txt, merges.txt,
added_tokens.json and SentencePiece models), and says so.

Every shard's metadata holds "format": "pt" and grow's provenance: grow.version,
grow.operator ("convert"), grow.params (the flags as JSON) and grow.source_sha256 (a
SHA-256 of the source's safetensors headers, index and config.json). A mapping that an
operator recorded in the source (grow.mapping) is kept, so that grow check still judges
the result against the operator's own source; a narrower dtype is recorded as rounding.

The output is written into a temporary directory beside OUT and renamed into place at
the end; an existing OUT is refused without --force. A progress bar is drawn on stderr
when it is a terminal, unless --quiet.`,
		Example: `  grow convert testdata/stories260k -o /tmp/stories-bf16 --dtype bf16
  grow convert path/to/model -o path/to/resharded --max-shard-size 500MB
  grow convert path/to/model -o path/to/model-f32 --dtype f32 --force --quiet`,
		Args: exactArgs("MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConvert(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "output directory (required)")
	fl.StringVar(&f.dtype, "dtype", "", "output dtype: f32, f16, bf16 or f64 (default: keep each tensor's)")
	fl.StringVar(&f.maxShardSize, "max-shard-size", "5GB", "largest shard in bytes of tensor data (5GB, 500MB, 2GiB, ...)")
	fl.BoolVar(&f.force, "force", false, "replace an existing output directory")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print nothing but errors, and no progress bar")
	fl.BoolVar(&f.noTokenizer, "no-tokenizer", false, "neither check nor copy the tokenizer files: the output has no tokenizer")
	return cmd
}

func runConvert(stdout, stderr io.Writer, src string, f convertFlags) error {
	dt, err := parseOutputDType(f.dtype)
	if err != nil {
		return err
	}
	if err := f.prepare(src); err != nil {
		return err
	}
	ck, g, err := openGraphWith(src, !f.noTokenizer)
	var te tokenizerError
	if errors.As(err, &te) {
		return fmt.Errorf("convert: %w (--no-tokenizer leaves the tokenizer files out)", err)
	}
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	defer ck.Close()
	var left []string
	if f.noTokenizer {
		kept := ck.SideFiles[:0:0]
		for _, name := range ck.SideFiles {
			if tokens.IsTokenizerFile(name) {
				left = append(left, name)
			} else {
				kept = append(kept, name)
			}
		}
		ck.SideFiles = kept
		if !f.quiet {
			what := "there were none"
			if len(left) > 0 {
				what = strings.Join(left, ", ") + " left out"
			}
			fmt.Fprintf(stderr, "note: --no-tokenizer: the tokenizer files were neither checked nor copied (%s); %s has no tokenizer\n",
				what, f.out)
		}
	}
	entries, err := g.Entries(dt)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	params, err := json.Marshal(map[string]any{"dtype": string(dt), "max_shard_size": f.maxShardSize})
	if err != nil {
		return err
	}
	meta := map[string]string{
		"grow.version":  version,
		"grow.operator": "convert",
		"grow.params":   string(params),
	}
	m, err := convertMapping(ck, g, dt)
	if err != nil {
		return err
	}
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	meta[probe.MetadataKey] = string(js)
	cfg := g.OutputConfig()
	if dt == "" && cfg != nil && g.Config != nil {
		// Every tensor keeps its dtype, so config.json keeps the source's
		// (OutputConfig takes the embedding's, which differs in a mixed-dtype
		// checkpoint; transformers loads the model in the config's dtype).
		cfg.DType = g.Config.DType
	}
	// MSG masks describe the weights, which convert keeps: they come along.
	var extra map[string][]byte
	if _, gs, err := growthOf(ck.Dir); err != nil {
		return err
	} else if gs != nil {
		if extra, err = grow.GrowthFiles(gs); err != nil {
			return err
		}
	}
	staged, err := stageModel(stderr, "convert", ck, entries, cfg, dt, meta, f.outputFlags, nil, extra)
	if err != nil {
		return err
	}
	if err := commitModel(stderr, staged, f.outputFlags); err != nil {
		return err
	}
	if !f.quiet {
		var bytes int64
		for _, e := range entries {
			n, _ := e.ByteSize()
			bytes += n
		}
		shards, _ := filepath.Glob(filepath.Join(f.out, "*.safetensors"))
		what := "dtypes kept"
		if dt != "" {
			what = "as " + string(dt)
		}
		tok := ""
		if f.noTokenizer {
			tok = ", no tokenizer (--no-tokenizer)"
		}
		fmt.Fprintf(stdout, "wrote %s: %d tensors (%s), %s of tensor data in %d shard(s), %d side file(s)%s\n",
			f.out, len(entries), what, humanBytes(bytes), len(shards), len(ck.SideFiles), tok)
	}
	return nil
}

// checkOutput refuses an output that exists (without force), that is the
// source, or that contains it.
func checkOutput(src, out string, force bool) error {
	st, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if srcSt, err := os.Stat(src); err == nil && os.SameFile(st, srcSt) {
		return fmt.Errorf("output %s is the source model", out)
	}
	absOut, err1 := filepath.Abs(out)
	absSrc, err2 := filepath.Abs(src)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(absOut, absSrc); err == nil && rel != "." && filepath.IsLocal(rel) {
			return fmt.Errorf("output %s contains the source model %s", out, src)
		}
	}
	if !force {
		return fmt.Errorf("output %s already exists; use --force to replace it", out)
	}
	if !st.IsDir() {
		return fmt.Errorf("output %s exists and is not a directory", out)
	}
	return replaceable(out)
}

// replaceable returns nil when --force may replace the directory dir: it is
// empty, or it holds a model (config.json, model.safetensors.index.json or a
// .safetensors file), as every grow output does. Anything else, a folder of
// someone's notes say, is refused with what it holds.
func replaceable(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output %s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() && (n == "config.json" || n == checkpoint.IndexName || filepath.Ext(n) == ".safetensors") {
			return nil
		}
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil
	}
	held := strings.Join(names[:min(len(names), 3)], ", ")
	if len(names) > 3 {
		held += fmt.Sprintf(" and %d more", len(names)-3)
	}
	return fmt.Errorf("output %s exists and is not a model directory (it holds %s, but no config.json or .safetensors file); "+
		"--force replaces only a model directory or an earlier grow output: choose another -o, or remove %s yourself", dir, held, dir)
}

// convertMapping returns the mapping grow convert records: the one an operator
// recorded in the source (probe.Mapping), so that grow check still judges the
// result against the operator's own source, or else the identity with the
// class BIT-EXACT (the converted tensors hold exactly the source's values as
// the output dtype rounds them). A dtype that cannot hold every source value
// is recorded as the storage dtype, and grow check compares the result with
// the source rounded to it. An operator whose values were already rounded
// (Rounded) is now rounded to dt; so is one that scaled values, once F16's
// narrow exponent range can round them (its subnormals), and anything rounded
// twice (a second narrowing after a first).
func convertMapping(ck *checkpoint.Checkpoint, g *graph.Graph, dt checkpoint.DType) (*probe.Mapping, error) {
	m, ok, err := probe.ReadMapping(ck)
	if err != nil {
		return nil, err
	}
	if !ok {
		m = &probe.Mapping{Operator: "convert", Class: probe.BitExact,
			Hidden: probe.HiddenMap{Kind: "tile", Src: g.Hidden, Dst: g.Hidden}}
	}
	if dt == "" || !rounds(ck, dt) {
		return m, nil
	}
	twice := m.Storage != "" && m.Storage != string(dt)
	if m.Rounded != "" || twice || (ok && dt == checkpoint.F16) {
		m.Rounded = string(dt)
		if m.Class == probe.BitExact {
			m.Class = probe.Exact
		}
	}
	m.Storage = string(dt)
	return m, nil
}

// rounds reports whether writing ck's float tensors as dt rounds any of them.
func rounds(ck *checkpoint.Checkpoint, dt checkpoint.DType) bool {
	for _, t := range ck.Tensors {
		if t.DType.IsFloat() && !dt.Holds(t.DType) {
			return true
		}
	}
	return false
}
