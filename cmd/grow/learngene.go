package main

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/spf13/cobra"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/learngene"
	"github.com/grow-ml/grow/probe"
	selection "github.com/grow-ml/grow/select"
	"github.com/grow-ml/grow/transform"
)

func newLearngeneCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "learngene COMMAND",
		Short: "Extract a compact learngene from a model, and expand it into models of any depth",
		Long: `learngene keeps what a trained model's blocks share in a small "learngene" and
initialises models of any depth from it (NON-PRESERVING: a starting point, not the
source's function).

  grow learngene extract SRC -o GENE [--kind tleg|sws]   the gene: TLEG's θ_A and θ_B fitted
                                                        over depth, or SWS's stage blocks
  grow learngene expand GENE -o OUT --layers L           a model of L blocks from the gene

A gene is a checkpoint directory (its blocks are the gene's, every other tensor the
source's) with a manifest, learngene.json.`,
	}
	cmd.AddCommand(newLearngeneExtractCmd(), newLearngeneExpandCmd())
	return cmd
}

// geneFlags are the write flags of both subcommands.
type geneFlags struct {
	outputFlags
	dtype  string
	dryRun bool
}

func (f *geneFlags) define(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "output directory (required unless --dry-run)")
	fl.StringVar(&f.dtype, "dtype", "", "output dtype: f32, f16, bf16 or f64 (default: the source's)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan only")
	fl.BoolVar(&f.force, "force", false, "replace an existing output directory")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only errors")
	fl.StringVar(&f.maxShardSize, "max-shard-size", "5GB", "largest shard (e.g. 5GB, 500MB)")
}

func newLearngeneExtractCmd() *cobra.Command {
	var f geneFlags
	var e learngene.Extract
	var stages string
	cmd := &cobra.Command{
		Use:   "extract SRC -o GENE [--kind tleg|sws] [--stages 3,3,4] [--member mean|first|middle|last]",
		Short: "Extract a learngene from a trained model",
		Long: `extract writes a learngene of SRC.

  --kind tleg (default)  TLEG (Xia et al., "Transformer as Linear Expansion of Learngene"):
      every block tensor is fitted by θ_i ≈ θ_A + (i/L)·θ_B over SRC's L blocks (i from 0,
      least squares, entry by entry); the gene's block 0 is θ_A, block 1 θ_B. R² is
      printed for every tensor (1: the weights are exactly linear in depth).
  --kind sws  SWS (Xia et al., "Exploring Learngene via Stage-wise Weight Sharing"):
      SRC's blocks are grouped into stages (--stages, lengths in blocks; default about
      three blocks a stage) and each stage keeps one block: the --member mean of its
      blocks (default), or its first, middle or last block.

Embeddings, the final norm and the head are the source's. The gene is a checkpoint
directory with learngene.json beside it.`,
		Example: `  grow learngene extract testdata/stories260k -o /tmp/gene-tleg
  grow learngene extract testdata/stories260k -o /tmp/gene-sws --kind sws --stages 2,3`,
		Args: exactArgs("SRC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stages != "" {
				s, err := learngene.ParseList(stages, "--stages")
				if err != nil {
					return usageError{err}
				}
				e.Stages = s
			}
			return runExtract(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], &f, &learngene.ExtractOp{Extract: e})
		},
	}
	f.define(cmd)
	cmd.Flags().StringVar(&e.Kind, "kind", "tleg", "tleg or sws")
	cmd.Flags().StringVar(&stages, "stages", "", "sws: stage lengths in source blocks, e.g. 3,3,4")
	cmd.Flags().StringVar(&e.Member, "member", "", "sws: a stage's block: mean (default), first, middle or last")
	return cmd
}

func runExtract(w, stderr io.Writer, srcPath string, f *geneFlags, op *learngene.ExtractOp) error {
	dt, err := parseOutputDType(f.dtype)
	if err != nil {
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
	m := op.Manifest
	if m.Kind == learngene.TLEG {
		if m.Fit, err = learngene.Fit(src); err != nil {
			return err
		}
	}
	if !f.quiet || f.dryRun {
		res.Plan.Print(w, dt)
		printManifest(w, m)
	}
	if f.dryRun {
		return nil
	}
	manifest, err := m.Marshal()
	if err != nil {
		return err
	}
	return writeGene(w, stderr, ck, res, dt, f, map[string][]byte{learngene.ManifestFile: manifest})
}

// printManifest says what the gene holds: TLEG's fit, SWS's stages.
func printManifest(w io.Writer, m *learngene.Manifest) {
	fmt.Fprintln(w)
	switch m.Kind {
	case learngene.TLEG:
		fmt.Fprintf(w, "TLEG gene of %d blocks: block 0 is θ_A, block 1 is θ_B (θ_i = θ_A + (i/L)·θ_B)\n", m.SourceLayers)
		fmt.Fprintf(w, "least-squares fit over depth, R² per tensor:\n")
		lo := math.Inf(1)
		for _, f := range m.Fit {
			fmt.Fprintf(w, "  %-28s %.4f\n", f.Role, f.R2)
			lo = math.Min(lo, f.R2)
		}
		fmt.Fprintf(w, "  (lowest %.4f)\n", lo)
	case learngene.SWS:
		fmt.Fprintf(w, "SWS gene of %d blocks: %d stages of %v blocks, each the %s of its stage\n",
			m.SourceLayers, len(m.Stages), m.Stages, m.Member)
	}
}

func newLearngeneExpandCmd() *cobra.Command {
	var f geneFlags
	var x learngene.Expand
	var reportIDs, reportText string
	var reportInits int
	cmd := &cobra.Command{
		Use:   "expand GENE -o OUT --layers L [--layers-source 0,0,1,1,2]",
		Short: "Initialise a model of any depth from a learngene",
		Long: `expand writes a model of L blocks from a learngene (grow learngene extract).

  TLEG: block i (0-based) is θ_A + (i/L)·θ_B, as the authors' code indexes it (the paper
      writes (l−1)/L with l from 1: the same factor). Expanding to the depth the gene
      was fitted on gives the fitted weights.
  SWS: block i is a copy of stage --layers-source[i]'s block; the list must not decrease
      and must use every stage. Without it the L blocks are shared out among the stages
      in proportion to their lengths in the source, each at least one.

Embeddings, the final norm and the head are the gene's (the source's). The output is
checked before it is moved into place: every tensor as computed, and finite outputs on
a probe. --report FILE (text, documents separated by blank lines, tokenized with the
gene's tokenizer.json) or --report-ids FILE (token ids) measures its next-token loss, raw and at its best
temperature, against random initialisations of the same shape.`,
		Example: `  grow learngene expand /tmp/gene-tleg -o /tmp/tleg8 --layers 8
  grow learngene expand /tmp/gene-sws -o /tmp/sws6 --layers-source 0,0,1,1,1,1`,
		Args: exactArgs("GENE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reportInits < 0 {
				return usagef("--report-inits %d: want 0 or more", reportInits)
			}
			eval, err := readSequences(args[0], "report", reportText, reportIDs)
			if err != nil {
				return err
			}
			return runGeneExpand(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], &f, x, eval, reportInits)
		},
	}
	f.define(cmd)
	cmd.Flags().IntVar(&x.Layers, "layers", 0, "the model's depth")
	cmd.Flags().StringVar(&x.LayersSource, "layers-source", "", "sws: the stage each block copies, e.g. 0,0,1,1,2")
	cmd.Flags().StringVar(&reportText, "report", "", "measure losses against random init on this text (documents separated by blank lines)")
	cmd.Flags().StringVar(&reportIDs, "report-ids", "", "measure losses against random init on these token ids (one sequence per line)")
	cmd.Flags().IntVar(&reportInits, "report-inits", 3, "random initialisations in the --report-ids table")
	return cmd
}

func runGeneExpand(w, stderr io.Writer, genePath string, f *geneFlags, x learngene.Expand, eval [][]int, inits int) error {
	dt, err := parseOutputDType(f.dtype)
	if err != nil {
		return err
	}
	if !f.dryRun {
		if err := f.prepare(genePath); err != nil {
			return err
		}
	}
	ck, gene, err := openGraph(genePath)
	if err != nil {
		return err
	}
	defer ck.Close()
	m, err := learngene.ReadManifest(ck.Dir)
	if err != nil {
		return err
	}
	op := &learngene.ExpandOp{Expand: x, Manifest: m}
	res, err := expandOp(gene, op)
	if err != nil {
		return err
	}
	if !f.quiet || f.dryRun {
		res.Plan.Print(w, dt)
	}
	// the manifest describes the gene, not what is made from it
	ck.SideFiles = slices.DeleteFunc(slices.Clone(ck.SideFiles), func(s string) bool { return s == learngene.ManifestFile })
	if !f.dryRun {
		if err := writeGene(w, stderr, ck, res, dt, f, nil); err != nil {
			return err
		}
	}
	if eval != nil {
		rows := []selection.Row{}
		add := func(name string, g *graph.Graph) {
			l, err := selection.Evaluate(g, eval)
			rows = append(rows, selection.Row{Name: name, Loss: l, Err: err})
		}
		add(fmt.Sprintf("%s, %d blocks", m.Kind, len(res.Graph.Layers)), res.Graph)
		for s := 1; s <= inits; s++ {
			add(fmt.Sprintf("random init (seed %d)", s), selection.RandomInit(res.Graph, 0, uint64(s)))
		}
		fmt.Fprintln(w)
		selection.PrintRows(w, rows)
	}
	return nil
}

// writeGene stages res beside f.out with the extra files, checks what was
// written (every tensor as computed, rounded to dt; finite outputs on a
// probe) and moves it into place.
func writeGene(w, stderr io.Writer, ck *checkpoint.Checkpoint, res *grow.Result, dt checkpoint.DType, f *geneFlags,
	extra map[string][]byte) error {
	entries, err := res.Graph.Entries(dt)
	if err != nil {
		return err
	}
	entries = transform.Pipeline(res.Graph, entries)
	meta, err := res.Metadata(version, dt)
	if err != nil {
		return err
	}
	staged, err := stageModel(stderr, res.Plan.Operator, ck, entries, res.Graph.OutputConfig(), dt, meta, f.outputFlags, nil, extra)
	if err != nil {
		return err
	}
	interruptNote(fmt.Sprintf("grow learngene: interrupted during the check; nothing was written to %s", f.out))
	if err := checkWritten(res.Graph, staged.Path(), dt); err != nil {
		staged.Discard()
		fmt.Fprintf(w, "check: FAIL: %v\nnothing was written to %s\n", err, f.out)
		return errCheckFailed
	}
	if err := commitModel(stderr, staged, f.outputFlags); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(w, "\ncheck: every tensor as computed, outputs finite\nwrote %s\n", f.out)
	}
	return nil
}

// checkWritten reads dir back: every tensor must be want's as the writer
// stores it (in dt, or its own dtype), bit for bit, and the model must give
// finite outputs on a probe.
func checkWritten(want *graph.Graph, dir string, dt checkpoint.DType) error {
	ck, got, err := openGraph(dir)
	if err != nil {
		return err
	}
	defer ck.Close()
	wf, gf := want.Fields(), got.Fields()
	if len(wf) != len(gf) {
		return fmt.Errorf("%d tensor roles written, %d computed", len(gf), len(wf))
	}
	for i, fw := range wf {
		a, b := *fw.T, *gf[i].T
		if (a == nil) != (b == nil) {
			return fmt.Errorf("%s: written %v, computed %v", fw.Role, b != nil, a != nil)
		}
		if a == nil {
			continue
		}
		x, err := stored(a, dt)
		if err != nil {
			return fmt.Errorf("%s: %w", fw.Role, err)
		}
		y, err := b.Float64()
		if err != nil {
			return err
		}
		if len(x) != len(y) {
			return fmt.Errorf("%s: %d values written, %d computed", fw.Role, len(y), len(x))
		}
		for k := range x {
			if math.Float64bits(x[k]) != math.Float64bits(y[k]) {
				return fmt.Errorf("%s[%d]: written %v, computed %v", fw.Role, k, y[k], x[k])
			}
		}
	}
	m, err := probe.New(got, probe.F32)
	if err != nil {
		return err
	}
	first, err := probe.FirstIDs(got)
	if err != nil {
		return err
	}
	n := 16
	if p := m.MaxPositions(); p > 0 {
		n = min(n, p)
	}
	seq := probe.Probes(1, n, got.Vocab, 1, first)[0]
	r, err := m.Forward(seq)
	if err != nil {
		return err
	}
	for _, row := range r.Logits {
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("the model's outputs are not finite")
			}
		}
	}
	return nil
}

// stored returns t's values as the writer stores them in dt (or t's own
// dtype): computed in float64 or float32 as graph.Entries does, then rounded.
func stored(t graph.Tensor, dt checkpoint.DType) ([]float64, error) {
	to := dt
	if to == "" {
		to = t.DType()
	}
	var v []float64
	p, prefers := t.(graph.Float64Preferrer)
	if to == checkpoint.F64 || t.DType() == checkpoint.F64 || (prefers && p.PrefersFloat64()) {
		var err error
		if v, err = t.Float64(); err != nil {
			return nil, err
		}
	} else {
		f, err := t.Float32()
		if err != nil {
			return nil, err
		}
		v = make([]float64, len(f))
		for i, x := range f {
			v[i] = float64(x)
		}
	}
	buf := make([]byte, len(v)*to.Size())
	if err := checkpoint.EncodeFloat64(buf, v, to); err != nil {
		return nil, err
	}
	out := make([]float64, len(v))
	return out, checkpoint.DecodeFloat64(out, buf, to)
}
