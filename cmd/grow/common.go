package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/tokens"
)

// openModel opens a model directory (or bare .safetensors file) and, when it has
// a config.json, builds its weight graph; the directory's tokenizer files are
// parsed (tokens.CheckDir), and an invalid one is an error naming it. g is nil
// for a bare file; the caller closes ck.
func openModel(path string) (ck *checkpoint.Checkpoint, g *graph.Graph, err error) {
	return openModelWith(path, true)
}

// openModelWith is openModel; the tokenizer files are checked only when
// tokenizer is true.
func openModelWith(path string, tokenizer bool) (ck *checkpoint.Checkpoint, g *graph.Graph, err error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: no such model directory or file", path)
		}
		return nil, nil, err
	}
	ck, err = checkpoint.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if tokenizer && ck.Dir != "" {
		if _, err := tokens.CheckDir(ck.Dir); err != nil {
			ck.Close()
			return nil, nil, tokenizerError{err}
		}
	}
	if ck.Config == nil {
		return ck, nil, nil
	}
	g, err = graph.FromCheckpoint(ck)
	if err != nil {
		ck.Close()
		return nil, nil, err
	}
	return ck, g, nil
}

// tokenizerError is an invalid tokenizer file of a model directory.
type tokenizerError struct{ err error }

func (e tokenizerError) Error() string { return e.err.Error() }
func (e tokenizerError) Unwrap() error { return e.err }

// openGraph opens a model directory as a weight graph (openModel); a bare
// .safetensors file (no config.json) is an error. The caller closes ck.
func openGraph(path string) (*checkpoint.Checkpoint, *graph.Graph, error) {
	return openGraphWith(path, true)
}

// openGraphWith is openGraph; the tokenizer files are checked only when
// tokenizer is true.
func openGraphWith(path string, tokenizer bool) (*checkpoint.Checkpoint, *graph.Graph, error) {
	ck, g, err := openModelWith(path, tokenizer)
	if err != nil {
		return nil, nil, err
	}
	if g == nil {
		ck.Close()
		return nil, nil, fmt.Errorf("%s: a bare safetensors file has no config.json; give the model directory", path)
	}
	return ck, g, nil
}

// outputFlags are the flags of the commands that write a checkpoint directory.
type outputFlags struct {
	out          string
	maxShardSize string
	force        bool
	quiet        bool
	// maxShard is maxShardSize parsed by prepare.
	maxShard int64
}

// prepare checks the flags before any work: an output directory is given and
// may be written (checkOutput), and --max-shard-size is a positive size.
func (o *outputFlags) prepare(src string) error {
	if o.out == "" {
		return usagef("no output directory: give -o OUT")
	}
	n, err := checkpoint.ParseSize(o.maxShardSize)
	if err != nil || n <= 0 {
		return usagef("--max-shard-size %q: want a positive size such as 5GB, 500MB or 2GiB", o.maxShardSize)
	}
	o.maxShard = n
	return checkOutput(src, o.out, o.force)
}

// openSource checks the output flags unless dryRun, then opens the source
// model of an operator and refuses one that holds masked growth.
func (o *outputFlags) openSource(path string, dryRun bool) (*checkpoint.Checkpoint, *graph.Graph, error) {
	if !dryRun {
		if err := o.prepare(path); err != nil {
			return nil, nil, err
		}
	}
	ck, g, err := openGraph(path)
	if err != nil {
		return nil, nil, err
	}
	if err := refuseMasked(ck, path); err != nil {
		ck.Close()
		return nil, nil, err
	}
	return ck, g, nil
}

// refuseMasked refuses a source that holds MSG's masked growth: its weights
// are not the function it computes until the masks are raised or baked.
func refuseMasked(ck *checkpoint.Checkpoint, path string) error {
	if _, gs, err := growthOf(ck.Dir); err != nil {
		return err
	} else if gs != nil {
		return fmt.Errorf("%s holds masked growth (%s, mask value %g): raise the masks to 1 (grow msg set-mask) or bake it (grow msg bake) before growing it again",
			path, claim.GrowthStateFile, gs.MaskValue)
	}
	return nil
}

// expandOp runs op, an operator's refusal a usage error.
func expandOp(g *graph.Graph, op grow.Operator) (*grow.Result, error) {
	res, err := grow.Expand(g, op)
	var refused *grow.OptionError
	if errors.As(err, &refused) {
		return nil, usageError{err}
	}
	return res, err
}

// probeFlags refuses the check flags of a command that checks its output
// (--probes, --seq-len) unless both are positive or there is no check.
func probeFlags(noCheck bool, probes, seqLen int) error {
	if !noCheck && (probes <= 0 || seqLen <= 0) {
		return usagef("--probes %d --seq-len %d: both must be positive (or give --no-check)", probes, seqLen)
	}
	return nil
}

// writeContext returns the context of a write: cancelled on SIGINT (Ctrl-C) or
// SIGTERM, so that WriteDir stops and removes its temporary directory instead
// of the process dying with it half-written. Tests replace it to see the context.
var writeContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// stageModel writes entries, derived from the source ck by the command op, as
// a checkpoint directory staged for o.out (checkpoint.Stage: beside it, not in
// place) in shards of at most o.maxShard bytes: cfg as its config.json (with
// torch_dtype set to dt unless dt is ""), meta plus grow.source_sha256
// (ck.SourceSHA256) in every shard's metadata, ck's side files carried over,
// extra written beside them, every file flushed to disk, and a progress bar on
// stderr when it is a terminal and not --quiet. wrap, when not nil, wraps
// every file writer.
// SIGINT or SIGTERM during the write stops it and leaves nothing
// (writeContext); after it, until commitModel or Discard, it removes the
// staged directory before the command exits.
func stageModel(stderr io.Writer, op string, ck *checkpoint.Checkpoint, entries []checkpoint.Entry,
	cfg *checkpoint.Config, dt checkpoint.DType, meta map[string]string, o outputFlags, wrap func(io.Writer) io.Writer,
	extra map[string][]byte) (*checkpoint.Staged, error) {
	sum, err := ck.SourceSHA256()
	if err != nil {
		return nil, err
	}
	meta["grow.source_sha256"] = sum
	if err := claimIntoConfig(cfg, meta); err != nil {
		return nil, err
	}
	if cfg != nil && dt != "" {
		cfg.DType = checkpoint.TorchDType(dt)
	}
	ctx, stop := writeContext()
	defer stop()
	setWriting(true)
	defer setWriting(false)
	s, err := checkpoint.Stage(o.out, entries, checkpoint.WriteOptions{
		MaxShardSize: o.maxShard, Metadata: meta, Config: cfg,
		SideFilesDir: ck.Dir, SideFiles: ck.SideFiles, ExtraFiles: extra, Sources: ck.Paths(), Force: o.force, Sync: true,
		Progress: newProgress(stderr, op, o.quiet), WrapWriter: wrap, Context: ctx,
		Logf: func(format string, args ...any) { fmt.Fprintf(stderr, "note: "+format+"\n", args...) },
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%w while writing %s; the partial output was removed (%v)", errInterrupted, o.out, err)
	case err == nil && ctx.Err() != nil:
		s.Discard()
		return nil, fmt.Errorf("%w as the write of %s ended; nothing was written", errInterrupted, o.out)
	case err != nil:
		return nil, err
	}
	interruptCleanup(func() { s.Discard() })
	return s, nil
}

// claimIntoConfig keeps a copy of the mapping in meta (claim.MetadataKey)
// in cfg under claim.ConfigKey, so that the claim survives a transformers
// load and save_pretrained (which rewrites the safetensors metadata but keeps
// unknown config keys); without one in meta it removes a copy that cfg
// inherited from its source, which would describe another model.
func claimIntoConfig(cfg *checkpoint.Config, meta map[string]string) error {
	if cfg == nil {
		return nil
	}
	// An output written without its check says so in config.json too.
	if c, ok := meta["grow.check"]; ok {
		cfg.Set("grow_check", c)
	} else {
		cfg.Delete("grow_check")
	}
	s, ok := meta[claim.MetadataKey]
	if !ok {
		cfg.Delete(claim.ConfigKey)
		return nil
	}
	m, err := claim.ParseMapping([]byte(s))
	if err != nil {
		return fmt.Errorf("the mapping to record: %w", err)
	}
	v, err := claim.ConfigValue(m)
	if err != nil {
		return err
	}
	cfg.Set(claim.ConfigKey, v)
	return nil
}

// commitModel moves a staged output into place and, unless quiet, says how an
// existing one was replaced.
func commitModel(stderr io.Writer, s *checkpoint.Staged, o outputFlags) error {
	setWriting(true)
	defer setWriting(false)
	interruptCleanup(nil)
	how, err := s.Commit()
	if err != nil {
		s.Discard()
		return err
	}
	if how != "" && !o.quiet {
		fmt.Fprintf(stderr, "note: the existing %s was %s\n", o.out, how)
	}
	return nil
}

// parseOutputDType parses a --dtype flag: "" keeps the source's dtypes.
func parseOutputDType(s string) (checkpoint.DType, error) {
	if s == "" || s == "keep" {
		return "", nil
	}
	d, err := checkpoint.ParseDType(s)
	if err != nil {
		return "", usagef("--dtype %q: want f32, f16, bf16 or f64", s)
	}
	if !d.IsFloat() {
		return "", usagef("--dtype %q: want a float dtype (f32, f16, bf16 or f64)", s)
	}
	return d, nil
}

// parsePrecision parses a --precision flag: f32 (float32) or f64 (float64).
func parsePrecision(s string) (probe.Precision, error) {
	switch strings.ToLower(s) {
	case "f64", "float64":
		return probe.F64, nil
	case "f32", "float32":
		return probe.F32, nil
	}
	return "", usagef("--precision %q: want f32 or f64", s)
}

// parseIDs parses token ids separated by commas and/or white space: "1,403, 407"
// or "1 403 407". An empty field between commas ("1,,2", "1,2,") is an error.
func parseIDs(s string) ([]int, error) {
	var ids []int
	parts := strings.Split(s, ",")
	for i, part := range parts {
		fields := strings.Fields(part)
		if len(fields) == 0 && len(parts) > 1 {
			return nil, fmt.Errorf("empty token id at comma-separated field %d of %q", i+1, s)
		}
		for _, f := range fields {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n >= 1<<31 {
				return nil, fmt.Errorf("%q is not a token id", f)
			}
			ids = append(ids, n)
		}
	}
	return ids, nil
}

// printJSON writes v as indented JSON (the --json output of inspect and check).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// growthOf reads the MSG state beside a model directory (nil, nil when it
// has none) and returns its masks for the forward pass.
func growthOf(dir string) (*probe.GrowthMasks, *claim.Growth, error) {
	if dir == "" {
		return nil, nil, nil
	}
	gs, ok, err := claim.ReadGrowth(dir)
	if err != nil || !ok {
		return nil, nil, err
	}
	return probe.GrowthMasksOf(gs), gs, nil
}
