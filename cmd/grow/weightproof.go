package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/probe"
)

// rerun re-runs the operator recorded in the result's metadata (grow.operator,
// grow.params) on the source and returns its result as the result's dtype
// holds it (graph.Round). ok is false, with why, when that cannot be done: an
// operator grow does not know, parameters it does not take, a source other
// than the one the result was grown from.
func rerun(cs *checkpoint.Checkpoint, src *graph.Graph, cd *checkpoint.Checkpoint) (g *graph.Graph, why string, err error) {
	meta := cd.Files[0].Metadata
	op, err := grow.New(meta["grow.operator"])
	if err != nil {
		return nil, fmt.Sprintf("no operator grow can re-run (%q)", meta["grow.operator"]), nil
	}
	sum, err := cs.SourceSHA256()
	if err != nil {
		return nil, "", err
	}
	if sum != meta["grow.source_sha256"] {
		return nil, "the source is not the checkpoint the result was grown from (grow.source_sha256 differs)", nil
	}
	if why := setParams(op, meta["grow.params"]); why != "" {
		return nil, why, nil
	}
	res, err := grow.Expand(src, op)
	if err != nil {
		return nil, fmt.Sprintf("re-running %s: %v", op.Name(), err), nil
	}
	return graph.RoundValues(res.Graph, storedDType(cd)), "", nil
}

// sameWeights compares every tensor of g, encoded in its dtype, with the
// stored tensor of its name in cd ("" when all are the same bytes).
func sameWeights(g *graph.Graph, cd *checkpoint.Checkpoint) (string, error) {
	entries, err := g.Entries(storedDType(cd))
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if err := sameStored(cd, e); err != nil {
			return err.Error(), nil
		}
	}
	return "", nil
}

// setParams sets op's parameters from the grow.params JSON of an output
// ("" when they all fit; else why not).
func setParams(op grow.Operator, js string) string {
	var params map[string]any
	if err := json.Unmarshal([]byte(js), &params); err != nil {
		return fmt.Sprintf("grow.params is not JSON (%v)", err)
	}
	for _, key := range slices.Sorted(maps.Keys(params)) {
		if key == "method" {
			continue
		}
		p, ok := grow.ParamOf(op, strings.ReplaceAll(key, "_", "-"))
		if !ok {
			return fmt.Sprintf("%s takes no parameter %q", op.Name(), key)
		}
		if err := parseParam(paramType(p), fmt.Sprint(params[key]), p.Value); err != nil {
			return fmt.Sprintf("grow.params %s = %v: %v", key, params[key], err)
		}
		if p.Set != nil {
			*p.Set = true
		}
	}
	return ""
}

// sameStored compares an entry's bytes with the stored tensor of its name.
func sameStored(cd *checkpoint.Checkpoint, e checkpoint.Entry) error {
	t, ok := cd.Tensor(e.Name)
	if !ok {
		return fmt.Errorf("weights: the operator writes %s, the result has no such tensor", e.Name)
	}
	if t.DType != e.DType || !slices.Equal(t.Shape, e.Shape) {
		return fmt.Errorf("weights: %s is %s %v, the operator writes %s %v", e.Name, t.DType, t.Shape, e.DType, e.Shape)
	}
	var want bytes.Buffer
	if err := e.Write(&want); err != nil {
		return err
	}
	got, err := t.Bytes()
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want.Bytes()) {
		i := 0
		for i < len(got) && got[i] == want.Bytes()[i] {
			i++
		}
		return fmt.Errorf("weights: %s differs from the operator's values rounded to %s (first at element %d): the stored weights are not what the operator computes",
			e.Name, e.DType, i/max(1, e.DType.Size()))
	}
	return nil
}

// sameConfig compares the settings of two configs that change the function.
func sameConfig(want, got *checkpoint.Config) string {
	if want == nil || got == nil {
		return ""
	}
	for _, c := range []struct {
		key  string
		a, b any
	}{{"hidden size", want.Hidden, got.Hidden}, {"layers", want.Layers, got.Layers}, {"heads", want.Heads, got.Heads},
		{"key/value heads", want.KVHeads, got.KVHeads}, {"head_dim", want.HeadDim, got.HeadDim}, {"FFN size", want.FFN, got.FFN},
		{"vocabulary", want.Vocab, got.Vocab}, {"norm eps", want.NormEps, got.NormEps}, {"rope_theta", want.RopeTheta, got.RopeTheta},
		{"tie_word_embeddings", want.Tied, got.Tied}, {"activation", want.Act, got.Act},
		{"rope_scaling", fmt.Sprint(want.RopeScaling), fmt.Sprint(got.RopeScaling)}} {
		if c.a != c.b {
			return fmt.Sprintf("config: %s is %v, the operator writes %v", c.key, c.b, c.a)
		}
	}
	return ""
}

// sensitivity judges a result whose storage rounded its operator's values
// by the rounding that was actually done, not by the fixed float32 rule: the
// operator is re-run on the source and its result rounded to the stored
// dtype (rerun); the logits deviation that rounding causes, measured on the
// same probes, sets the tolerance (twice it, plus the float64 floor), and the
// config must be the one the operator writes. Whether the stored weights are
// those very bytes is reported too; a result that differs only by a change
// that keeps the function (heads permuted inside a group) passes, an edit
// that moves the outputs by more than the rounding does not. When the
// operator cannot be re-run, the float32 rule stands and a note says why.
func sensitivity(rep *probe.Report, m *probe.Mapping, opts probe.CheckOptions, cs *checkpoint.Checkpoint, src *graph.Graph,
	cd *checkpoint.Checkpoint, dst *graph.Graph) error {
	if m == nil || m.Rounded == "" || m.Masked || rep.Outcome == probe.OutcomeFail {
		return nil
	}
	ref, why, err := rerun(cs, src, cd)
	if err != nil {
		return err
	}
	if ref == nil {
		rep.Notes = append(rep.Notes, "sensitivity: the operator could not be re-run ("+why+"); judged by the float32 rule alone")
		return nil
	}
	fail := func(why string) {
		rep.Pass, rep.Verified, rep.Outcome = false, false, probe.OutcomeFail
		rep.Verdict = "FAIL: " + why
	}
	if why := sameConfig(ref.Config, dst.Config); why != "" {
		fail(why)
		return nil
	}
	refRep, err := probe.Check(src, ref, m, opts)
	if err != nil {
		return fmt.Errorf("sensitivity: %w", err)
	}
	tol := 2*refRep.MaxAbs + probe.ExactTol64*max(1, rep.MaxLogit)
	same, err := sameWeights(ref, cd)
	if err != nil {
		return err
	}
	weights := "every stored tensor is the operator's value rounded to " + string(storedDType(cd))
	if same != "" {
		weights = "the stored weights are not the operator's rounded values (" + same + ")"
	}
	if rep.MaxAbs > tol {
		fail(fmt.Sprintf("max-abs logits difference %.3g exceeds %.3g, twice what rounding the operator's values to %s moves them (%.3g) plus the float64 floor; %s",
			rep.MaxAbs, tol, storedDType(cd), refRep.MaxAbs, weights))
		return nil
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("sensitivity: the tolerance is %.3g, twice the logits deviation that rounding the re-run operator's values to %s causes (%.3g) plus the float64 floor, not the float32 rule; %s",
		tol, storedDType(cd), refRep.MaxAbs, weights))
	return nil
}
