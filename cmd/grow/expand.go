package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/internal/sysmem"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/transform"
)

// expandFlags are the flags of grow expand besides the operators' own.
type expandFlags struct {
	outputFlags
	method     string
	dtype      string
	dryRun     bool
	noCheck    bool
	keepFailed bool
	probes     int
	seqLen     int
	quick      bool
}

func newExpandCmd() *cobra.Command {
	var f expandFlags
	var ops *opFlags
	cmd := &cobra.Command{
		Use:   "expand SRC -o OUT --method METHOD [flags]",
		Short: "Grow a checkpoint's width or depth so that it computes the same function",
		Long: `expand writes a wider or deeper model that, before any training, computes what SRC
computes (or, for duplicate, starts from its layers).

Methods (grow expand --method METHOD --help shows one method's flags):
` + methodHelp() + `
head_dim never changes. A tied output head that needs a 1/q scale is untied and written
unless --keep-tied folds the scale into the final norm. The plan is printed. Unless
--no-check, the result is written beside OUT, checked against the source (grow check)
there, and moved into place only when the check passes: a failed check leaves nothing
at OUT (--keep-failed keeps it as OUT.failed-check) and exits with status 1. With
--no-check the output's metadata says it was not checked.`,
		Args: exactArgs("SRC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.method == "" {
				return usagef("no method: give --method %s", strings.Join(grow.Names(), ", "))
			}
			op, err := grow.New(f.method)
			if err != nil {
				return usageError{err}
			}
			if err := ops.bind(cmd, op); err != nil {
				return err
			}
			if f.quick {
				if !cmd.Flags().Changed("probes") {
					f.probes = 1
				}
				if !cmd.Flags().Changed("seq-len") {
					f.seqLen = 16
				}
			}
			return runExpand(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f, op)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "output directory (required unless --dry-run)")
	fl.StringVar(&f.method, "method", "", "the operator: "+strings.Join(grow.Names(), ", "))
	ops = addOpFlags(fl)
	fl.StringVar(&f.dtype, "dtype", "", "output dtype: f32, f16, bf16 or f64 (default: the source's)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan only")
	fl.BoolVar(&f.noCheck, "no-check", false, "do not check the result (its metadata then says it was not checked)")
	fl.BoolVar(&f.keepFailed, "keep-failed", false, "keep an output that failed its check, as OUT.failed-check")
	fl.BoolVar(&f.force, "force", false, "replace an existing output directory")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only errors and the check verdict")
	fl.StringVar(&f.maxShardSize, "max-shard-size", "5GB", "largest shard (e.g. 5GB, 500MB)")
	fl.IntVar(&f.probes, "probes", 8, "check: number of random probe sequences")
	fl.IntVar(&f.seqLen, "seq-len", 32, "check: probe sequence length")
	fl.BoolVar(&f.quick, "quick", false, "the quick check for huge models: 1 probe of 16 tokens (unless --probes or --seq-len say otherwise)")
	defaultHelp := cmd.HelpFunc()
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		ops.helpForMethod(c, f.method)
		defaultHelp(c, args)
	})
	return cmd
}

func runExpand(w, stderr io.Writer, srcPath string, f expandFlags, op grow.Operator) error {
	dt, err := parseOutputDType(f.dtype)
	if err != nil {
		return err
	}
	if err := probeFlags(f.noCheck || f.dryRun, f.probes, f.seqLen); err != nil {
		return err
	}
	ck, src, err := f.openSource(srcPath, f.dryRun)
	if err != nil {
		return err
	}
	defer ck.Close()
	res, err := expandOp(src, op)
	if err != nil {
		return err
	}
	if !f.quiet || f.dryRun {
		res.Plan.Print(w, dt)
	} else if note := res.Plan.RoundingNote(dt); note != "" {
		fmt.Fprintf(w, "note: %s: %s\n", note, strings.Join(res.Plan.InexactReasons(dt), ", "))
	}
	co := probe.CheckOptions{Probes: f.probes, SeqLen: min(f.seqLen, maxSeq(src)), Seed: 1, Precision: probe.F64}
	if need, have := probe.CheckMemory(src, res.Graph, co), sysmem.Total(); !f.noCheck && need > float64(have) {
		return fmt.Errorf("its check (%d probes × %d positions) would need about %s, more than this machine's %s of memory: "+
			"give --no-check, or fewer --probes or a shorter --seq-len", co.Probes, co.SeqLen, sysmem.Bytes(need), sysmem.Bytes(float64(have)))
	}
	if f.dryRun {
		return nil
	}
	if err := fitsDisk(res.Graph, dt, f.out); err != nil {
		return err
	}
	entries, err := res.Graph.Entries(dt)
	if err != nil {
		return err
	}
	entries = transform.Pipeline(res.Graph, entries)
	limited := os.Getenv("GOMEMLIMIT") == ""
	if limited {
		// Tensors are computed one or two at a time: keep the garbage of the
		// previous ones from piling up (a soft limit; the GC runs more often
		// near it). About two float32 copies of the largest tensor are live.
		debug.SetMemoryLimit(max(5*res.Plan.Largest()/2+64<<20, 256<<20))
	}
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
	wrap := splitWrites
	if computed, total := transform.ComputedShare(res.Graph); 2*computed < total && dt == "" {
		wrap = nil // mostly unchanged tensors: byte copies in the kernel are faster
	}
	staged, err := stageModel(stderr, "expand", ck, entries, res.Graph.OutputConfig(), dt, meta, f.outputFlags, wrap, res.Files)
	if limited {
		debug.SetMemoryLimit(math.MaxInt64) // the check holds the probes' states, which the writer's bound does not count
	}
	if err != nil {
		return err
	}
	if !f.noCheck {
		interruptNote(fmt.Sprintf("grow expand: interrupted during the check; nothing was written to %s", f.out))
		if err := checkExpanded(w, srcPath, src, staged.Path(), f, co); err != nil {
			return discardFailed(w, staged, f, err)
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

// discardFailed removes an output whose check failed (or could not run), or
// with --keep-failed moves it to OUT.failed-check, and returns err.
func discardFailed(w io.Writer, staged *checkpoint.Staged, f expandFlags, err error) error {
	if !f.keepFailed {
		staged.Discard()
		fmt.Fprintf(w, "nothing was written to %s (--keep-failed keeps a failed output)\n", f.out)
		return err
	}
	kept := f.out + ".failed-check"
	if kerr := staged.Keep(kept); kerr != nil {
		staged.Discard()
		return fmt.Errorf("%w; %v", err, kerr)
	}
	fmt.Fprintf(w, "the output that failed its check is at %s; nothing was written to %s\n", kept, f.out)
	return err
}

// checkExpanded reads the written result back and checks it against the
// source in float64, as grow check would: the mapping written with the result
// says whether it was stored in a narrower dtype (probe.Mapping.Storage: the
// source is rounded to it) and whether storage rounded the operator's values
// (probe.Mapping.Rounded), and the check judges accordingly.
func checkExpanded(w io.Writer, srcPath string, src *graph.Graph, dir string, f expandFlags, co probe.CheckOptions) error {
	ck, dst, err := openGraph(dir)
	if err != nil {
		return fmt.Errorf("expand: check: %w", err)
	}
	defer ck.Close()
	m, ok, err := probe.ReadMapping(ck)
	if err != nil {
		return fmt.Errorf("expand: check: %w", err)
	}
	if !ok {
		return fmt.Errorf("expand: check: %s has no %s metadata", dir, probe.MetadataKey)
	}
	if co.Growth, _, err = growthOf(dir); err != nil {
		return fmt.Errorf("expand: check: %w", err)
	}
	if !f.quiet {
		fmt.Fprintln(w)
		checkWriteEstimate(w, src, dst, co)
	}
	rep, err := probe.Check(src, dst, m, co)
	if err != nil {
		return fmt.Errorf("expand: check: %w", err)
	}
	fmt.Fprintln(w)
	if f.quiet {
		fmt.Fprintf(w, "check (%s, max |Δlogits| %.3g, relative %.3g): %s: %s\n", rep.Precision, rep.MaxAbs, rep.Rel, rep.Class, rep.Verdict)
	} else {
		checkWriteText(w, srcPath, f.out, src, dst, m, co, rep)
	}
	if !rep.Pass {
		return errCheckFailed
	}
	return nil
}

// fitsDisk refuses an output whose tensor data (in dtype dt, "" for each
// tensor's own) is more than the free space of the file system it goes to.
func fitsDisk(g *graph.Graph, dt checkpoint.DType, out string) error {
	var need float64
	for _, fl := range g.Fields() {
		t := *fl.T
		if t == nil {
			continue
		}
		size := t.DType().Size()
		if dt != "" && t.DType().IsFloat() {
			size = dt.Size()
		}
		n := float64(size)
		for _, d := range t.Shape() {
			n *= float64(d)
		}
		need += n
	}
	free, ok := sysmem.FreeDisk(filepath.Dir(filepath.Clean(out)))
	if ok && need > float64(free) {
		return fmt.Errorf("the output needs %s of tensor data, more than the %s free on the file system of %s",
			sysmem.Bytes(need), sysmem.Bytes(float64(free)), out)
	}
	return nil
}

func maxSeq(g *graph.Graph) int {
	if g.Positions > 0 {
		return g.Positions
	}
	return math.MaxInt
}

// writePiece is the largest write(2) grow expand issues. On the Linux VMs the
// benchmarks ran on, 1 MiB writes into the page cache cost 2-9× the system time
// of the same bytes in 256 KiB writes (bench/expand.sh, docs/performance.md).
const writePiece = 256 << 10

// splitWrites wraps an output file so that every write is at most writePiece
// bytes. (Wrapping also turns off the writer's in-kernel copies of unchanged
// tensors, which width growth hardly has.)
func splitWrites(w io.Writer) io.Writer { return pieceWriter{w} }

type pieceWriter struct{ w io.Writer }

func (p pieceWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), writePiece)
		m, err := p.w.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}
