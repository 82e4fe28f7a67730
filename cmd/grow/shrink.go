package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/probe"
	selection "github.com/grow-ml/grow/select"
	"github.com/grow-ml/grow/tokens"
	"github.com/grow-ml/grow/transform"
)

// shrinkFlags are the flags of grow shrink.
type shrinkFlags struct {
	expandFlags
	op         selection.Shrink
	config     string
	calibIDs   string
	calibText  string
	reportIDs  string
	reportText string
	reportInit int
}

func newShrinkCmd() *cobra.Command {
	var f shrinkFlags
	cmd := &cobra.Command{
		Use:   "shrink SRC -o OUT (--config student.json | --hidden N --heads N --kv-heads N --ffn N --layers N) [flags]",
		Short: "Initialise a smaller model from a consistent subset of a larger one's weights",
		Long: `shrink writes a smaller model of SRC's architecture whose every weight is one of SRC's
(weight selection): student blocks are teacher blocks, and every axis keeps one index
set that all its tensors share (the residual stream everywhere, each block's heads and
FFN units). Heads are kept whole (RoPE pairs stay together), key/value groups whole
with query heads from the group that keeps their keys and values, one FFN unit set for
gate, up and down, nothing is rescaled, and a tied head stays tied. It does not
preserve the function (NON-PRESERVING): it starts a student from the teacher's
knowledge instead of random weights.

The student's sizes come from --config student.json (a config.json of SRC's
model_type) or the size flags; an absent size keeps the teacher's, or follows
--hidden (heads at the same head_dim, FFN in proportion).

  --layers-from first|last|uniform|importance  which blocks (default first, as the
      paper's code); --layer-map 0,2,4 names them
  --elements uniform|first|random[:seed]|importance  which units of every axis:
      uniform is the paper's code's rule (a stride when it divides, else
      round(linspace(0, T-1, S)) half to even); importance ranks channels, heads,
      FFN units (and, with --layers-from importance, blocks) by their activations
      in grow's forward pass on --calib FILE (text, documents separated by blank
      lines, tokenized with SRC's tokenizer.json) or --calib-ids FILE (token ids,
      one sequence per line)

Every index set is recorded in the output's metadata (grow.params, "selection").
Unless --no-check, the output is written beside OUT and every tensor is checked to be
the teacher's at the recorded indices, bit for bit, before it is moved into place; the
outputs of both models are then compared on probes (nothing to verify: status 0).
--report FILE (text, as --calib) or --report-ids FILE measures the next-token loss, raw and at its best temperature, of
the teacher, of this student, of the other element rules' students and of random
initialisations of the student's shape, on the sequences of FILE.`,
		Example: `  grow shrink testdata/stories260k -o /tmp/small --hidden 32 --heads 4 --kv-heads 2 --ffn 86 --layers 3
  grow shrink SRC -o OUT --config student.json --elements importance --calib corpus.txt
  grow shrink SRC -o OUT --hidden 32 --layers-from uniform --report eval.txt`,
		Args: exactArgs("SRC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runShrink(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "output directory (required unless --dry-run)")
	fl.StringVar(&f.config, "config", "", "the student's config.json: its sizes are the target")
	fl.IntVar(&f.op.Hidden, "hidden", 0, "student hidden width")
	fl.IntVar(&f.op.Heads, "heads", 0, "student query heads (default: in proportion to the hidden width)")
	fl.IntVar(&f.op.KVHeads, "kv-heads", 0, "student key/value heads (default keeps the query heads per group)")
	fl.IntVar(&f.op.FFN, "ffn", 0, "student FFN width (default: in proportion to the hidden width)")
	fl.IntVar(&f.op.Layers, "layers", 0, "student blocks (default: the teacher's)")
	fl.StringVar(&f.op.LayersFrom, "layers-from", "", "blocks kept: first (default), last, uniform or importance")
	fl.StringVar(&f.op.LayerMap, "layer-map", "", "teacher blocks kept, in order, e.g. 0,2,4")
	fl.StringVar(&f.op.Elements, "elements", "uniform", "units kept on every axis: uniform, first, random[:seed] or importance")
	fl.StringVar(&f.calibText, "calib", "", "calibration text for importance (documents separated by blank lines)")
	fl.StringVar(&f.calibIDs, "calib-ids", "", "calibration token ids for importance, one sequence per line")
	fl.StringVar(&f.reportText, "report", "", "measure losses against random init on this text (documents separated by blank lines)")
	fl.StringVar(&f.reportIDs, "report-ids", "", "measure losses against random init on these token ids (one sequence per line)")
	fl.IntVar(&f.reportInit, "report-inits", 3, "random initialisations in the --report-ids table")
	fl.StringVar(&f.dtype, "dtype", "", "output dtype: f32, f16, bf16 or f64 (default: the source's)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan only")
	fl.BoolVar(&f.noCheck, "no-check", false, "do not check the result (its metadata then says it was not checked)")
	fl.BoolVar(&f.keepFailed, "keep-failed", false, "keep an output that failed its check, as OUT.failed-check")
	fl.BoolVar(&f.force, "force", false, "replace an existing output directory")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only errors and the check verdict")
	fl.StringVar(&f.maxShardSize, "max-shard-size", "5GB", "largest shard (e.g. 5GB, 500MB)")
	fl.IntVar(&f.probes, "probes", 8, "check: number of random probe sequences")
	fl.IntVar(&f.seqLen, "seq-len", 32, "check: probe sequence length")
	return cmd
}

// sizeFlags are the flags that give the student's sizes.
var sizeFlags = []string{"hidden", "heads", "kv-heads", "ffn", "layers"}

func runShrink(cmd *cobra.Command, srcPath string, f *shrinkFlags) error {
	w, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	dt, err := parseOutputDType(f.dtype)
	if err != nil {
		return err
	}
	if err := probeFlags(f.noCheck || f.dryRun, f.probes, f.seqLen); err != nil {
		return err
	}
	if f.reportInit < 0 {
		return usagef("--report-inits %d: want 0 or more", f.reportInit)
	}
	ck, src, err := f.openSource(srcPath, f.dryRun)
	if err != nil {
		return err
	}
	defer ck.Close()
	op := &f.op
	if f.config != "" {
		for _, n := range sizeFlags {
			if cmd.Flags().Changed(n) {
				return usagef("give --config or --%s, not both", n)
			}
		}
		b, err := os.ReadFile(f.config)
		if err != nil {
			return usageError{err}
		}
		cfg, err := checkpoint.ParseConfig(b, f.config)
		if err != nil {
			return usageError{err}
		}
		if op.Target, err = selection.TargetOf(cfg, src); err != nil {
			return usageError{err}
		}
	}
	if op.Calib, err = readSequences(srcPath, "calib", f.calibText, f.calibIDs); err != nil {
		return err
	}
	eval, err := readSequences(srcPath, "report", f.reportText, f.reportIDs)
	if err != nil {
		return err
	}
	res, err := grow.Expand(src, op)
	var refused *grow.OptionError
	if errors.As(err, &refused) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	sets := res.Params["selection"].(*selection.Sets)
	if !f.quiet || f.dryRun {
		res.Plan.Print(w, dt)
		printSets(w, src, sets)
	}
	if !f.dryRun {
		if err := writeShrunk(w, stderr, srcPath, ck, src, res, dt, f); err != nil {
			return err
		}
	}
	if eval != nil {
		rows, err := selection.Compare(src, op, eval, f.reportInit)
		if err != nil {
			return err
		}
		fmt.Fprintln(w)
		selection.PrintRows(w, rows)
	}
	return nil
}

// readSequences reads the token sequences of a pair of flags: --NAME FILE
// (text, tokenized with the model's tokenizer.json) or --NAME-ids FILE
// (token ids); nil when neither is given.
func readSequences(modelPath, name, textPath, idsPath string) ([][]int, error) {
	switch {
	case textPath != "" && idsPath != "":
		return nil, usagef("give --%s or --%s-ids, not both", name, name)
	case idsPath != "":
		return readIDsFile(idsPath, "--"+name+"-ids")
	case textPath == "":
		return nil, nil
	}
	b, err := os.ReadFile(textPath)
	if err != nil {
		return nil, usageError{err}
	}
	dir := modelPath
	if fi, err := os.Stat(modelPath); err == nil && !fi.IsDir() {
		dir = filepath.Dir(modelPath)
	}
	enc, err := tokens.Load(dir)
	if err != nil {
		return nil, usageError{fmt.Errorf("--%s %s needs the model's tokenizer (or give --%s-ids): %w", name, textPath, name, err)}
	}
	seqs, err := selection.TextSequences(enc, b, "--"+name+" "+textPath)
	if err != nil {
		return nil, usageError{err}
	}
	return seqs, nil
}

// readIDsFile reads token-id sequences from a file named by flag.
func readIDsFile(path, flag string) ([][]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{err}
	}
	seqs, err := selection.ParseIDs(b, flag+" "+path)
	if err != nil {
		return nil, usageError{err}
	}
	return seqs, nil
}

// writeShrunk stages the student beside f.out, checks it (every tensor the
// teacher's at the recorded indices; the outputs compared on probes) and
// moves it into place, as grow expand writes.
func writeShrunk(w, stderr io.Writer, srcPath string, ck *checkpoint.Checkpoint, src *graph.Graph, res *grow.Result,
	dt checkpoint.DType, f *shrinkFlags) error {
	entries, err := res.Graph.Entries(dt)
	if err != nil {
		return err
	}
	entries = transform.Pipeline(res.Graph, entries)
	meta, err := res.Metadata(version, dt)
	if err != nil {
		return err
	}
	if f.noCheck {
		meta["grow.check"] = "not run (--no-check)"
		// Without the check nothing else would see a NaN or an infinity
		// before it is written.
		if err := probe.CheckFinite(src); err != nil {
			return fmt.Errorf("the source: %w", err)
		}
	}
	staged, err := stageModel(stderr, "shrink", ck, entries, res.Graph.OutputConfig(), dt, meta, f.outputFlags, nil, nil)
	if err != nil {
		return err
	}
	if !f.noCheck {
		interruptNote(fmt.Sprintf("grow shrink: interrupted during the check; nothing was written to %s", f.out))
		if err := checkShrunk(w, srcPath, src, staged.Path(), dt, f); err != nil {
			return discardFailed(w, staged, f.expandFlags, err)
		}
	}
	if err := commitModel(stderr, staged, f.outputFlags); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(w, "wrote %s\n", f.out)
	}
	return nil
}

// checkShrunk reads the staged student back and verifies it against the
// teacher (rounded to dt when the output is stored narrower), then runs
// grow check's comparison for the record.
func checkShrunk(w io.Writer, srcPath string, src *graph.Graph, dir string, dt checkpoint.DType, f *shrinkFlags) error {
	ck, dst, err := openGraph(dir)
	if err != nil {
		return fmt.Errorf("shrink: check: %w", err)
	}
	defer ck.Close()
	sets, err := selection.Recorded(ck)
	if err != nil {
		return fmt.Errorf("shrink: check: %w", err)
	}
	teacher := src
	if dt != "" {
		teacher = graph.Round(src, dt)
	}
	if err := selection.Verify(teacher, dst, sets); err != nil {
		fmt.Fprintf(w, "check: FAIL: %v\n", err)
		return errCheckFailed
	}
	fmt.Fprintf(w, "\ncheck: every tensor of the student is the teacher's at the recorded indices, bit for bit\n")
	co := probe.CheckOptions{Probes: f.probes, SeqLen: min(f.seqLen, maxSeq(src)), Seed: 1, Precision: probe.F64}
	return checkExpanded(w, srcPath, src, dir, f.expandFlags, co)
}

// printSets says which teacher indices the student keeps, axis by axis.
func printSets(w io.Writer, g *graph.Graph, s *selection.Sets) {
	d := g.Dims
	fmt.Fprintf(w, "\nselected (teacher indices; all of them are in the output's metadata):\n")
	fmt.Fprintf(w, "  blocks    %s (of %d)\n", listText(s.Layers), d.Layers)
	fmt.Fprintf(w, "  hidden    %s (%d of %d)\n", listText(s.Hidden), len(s.Hidden), d.Hidden)
	for _, a := range []struct {
		name string
		set  selection.PerLayer
		n    int
	}{{"kv heads", s.KVHeads, d.KVHeads}, {"heads", s.Heads, d.Heads}, {"ffn", s.FFN, d.FFN}} {
		if a.set.Shared() {
			fmt.Fprintf(w, "  %-9s %s (%d of %d, every block)\n", a.name, listText(a.set.At(0)), len(a.set.At(0)), a.n)
			continue
		}
		for l := range s.Layers {
			fmt.Fprintf(w, "  %-9s block %d: %s (%d of %d)\n", a.name, l, listText(a.set.At(l)), len(a.set.At(l)), a.n)
		}
	}
}

// listText writes indices briefly: an arithmetic progression as its first
// terms and its last ("0,2,…,62"), otherwise runs as ranges ("0-3,8,10-12"),
// cut after a dozen items.
func listText(idx []int) string {
	if n := len(idx); n > 3 {
		step := idx[1] - idx[0]
		ap := step > 1
		for i := 2; ap && i < n; i++ {
			ap = idx[i]-idx[i-1] == step
		}
		if ap {
			return fmt.Sprintf("%d,%d,…,%d", idx[0], idx[1], idx[n-1])
		}
	}
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		} else {
			parts = append(parts, fmt.Sprint(idx[i]))
		}
		i = j + 1
	}
	if len(parts) > 12 {
		return strings.Join(parts[:10], ",") + ",…," + parts[len(parts)-1]
	}
	return strings.Join(parts, ",")
}
