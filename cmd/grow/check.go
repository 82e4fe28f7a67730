package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/sysmem"
	"github.com/grow-ml/grow/probe"
	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func newCheckCmd() *cobra.Command {
	var (
		opts      probe.CheckOptions
		idsFile   string
		precision string
		asJSON    bool
		report    string
		plotPath  string
		expect    string
		hiddenMap string
		blocks    string
		plan      int
		merge     bool
		quick     bool
	)
	cmd := &cobra.Command{
		Use:   "check (SRC DST | --merge R1.json ...)",
		Short: "Run two models on the same probes and judge how far their outputs differ",
		Long: `check runs SRC and DST (checkpoint directories with their config.json) forward on
the same probe sequences (random ids valid in both vocabularies, deterministic from
--seed, starting with BOS, or [CLS] for BERT, where the model has one; or the
sequences of --ids-file) and reports the max-abs logits difference, the same
relative to max |logits|, the mean and max KL(p_src ‖ p_dst), top-1 agreement, the
per-position logits difference, whether the embeddings correspond under the hidden
map and, where that map is known, the deviation of every hidden state.

The claim judged (an exactness class and the map from SRC's hidden states to DST's)
is the one grow's operators record with DST: in its safetensors metadata
("grow.mapping") and in its config.json ("grow_mapping", which survives a
transformers save_pretrained); the output says where it was read. Without one, two
models of the same width are expected to be EXACT under the identity map. The
verdict follows docs/exactness.md: EXACT in f64 needs max|Δ| ≤ 1e-9·max(1,
max|logits|) and KL ≤ 1e-12 (f32: 1e-4, 1e-7 and 100% top-1), BIT-EXACT needs 0.

A claim that promises nothing (APPROX, NON-PRESERVING, EXACT-UP-TO-EPS without
--tol), or no claim for models of different widths, is never a PASS: the numbers
are reported and the exit status is 3 (nothing to verify). --tol T is a bound that
is verified: max|Δ| ≤ T. --expect CLASS fails (exit 1) when the recorded claim is
weaker than CLASS (BIT-EXACT > EXACT > EXACT-UP-TO-EPS > APPROX > NON-PRESERVING);
without a recorded claim it states one, with --hidden-map tile or pad (sizes from
the models; tile:mean or pad:mean fill what is left with the mean) when the widths
differ. Models whose embeddings correspond under no hidden map are reported as
unrelated, and fail. The exit status is 1 when the verdict fails.

--ids-file holds one probe sequence per line (ids separated by commas or
spaces) or a JSON array of arrays.

The check streams: each model's weight matrices are read block by block as the
pass reaches them, so memory stays near the probes' hidden states and logits
whatever the models' size. Before it runs, check prints an estimate of its
arithmetic, reads, time and peak memory, and after it the measured time, rate and
peak resident set. --quick (1 probe of 16 tokens) is the check for huge models
where minutes matter more than coverage.

Slices (docs/scale.md): --blocks A:B checks DST's blocks A to B−1 alone, fed with
SRC's hidden states mapped to DST's width (a block-local check, also the way to
localise a failure); the slice from block 0 compares the embeddings, the slice to
the last block the logits. --plan-slices N prints up to N slices (A:B, one per line)
that cover every block. --merge R1.json R2.json ... combines the JSON reports
(--report FILE, or --json) of the slices of one check into its verdict, exiting as the whole check would;
with one slice it is the whole check's report exactly.`,
		Example: `  grow check testdata/stories260k /tmp/stories260k-x2
  grow check SRC DST --expect EXACT                       # fail unless DST claims EXACT or better
  grow check SRC DST --expect EXACT --hidden-map tile     # state the claim a model without one should meet
  grow check SRC DST --tol 1e-3 --json
  grow check SRC DST --plan-slices 4                      # 0:5 5:11 11:16 16:22
  grow check SRC DST --blocks 5:11 --report slice1.json   # one slice, on any machine
  grow check --merge slice*.json                          # the verdict of the whole`,
		Args: func(cmd *cobra.Command, args []string) error {
			if merge {
				if len(args) == 0 {
					return usagef("--merge needs the slices' reports: grow check --merge R1.json R2.json ...")
				}
				return nil
			}
			return exactArgs("SRC", "DST")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if merge {
				return checkMerge(cmd.OutOrStdout(), args, asJSON)
			}
			if quick {
				if !cmd.Flags().Changed("probes") {
					opts.Probes = 1
				}
				if !cmd.Flags().Changed("seq-len") {
					opts.SeqLen = 16
				}
			}
			prec, err := parsePrecision(precision)
			if err != nil {
				return err
			}
			opts.Precision = prec
			if opts.Probes <= 0 || opts.SeqLen <= 0 {
				return usagef("--probes %d --seq-len %d: both must be positive", opts.Probes, opts.SeqLen)
			}
			if opts.Tol < 0 {
				return usagef("--tol %g: must not be negative", opts.Tol)
			}
			if opts.Expect, err = parseClass(expect); err != nil {
				return err
			}
			hm, err := parseHiddenMap(hiddenMap)
			if err != nil {
				return err
			}
			if hm != nil && opts.Expect == "" {
				return usagef("--hidden-map %s states a claim: give it with --expect CLASS", hiddenMap)
			}
			if idsFile != "" {
				if opts.IDs, err = checkReadIDsFile(idsFile); err != nil {
					return err
				}
			}
			cs, src, err := openGraph(args[0])
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			defer cs.Close()
			cd, dst, err := openGraph(args[1])
			if err != nil {
				return fmt.Errorf("result: %w", err)
			}
			defer cd.Close()
			found, err := checkClaim(cd, src, dst, opts.Expect, hm, hiddenMap)
			if err != nil {
				return err
			}
			if opts.Growth, _, err = growthOf(cd.Dir); err != nil {
				return fmt.Errorf("result: %w", err)
			}
			if tok := src.Features().Start.Text; tok != "" {
				if id, ok := checkTokenID(probeReadVocab(cs.Dir), tok); ok {
					opts.First = []int{id}
				}
			}
			if plan > 0 {
				return checkPlan(cmd.OutOrStdout(), src, dst, found.Mapping, plan)
			}
			if blocks != "" {
				b, err := probe.ParseBlocks(blocks, dst.Dims.Layers)
				if err != nil {
					return usagef("--blocks: %v", err)
				}
				opts.Blocks = &b
			}
			est := cmd.OutOrStdout()
			if asJSON {
				est = cmd.ErrOrStderr()
			}
			checkWriteEstimate(est, src, dst, opts)
			rep, err := probe.Check(src, dst, found.Mapping, opts)
			if err != nil {
				return err
			}
			switch m := found.Mapping; {
			case opts.Blocks == nil:
				if err := sensitivity(rep, m, opts, cs, src, cd, dst); err != nil {
					return err
				}
			case m != nil && m.Rounded != "" && rep.Slice != nil:
				rep.Slice.Notes = append(rep.Slice.Notes, "the whole check re-runs the operator to judge values rounded to "+
					m.Rounded+" on storage (sensitivity); a slice is judged by the float32 rule alone")
			}
			if plotPath != "" {
				if err := checkPlot(rep, plotPath); err != nil {
					return err
				}
			}
			rep.ClaimFrom = found.From
			if report != "" {
				if err := writeReportFile(report, rep); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, checkJSONSafe(rep)); err != nil {
					return err
				}
			} else {
				checkWriteText(out, args[0], args[1], src, dst, found.Mapping, opts, rep)
			}
			return checkOutcome(rep)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Probes, "probes", 8, "number of random probe sequences")
	f.IntVar(&opts.SeqLen, "seq-len", 32, "length of each random probe sequence")
	f.Int64Var(&opts.Seed, "seed", 1, "seed of the random probes")
	f.StringVar(&idsFile, "ids-file", "", "file of probe sequences to use instead of random ones")
	f.Float64Var(&opts.Tol, "tol", 0, "a bound to verify: fail when the max-abs logits difference exceeds it (0: none)")
	f.StringVar(&precision, "precision", "f64", "arithmetic: f64 (default for checks) or f32")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.StringVar(&report, "report", "", "also write the JSON report to this file, whole or not at all (a slice's: what --merge reads)")
	f.StringVar(&plotPath, "plot", "", "write a PNG of the per-layer deviation and the per-position logits difference")
	f.StringVar(&expect, "expect", "", "the weakest claim accepted: BIT-EXACT, EXACT, EXACT-UP-TO-EPS, APPROX or NON-PRESERVING "+
		"(states it when DST records none)")
	f.StringVar(&hiddenMap, "hidden-map", "", "with --expect and no recorded claim: how SRC's hidden states map to DST's: "+
		"tile or pad (tile:mean, pad:mean fill the rest with the mean)")
	f.BoolVar(&quick, "quick", false, "the quick check for huge models: 1 probe of 16 tokens (unless --probes or --seq-len say otherwise)")
	f.StringVar(&blocks, "blocks", "", "check DST's blocks A to B−1 alone (A:B, 0-based; A: up to the last), fed with SRC's mapped hidden states")
	f.IntVar(&plan, "plan-slices", 0, "print N slices (A:B, one per line) that cover DST's blocks, and exit")
	f.BoolVar(&merge, "merge", false, "merge the --json reports of slices (the arguments) into the verdict of the whole check")
	cmd.MarkFlagsMutuallyExclusive("blocks", "plan-slices", "merge")
	return cmd
}

// checkPlan prints n slices of dst's blocks, each starting at a hidden state
// with a source state to feed it.
func checkPlan(w io.Writer, src, dst *graph.Graph, m *probe.Mapping, n int) error {
	var layerMap []int
	switch {
	case m != nil && m.Layers != nil:
		layerMap = m.Layers
	case src.Dims.Layers != dst.Dims.Layers || (m != nil && m.Hidden == (probe.HiddenMap{}) && src.Hidden != dst.Hidden):
		layerMap = make([]int, dst.Dims.Layers+1) // no map: only the slice from block 0
		for j := range layerMap {
			layerMap[j] = -1
		}
		layerMap[0] = 0
	}
	plan, err := probe.PlanSlices(dst.Dims.Layers, n, layerMap)
	if err != nil {
		return err
	}
	for _, b := range plan {
		fmt.Fprintln(w, b)
	}
	return nil
}

// writeReportFile writes the JSON report to path through a temporary file
// beside it, renamed into place, so that a report file that exists is whole.
func writeReportFile(path string, rep *probe.Report) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = printJSON(tmp, checkJSONSafe(rep))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	return nil
}

// checkMerge reads the slices' JSON reports, merges them and writes the
// verdict of the whole check.
func checkMerge(w io.Writer, paths []string, asJSON bool) error {
	var reps []*probe.Report
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("--merge: %w", err)
		}
		var r probe.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("--merge: %s: not a grow check --json report: %v", p, err)
		}
		if r.Slice == nil {
			return fmt.Errorf("--merge: %s: not the report of a slice (grow check --blocks A:B --json)", p)
		}
		reps = append(reps, &r)
	}
	rep, err := probe.Merge(reps)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(w, checkJSONSafe(rep)); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "merged   %d slices: %s\n", len(rep.MergedFrom), strings.Join(rep.MergedFrom, " "))
		fmt.Fprintf(w, "claim    class %s, hidden %s\n", rep.Class, rep.HiddenMap)
		fmt.Fprintf(w, "probes   %d sequences, %d positions, precision %s\n", rep.Probes, rep.Positions, rep.Precision)
		checkWriteNumbers(w, rep)
	}
	return checkOutcome(rep)
}

// checkWriteEstimate prints what the check will cost, worked out from the
// shapes, at the rates this machine reaches now.
func checkWriteEstimate(w io.Writer, src, dst *graph.Graph, opts probe.CheckOptions) {
	o := opts
	if o.Precision == "" {
		o.Precision = probe.F64
	}
	var dtypes []checkpoint.DType
	for _, g := range []*graph.Graph{src, dst} {
		for _, f := range g.Fields() {
			if t := *f.T; t != nil && !slices.Contains(dtypes, t.DType()) {
				dtypes = append(dtypes, t.DType())
			}
		}
	}
	e := probe.EstimateCheck(src, dst, o, probe.MeasureRates(o.Precision, dtypes...))
	what := "check"
	if opts.Blocks != nil {
		what = "check (whole; a slice does part of it)"
	}
	fmt.Fprintf(w, "estimate %s: about %s (%s of products at the %.0f GFLOPS measured now, %s decoding %s of weights; "+
		"reading them from a disk adds its time), peak memory about %s\n", what, seconds(e.Seconds), flops(e.FLOPs), e.GFLOPS,
		seconds(e.DecodeSeconds), sysmem.Bytes(e.ReadBytes), sysmem.Bytes(e.Memory))
}

// checkWriteCost prints what the check did, with this process's peak
// resident set unless the report is a merge (its slices ran elsewhere).
func checkWriteCost(w io.Writer, c *probe.Estimate, merged bool) {
	if c == nil {
		return
	}
	rss := ""
	if n, ok := sysmem.PeakRSS(); ok && !merged {
		rss = ", peak RSS of the process " + sysmem.Bytes(float64(n))
	}
	fmt.Fprintf(w, "\ncost     %s of products in %s (%.1f GFLOPS achieved over the whole check), %s read%s\n",
		flops(c.FLOPs), seconds(c.Seconds), c.GFLOPS, sysmem.Bytes(c.ReadBytes), rss)
}

// flops writes a count of floating-point operations.
func flops(f float64) string {
	switch {
	case f >= 1e12:
		return fmt.Sprintf("%.2f TFLOP", f/1e12)
	case f >= 1e9:
		return fmt.Sprintf("%.2f GFLOP", f/1e9)
	}
	return fmt.Sprintf("%.2f MFLOP", f/1e6)
}

// seconds writes a duration in seconds for a person.
func seconds(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 60:
		return fmt.Sprintf("%.1f min", s/60)
	case s >= 1:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f ms", s*1000)
}

// checkOutcome maps a report to the command's error: errCheckFailed for a
// failed rule (exit 1), errNothingToVerify when no claim was verified (exit 3).
func checkOutcome(rep *probe.Report) error {
	switch {
	case !rep.Pass:
		return fmt.Errorf("%w: %s", errCheckFailed, strings.TrimPrefix(rep.Verdict, "FAIL: "))
	case !rep.Verified:
		return fmt.Errorf("%w: %s", errNothingToVerify, strings.TrimPrefix(rep.Verdict, probe.OutcomeUnverified+": "))
	}
	return nil
}

// checkClaim returns the claim grow check judges: the one recorded with the
// result (claim.Locate), or the one stated by --expect and --hidden-map
// (hm, nil when not given), or none. A stated hidden map must agree with a
// recorded one.
func checkClaim(cd *checkpoint.Checkpoint, src, dst *graph.Graph, expect string, hm *probe.HiddenMap, hmFlag string) (*claim.Found, error) {
	found, err := claim.Locate(cd)
	if err != nil {
		return nil, err
	}
	if hm != nil {
		hm.Src, hm.Dst = src.Hidden, dst.Hidden
		if err := hm.Validate(); err != nil {
			return nil, usagef("--hidden-map %s: %v for hidden sizes %d and %d", hmFlag, err, src.Hidden, dst.Hidden)
		}
	}
	if found != nil {
		if hm != nil && found.Mapping.Hidden != *hm {
			return nil, fmt.Errorf("--hidden-map %s (%s) contradicts the hidden map %s recorded in %s",
				hmFlag, hm, found.Mapping.Hidden, found.From)
		}
		return found, nil
	}
	if expect == "" {
		return &claim.Found{From: "none recorded"}, nil
	}
	if hm == nil {
		if src.Hidden != dst.Hidden {
			return nil, usagef("--expect %s: no claim is recorded and the hidden sizes differ (%d vs %d): "+
				"give --hidden-map tile or pad", expect, src.Hidden, dst.Hidden)
		}
		hm = &probe.HiddenMap{Kind: "tile", Src: src.Hidden, Dst: dst.Hidden}
	}
	from := "the command line (--expect " + expect
	if hmFlag != "" {
		from += " --hidden-map " + hmFlag
	}
	return &claim.Found{Mapping: &probe.Mapping{Operator: "--expect", Class: expect, Hidden: *hm}, From: from + ")"}, nil
}

// parseClass parses an --expect value: a class name in any case.
func parseClass(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	c := strings.ToUpper(strings.TrimSpace(s))
	if claim.Rank(c) < 0 {
		return "", usagef("--expect %q: want BIT-EXACT, EXACT, EXACT-UP-TO-EPS, APPROX or NON-PRESERVING", s)
	}
	return c, nil
}

// parseHiddenMap parses --hidden-map KIND[:FILL] (tile, pad, tile:mean,
// pad:zero); the sizes come from the models. nil when s is "".
func parseHiddenMap(s string) (*probe.HiddenMap, error) {
	if s == "" {
		return nil, nil
	}
	kind, fill, _ := strings.Cut(strings.ToLower(s), ":")
	if (kind != "tile" && kind != "pad") || (fill != "" && fill != "zero" && fill != "mean") {
		return nil, usagef("--hidden-map %q: want tile or pad, optionally with :zero or :mean (tile:mean)", s)
	}
	return &probe.HiddenMap{Kind: kind, Fill: fill}, nil
}

func checkTokenID(vocab map[int]string, tok string) (int, bool) {
	for id, s := range vocab {
		if s == tok {
			return id, true
		}
	}
	return 0, false
}

// checkReadIDsFile reads the probe sequences of an --ids-file (parseIDsFile).
func checkReadIDsFile(path string) ([][]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ids-file: %w", err)
	}
	return parseIDsFile(b, path)
}

// parseIDsFile parses probe sequences: a JSON array of arrays of token ids,
// or one sequence per line with ids separated by commas or spaces (blank
// lines and lines starting with # are skipped). Empty sequences, no
// sequence, negative ids and ids of more than 2^31 are errors naming path.
func parseIDsFile(b []byte, path string) ([][]int, error) {
	s := strings.TrimSpace(string(b))
	var seqs [][]int
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &seqs); err != nil {
			return nil, fmt.Errorf("--ids-file %s: %w", path, err)
		}
		for i, q := range seqs {
			if len(q) == 0 {
				return nil, fmt.Errorf("--ids-file %s: sequence %d is empty", path, i)
			}
			for j, id := range q {
				if id < 0 || id >= 1<<31 {
					return nil, fmt.Errorf("--ids-file %s: sequence %d position %d: %d is not a token id", path, i, j, id)
				}
			}
		}
	} else {
		for n, line := range strings.Split(s, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			ids, err := parseIDs(line)
			if err != nil {
				return nil, fmt.Errorf("--ids-file %s line %d: %w", path, n+1, err)
			}
			seqs = append(seqs, ids)
		}
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("--ids-file %s: no sequences", path)
	}
	return seqs, nil
}

// checkJSONSafe replaces infinities and NaN (which JSON cannot hold) by ±1e308 / -1.
func checkJSONSafe(r *probe.Report) *probe.Report {
	c := *r
	fix := func(v float64) float64 {
		switch {
		case math.IsNaN(v):
			return -1
		case math.IsInf(v, 1):
			return math.MaxFloat64
		case math.IsInf(v, -1):
			return -math.MaxFloat64
		}
		return v
	}
	c.MaxAbs, c.Rel, c.MaxLogit, c.MeanKL, c.MaxKL, c.Top1 = fix(c.MaxAbs), fix(c.Rel), fix(c.MaxLogit), fix(c.MeanKL), fix(c.MaxKL), fix(c.Top1)
	c.LayerDev = append([]float64(nil), r.LayerDev...)
	for i := range c.LayerDev {
		c.LayerDev[i] = fix(c.LayerDev[i])
	}
	c.PositionDev = append([]float64(nil), r.PositionDev...)
	for i := range c.PositionDev {
		c.PositionDev[i] = fix(c.PositionDev[i])
	}
	return &c
}

func checkDescribeGraph(g *graph.Graph) string {
	return fmt.Sprintf("%s, hidden %d, %d layers, %d heads (%d kv), FFN %d, vocabulary %d",
		g.Family, g.Hidden, g.Dims.Layers, g.Heads, g.KVHeads, g.FFN, g.Vocab)
}

// checkWriteText prints a check's report: m is the claim judged (nil: none),
// and r.ClaimFrom, when set, says where it was read.
func checkWriteText(w io.Writer, srcPath, dstPath string, src, dst *graph.Graph, m *probe.Mapping,
	opts probe.CheckOptions, r *probe.Report) {
	fmt.Fprintf(w, "source   %s (%s)\n", srcPath, checkDescribeGraph(src))
	fmt.Fprintf(w, "result   %s (%s)\n", dstPath, checkDescribeGraph(dst))
	if m != nil {
		layers := "layers identity"
		if m.Layers == nil && src.Dims.Layers != dst.Dims.Layers {
			layers = "layers not mapped"
		}
		if m.Layers != nil {
			layers = fmt.Sprintf("layers %v", m.Layers)
		}
		stored := ""
		if m.Storage != "" {
			stored = ", stored as " + m.Storage
		}
		op := m.Operator
		if op == "" {
			op = "(no operator)"
		}
		fmt.Fprintf(w, "claim    %s, class %s, hidden %s, %s%s\n", op, m.Class, m.Hidden, layers, stored)
		if r.ClaimFrom != "" {
			fmt.Fprintf(w, "         read from %s\n", r.ClaimFrom)
		}
	} else if src.Hidden == dst.Hidden {
		fmt.Fprintf(w, "claim    none recorded: identity assumed, class %s\n", r.Class)
	} else {
		fmt.Fprintf(w, "claim    none recorded, and the hidden sizes differ: nothing to verify\n")
	}
	if opts.Expect != "" {
		fmt.Fprintf(w, "expected at least %s (--expect)\n", opts.Expect)
	}
	if opts.IDs != nil {
		fmt.Fprintf(w, "probes   %d sequences from the ids file, %d positions, precision %s\n", r.Probes, r.Positions, r.Precision)
	} else {
		fmt.Fprintf(w, "probes   %d × %d tokens, seed %d, precision %s\n", r.Probes, opts.SeqLen, opts.Seed, r.Precision)
	}
	checkWriteNumbers(w, r)
}

// checkWriteNumbers writes the numbers of a report, its notes and its
// verdict.
func checkWriteNumbers(w io.Writer, r *probe.Report) {
	if sl := r.Slice; sl != nil {
		fmt.Fprintf(w, "slice    blocks %d:%d of %d\n", sl.From, sl.To, sl.Layers)
	}
	fmt.Fprintln(w)
	if r.Slice == nil || r.Slice.To == r.Slice.Layers {
		checkWriteLogits(w, r)
	}
	if r.LayerDev != nil {
		fmt.Fprintln(w, "\nhidden-state deviation, max |map(h_src) − h_dst|:")
		for j, d := range r.LayerDev {
			name := "embeddings"
			if j > 0 {
				name = fmt.Sprintf("block %d", j)
			}
			switch {
			case r.Slice != nil && !((r.Slice.From == 0 && j == 0) || (r.Slice.From < j && j <= r.Slice.To)):
				continue
			case r.LayerMap[j] < 0:
				fmt.Fprintf(w, "  %-12s (no source state)\n", name)
				continue
			}
			fmt.Fprintf(w, "  %-12s %.6g   (source state %d)\n", name, d, r.LayerMap[j])
		}
	}
	if len(r.PositionDev) > 0 {
		fmt.Fprintln(w, "\nmax |Δlogits| per position:")
		for t := 0; t < len(r.PositionDev); t += 8 {
			var parts []string
			for k := t; k < min(t+8, len(r.PositionDev)); k++ {
				parts = append(parts, fmt.Sprintf("%.3g", r.PositionDev[k]))
			}
			fmt.Fprintf(w, "  %4d: %s\n", t, strings.Join(parts, "  "))
		}
	}
	notes := r.Notes
	if r.Slice != nil {
		notes = append(slices.Clone(notes), r.Slice.Notes...)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	checkWriteCost(w, r.Cost, r.MergedFrom != nil)
	class := r.Class
	if class == "" {
		class = "no claim"
	}
	fmt.Fprintf(w, "\nverdict (%s): %s\n", class, r.Verdict)
}

// checkWriteLogits writes the logits' numbers and the embeddings' relation.
func checkWriteLogits(w io.Writer, r *probe.Report) {
	fmt.Fprintf(w, "max |Δlogits|               %.6g\n", r.MaxAbs)
	fmt.Fprintf(w, "relative to max |logits|    %.6g   (max |logits| %.6g)\n", r.Rel, r.MaxLogit)
	fmt.Fprintf(w, "KL(p_src ‖ p_dst) mean/max  %.6g / %.6g\n", r.MeanKL, r.MaxKL)
	fmt.Fprintf(w, "top-1 agreement             %.2f%%\n", 100*r.Top1)
	if rel := r.Relation; rel != nil {
		switch {
		case rel.Map == "":
			fmt.Fprintf(w, "embeddings                  unrelated: %s\n", rel.Why)
		case rel.Related:
			fmt.Fprintf(w, "embeddings                  correspond under %s (median cosine %.4g over %d rows)\n",
				rel.Map, rel.MedianCosine, rel.Rows)
		default:
			fmt.Fprintf(w, "embeddings                  do not correspond under %s (median cosine %.3g over %d rows)\n",
				rel.Map, rel.MedianCosine, rel.Rows)
		}
	}
}

// checkPlotFloor is where a zero difference is drawn on the log scale.
const checkPlotFloor = 1e-20

// checkPlot draws the per-layer deviation and the per-position logits
// difference side by side (log scale; exact zeros drawn at 1e-20) into a PNG.
func checkPlot(r *probe.Report, path string) error {
	clamp := func(v float64) float64 {
		if !(v > checkPlotFloor) {
			return checkPlotFloor
		}
		if math.IsInf(v, 1) {
			return math.MaxFloat64
		}
		return v
	}
	mk := func(title, x string, ys []float64, x0 int, skip func(i int) bool) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = x
		p.Y.Label.Text = "max |Δ| (0 drawn at 1e-20)"
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
			ticks := plot.LogTicks{}.Ticks(lo, hi)
			for i := range ticks {
				if ticks[i].Label != "" {
					ticks[i].Label = fmt.Sprintf("%.0e", ticks[i].Value)
				}
			}
			return ticks
		})
		p.X.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
			step := math.Max(1, math.Ceil((hi-lo)/10))
			var ticks []plot.Tick
			for v := math.Ceil(lo); v <= hi; v += step {
				ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprint(int(v))})
			}
			return ticks
		})
		var pts plotter.XYs
		for i, v := range ys {
			if skip != nil && skip(i) {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(i + x0), Y: clamp(v)})
		}
		if len(pts) == 0 {
			pts = append(pts, plotter.XY{X: 0, Y: checkPlotFloor})
		}
		// Fix the range: gonum/plot pads a flat one by ±1, which a log scale refuses.
		lo, hi := math.Inf(1), 0.0
		for _, q := range pts {
			lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
		}
		p.Y.Min, p.Y.Max = lo/10, hi*10
		p.X.Min, p.X.Max = pts[0].X-0.5, pts[len(pts)-1].X+0.5
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		s.Shape = draw.CircleGlyph{}
		p.Add(l, s, plotter.NewGrid())
		return p, nil
	}
	// A slice's report has the hidden states of its blocks, and the
	// logits only in the slice that ends with the last block.
	outside := func(j int) bool {
		sl := r.Slice
		return sl != nil && !((sl.From == 0 && j == 0) || (sl.From < j && j <= sl.To))
	}
	layer, err := mk("hidden-state deviation", "hidden state (0 = embeddings, l = after block l)", r.LayerDev, 0,
		func(i int) bool { return (r.LayerMap != nil && r.LayerMap[i] < 0) || outside(i) })
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	switch {
	case r.LayerDev == nil:
		layer.Title.Text = "hidden-state deviation (not computed)"
	case r.Slice != nil:
		layer.Title.Text = fmt.Sprintf("hidden-state deviation (blocks %d:%d)", r.Slice.From, r.Slice.To)
	}
	pos, err := mk("logits difference per position", "position", r.PositionDev, 0, nil)
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	if len(r.PositionDev) == 0 {
		pos.Title.Text = "logits difference per position (not compared here)"
	}
	img := vgimg.New(vg.Points(900), vg.Points(360))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	cs := plot.Align([][]*plot.Plot{{layer, pos}}, tiles, dc)
	layer.Draw(cs[0][0])
	pos.Draw(cs[0][1])
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("--plot %s: %w", path, err)
	}
	return f.Close()
}
