package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/probe"
)

func newMSGCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "msg COMMAND",
		Short: "Raise or bake the masks of a masked structural growth (grow expand --method msg)",
		Long: `msg works on the output of grow expand --method msg: a checkpoint whose new
coordinates and blocks are behind masks (grow_masks.safetensors, grow_state.json), which
computes the source's function while the masks are 0 and is a plain model when they are 1.

  grow msg set-mask OUT --value c   rewrites the mask value (0 ≤ c ≤ 1), as training raises it
  grow msg bake OUT -o PLAIN        writes a plain transformers checkpoint that computes, without
                                    masks, what OUT computes with them, where that is exact`,
	}
	cmd.AddCommand(newSetMaskCmd(), newBakeCmd())
	return cmd
}

func newSetMaskCmd() *cobra.Command {
	var value float64
	cmd := &cobra.Command{
		Use:   "set-mask OUT --value c",
		Short: "Rewrite the mask value of a masked growth",
		Args:  exactArgs("OUT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("value") {
				return usagef("no mask value: give --value c with 0 ≤ c ≤ 1")
			}
			if !(value >= 0 && value <= 1) {
				return usagef("--value %v: want a number in [0, 1]", value)
			}
			return setMask(cmd.OutOrStdout(), args[0], value)
		},
	}
	cmd.Flags().Float64Var(&value, "value", 0, "the mask value of the new coordinates and blocks, in [0, 1]")
	return cmd
}

// setMask rewrites the state and the masks of dir with mask value c, each
// file replaced by a rename.
func setMask(w io.Writer, dir string, c float64) error {
	gs, ok, err := claim.ReadGrowth(dir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s has no %s: it is not the output of grow expand --method msg", dir, claim.GrowthStateFile)
	}
	old := gs.MaskValue
	gs.MaskValue = c
	files, err := grow.GrowthFiles(gs)
	if err != nil {
		return err
	}
	for _, name := range []string{claim.GrowthMasksFile, claim.GrowthStateFile} {
		if err := replaceFile(filepath.Join(dir, name), files[name]); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%s: mask value %g -> %g\n", dir, old, c)
	return nil
}

// replaceFile writes data to path through a temporary file beside it and a
// rename, so that path holds the old or the new content, never a part.
func replaceFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".grow-tmp-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func newBakeCmd() *cobra.Command {
	var f outputFlags
	var noCheck bool
	cmd := &cobra.Command{
		Use:   "bake OUT -o PLAIN",
		Short: "Write a plain checkpoint that computes what a masked growth computes under its masks",
		Long: `bake writes PLAIN, a transformers checkpoint without mask files, that computes without
masks what OUT computes with them: FFN and head growth at any mask value (the rows
behind a mask are scaled by it), new pre-LN blocks at mask 0 (identity blocks) or 1,
an RMSNorm model's hidden growth at mask 0 (new stream coordinates kept at 0, norm
gains ×sqrt(D/D'), eps ×D/D') or 1. Anything else is refused with the reason. PLAIN
records OUT's claim (against OUT's source) and, unless --no-check, is checked against
OUT's masked forward pass before it is moved into place.`,
		Args: exactArgs("OUT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBake(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f, noCheck)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "output directory (required)")
	fl.StringVar(&f.maxShardSize, "max-shard-size", "5GB", "largest shard (e.g. 5GB, 500MB)")
	fl.BoolVar(&f.force, "force", false, "replace an existing output directory")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only errors and the check verdict")
	fl.BoolVar(&noCheck, "no-check", false, "do not check the result against OUT's masked forward pass")
	return cmd
}

func runBake(w, stderr io.Writer, src string, f outputFlags, noCheck bool) error {
	if err := f.prepare(src); err != nil {
		return err
	}
	ck, g, err := openGraph(src)
	if err != nil {
		return err
	}
	defer ck.Close()
	masks, gs, err := growthOf(ck.Dir)
	if err != nil {
		return err
	}
	if gs == nil {
		return fmt.Errorf("%s has no %s: it is not the output of grow expand --method msg", src, claim.GrowthStateFile)
	}
	baked, err := grow.Bake(g, gs)
	if err != nil {
		return err
	}
	m, _, err := probe.ReadMapping(ck)
	if err != nil {
		return err
	}
	meta := map[string]string{"grow.version": version, "grow.operator": "msg-bake",
		"grow.params": fmt.Sprintf(`{"mask_value":%g}`, gs.MaskValue)}
	rounded := ""
	if c := gs.MaskValue; (c != 0 && c != 1 && math.Exp2(math.Round(math.Log2(c))) != c) || (gs.New.Hidden > gs.Old.Hidden && c == 0) {
		rounded = string(storedDType(ck)) // values scaled by c or sqrt(s)
	}
	if m != nil {
		m.Masked = false
		if rounded != "" {
			m.Rounded = rounded
		}
		if gs.MaskValue != 0 {
			m.Class = claim.NonPreserving // the source's function was the masks' at 0
		}
		js, err := json.Marshal(m)
		if err != nil {
			return err
		}
		meta[claim.MetadataKey] = string(js)
	}
	entries, err := baked.Entries("")
	if err != nil {
		return err
	}
	staged, err := stageModel(stderr, "bake", ck, entries, baked.OutputConfig(), "", meta, f, nil, nil)
	if err != nil {
		return err
	}
	if !noCheck {
		if err := checkBaked(w, src, g, staged.Path(), masks, rounded, f.quiet); err != nil {
			staged.Discard()
			return err
		}
	}
	if err := commitModel(stderr, staged, f); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(w, "wrote %s (mask value %g baked in)\n", f.out, gs.MaskValue)
	}
	return nil
}

// checkBaked checks the baked model in dir against the masked model (masked
// running with its masks), as EXACT under the identity, judged with the
// float32 rule when rounded names the dtype that scaling rounded values in.
func checkBaked(w io.Writer, srcPath string, masked *graph.Graph, dir string, masks *probe.GrowthMasks, rounded string, quiet bool) error {
	ck, dst, err := openGraph(dir)
	if err != nil {
		return fmt.Errorf("bake: check: %w", err)
	}
	defer ck.Close()
	m := &claim.Mapping{Operator: "msg-bake", Class: claim.Exact, Rounded: rounded,
		Hidden: claim.HiddenMap{Kind: "tile", Src: masked.Hidden, Dst: dst.Hidden}}
	co := probe.CheckOptions{Probes: 8, SeqLen: min(32, maxSeq(masked)), Seed: 1, Precision: probe.F64, SourceGrowth: masks}
	rep, err := probe.Check(masked, dst, m, co)
	if err != nil {
		return fmt.Errorf("bake: check: %w", err)
	}
	if quiet {
		fmt.Fprintf(w, "check against %s's masked forward pass (max |Δlogits| %.3g): %s: %s\n", srcPath, rep.MaxAbs, rep.Class, rep.Verdict)
	} else {
		fmt.Fprintf(w, "check against %s's masked forward pass:\n", srcPath)
		checkWriteText(w, srcPath+" (masked)", dir, masked, dst, m, co, rep)
	}
	if !rep.Pass {
		return errCheckFailed
	}
	return nil
}

// storedDType is the narrowest float dtype of ck's tensors.
func storedDType(ck *checkpoint.Checkpoint) checkpoint.DType {
	var out checkpoint.DType
	for _, t := range ck.Tensors {
		if b := t.DType.MantissaBits(); b > 0 && (out == "" || b < out.MantissaBits()) {
			out = t.DType
		}
	}
	return out
}
