package transform

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

// Result is a transformed graph and what was done to it.
type Result struct {
	// Graph is the result; its tensors are computed when read.
	Graph *graph.Graph
	// Report says what was done to every tensor.
	Report *Report
}

// Apply carries out p on g. It walks g's roles (graph.Fields and the family
// extras) and makes each tensor of the result from its source tensor by the
// maps of the axes the role declares (graph.DeclOf) and the kind of tensor it
// is: a linear map's rows produce their axis and its columns consume theirs
// (copies of an input divide its weight, perturbations that sum to zero break
// the symmetry in the layers); a table's residual columns are copied; norm
// gains are rescaled. Layers come from p.Layers (copies, combinations,
// identity blocks). A tied output head that reads a copied residual stream
// is untied, or with p.KeepTied kept tied with its scale folded into the norm
// that feeds it. Nothing is read from g's tensors: the result's tensors
// compute themselves when asked.
func Apply(g *graph.Graph, p *Plan) (*Result, error) {
	if g == nil || p == nil {
		return nil, errors.New("transform: no graph or no plan")
	}
	if err := p.validate(g); err != nil {
		return nil, err
	}
	a := newApplier(g, p)
	if err := a.head(); err != nil {
		return nil, err
	}
	for _, f := range a.out.Fields() {
		t, err := a.field(f.Role)
		if err != nil {
			return nil, err
		}
		*f.T = t
	}
	if err := a.extras(); err != nil {
		return nil, err
	}
	if a.err != nil {
		return nil, a.err
	}
	if g.Config != nil {
		// the result carries its own config (dims, eps, tie flag written in)
		a.out.Config = a.out.OutputConfig()
		if err := a.layerConfig(); err != nil {
			return nil, err
		}
	}
	return &Result{Graph: a.out, Report: a.rep}, nil
}

// layerConfig keeps every layer's type through a layer map: a per-layer
// layer_types list follows the layers, and settings that depend on a layer's
// index and cannot follow it refuse a layer map that moves layers.
func (a *applier) layerConfig() error {
	p, src, cfg := a.p, a.g.Config, a.out.Config
	if p.Layers == nil {
		return nil
	}
	moved := false
	for i, ls := range p.Layers {
		moved = moved || len(ls.From) != 1 || ls.From[0].Layer != i || ls.Identity
	}
	if !moved {
		return nil
	}
	if src.LayerTypes != nil {
		cfg.LayerTypes = make([]string, len(p.Layers))
		for i, ls := range p.Layers {
			t := src.LayerTypes[ls.From[0].Layer]
			for _, w := range ls.From[1:] {
				if src.LayerTypes[w.Layer] != t {
					return fmt.Errorf("transform: layer %d combines layers %d (%s) and %d (%s) of different types",
						i, ls.From[0].Layer, t, w.Layer, src.LayerTypes[w.Layer])
				}
			}
			cfg.LayerTypes[i] = t
		}
	}
	ft := a.g.Features()
	if v, _ := src.Get("scale_attn_by_inverse_layer_idx"); ft.AttnScaleKeys && v == true {
		return errors.New("transform: the config sets scale_attn_by_inverse_layer_idx, which scales each layer's attention by its index: moving layers would change them; refused")
	}
	if sw := ft.SlidingWindow; sw.UseKey != "" && sw.MaxLayersKey != "" && src.LayerTypes == nil {
		if use, _ := src.Get(sw.UseKey); use == true {
			return fmt.Errorf("transform: the config slides attention from layer %s on (%s): moving layers would change which slide; refused",
				sw.MaxLayersKey, sw.UseKey)
		}
	}
	return nil
}

// applier carries out one plan.
type applier struct {
	g, out *graph.Graph
	p      *Plan
	rep    *Report
	resid  *Map
	// fold is the head's 1/copies folded into foldRole's norm (1: none).
	fold     float64
	foldNorm string // "final_norm" or "mlm.norm"
	// srcFields are the source's tensors by role.
	srcFields map[string]graph.Tensor
	// qkScale multiplies the q and k projections of a family with QK-norm
	// when the norms' eps is scaled: the per-head norm of c·q with eps·c² is
	// that of q with eps, so sqrt(EpsScale) keeps every head's normalised q
	// and k while the residual norms need the scaled eps.
	qkScale float64
	err     error
}

func newApplier(g *graph.Graph, p *Plan) *applier {
	out := *g
	out.Dims = p.Dims
	out.Eps = g.Eps * scaleOr1(p.Values.EpsScale)
	if s := scaleOr1(p.Values.EpsScale); s != 1 {
		// 15 significant digits: 1e-5·0.64 is written 6.4e-06, not 6.4000000000000006e-06
		out.Eps, _ = strconv.ParseFloat(strconv.FormatFloat(out.Eps, 'g', 15, 64), 64)
	}
	out.Layers = make([]graph.Layer, p.Dims.Layers)
	out.Extras = append([]graph.Extra(nil), g.Extras...)
	rep := &Report{Operator: p.Operator, Family: g.Family, Src: g.Dims, Dst: p.Dims,
		SrcEps: g.Eps, DstEps: out.Eps, SrcTied: g.Tied, Headless: g.Headless, Class: p.Class, Hidden: p.HiddenText,
		Notes: append([]string(nil), p.Notes...)}
	fields := map[string]graph.Tensor{}
	for _, f := range g.Fields() {
		fields[f.Role] = *f.T
		if *f.T != nil {
			rep.SrcParams += prod((*f.T).Shape())
		}
	}
	for _, e := range g.Extras {
		if e.T != nil {
			rep.SrcParams += prod(e.T.Shape())
		}
	}
	if p.Layers != nil {
		rep.Notes = append(rep.Notes, "result blocks from source blocks: "+layerList(p.Layers))
	}
	a := &applier{g: g, out: &out, p: p, rep: rep, resid: p.axis(graph.Residual, g.Hidden), fold: 1,
		foldNorm: "final_norm", srcFields: fields, qkScale: 1}
	if s := scaleOr1(p.Values.EpsScale); s != 1 && g.Features().QKNorm {
		a.qkScale = math.Sqrt(s)
		rep.Notes = append(rep.Notes, fmt.Sprintf("QK-norm: q and k projections ×sqrt(s) = %.6g, so that each head's normalised q and k stay the same with eps ×s", a.qkScale))
	}
	return a
}

func scaleOr1(s float64) float64 {
	if s == 0 {
		return 1
	}
	return s
}

// head decides what becomes of the output head. The head reads the norm that
// feeds it (BERT: the masked-LM transform's), in which every residual
// coordinate appears up to MaxCopies times: a tied head then needs a 1/copies
// of its own, so it is untied, or its scale is folded into that norm.
func (a *applier) head() error {
	g, out := a.g, a.out
	copies := max(a.resid.MaxCopies(), 1)
	hasMLM := g.MLMTransform.W != nil
	if hasMLM {
		a.foldNorm = "mlm.norm"
	}
	out.Tied = g.Tied
	r := a.embedRatio()
	switch {
	case a.p.Untie && g.Tied && !g.Headless:
		out.Tied = false
		a.rep.Notes = append(a.rep.Notes, "the tied head is untied and written (asked for)")
	case g.Headless || !g.Tied || (copies == 1 && r == 1):
		// no head, an untied one (grown by its roles), or a tie that stays exact
	case a.p.KeepTied:
		if g.Features().MLMHead && !hasMLM {
			return fmt.Errorf("transform: --keep-tied: this %s model has no MLM transform norm to fold 1/q into; drop --keep-tied to untie the head", g.Descriptor().Name)
		}
		a.fold = 1 / (float64(copies) * r)
	default:
		out.Tied = false
		a.rep.Notes = append(a.rep.Notes, fmt.Sprintf("the tied head is untied and written (hidden copies %d need 1/%d on the head only); --keep-tied folds it into the final norm instead", copies, copies))
	}
	a.rep.DstTied = out.Tied
	return nil
}

// field makes the result's tensor of a common role (nil when it has none).
func (a *applier) field(role string) (graph.Tensor, error) {
	decl, ok := graph.DeclOf(role)
	if !ok {
		return nil, fmt.Errorf("transform: role %q declares no axes (graph.DeclOf)", role)
	}
	src, err := a.source(role)
	if err != nil || src == nil {
		return nil, err
	}
	if _, name := graph.SplitRole(role); a.qkScale != 1 && qkRoles[name] {
		src = scaled{src, a.qkScale}
	}
	if r := a.embedRatio(); role == "embed" && r != 1 {
		src = scaled{src, r}
	}
	return a.tensor(role, role, decl, src), nil
}

// qkRoles are the projections whose output a QK-norm normalises.
var qkRoles = map[string]bool{"attn.q.weight": true, "attn.q.bias": true, "attn.k.weight": true, "attn.k.bias": true}

// scaled is a tensor times a constant, computed when read.
type scaled struct {
	graph.Tensor
	c float64
}

func (s scaled) Float64() ([]float64, error) {
	v, err := s.Tensor.Float64()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v)) // v may be the source's own backing data
	for i, x := range v {
		out[i] = x * s.c
	}
	return out, nil
}

func (s scaled) Float32() ([]float32, error) { return graph.Float32Of(s.Float64()) }

// outputs are the roles an identity block zeroes: the projections that write
// into the residual stream.
var outputs = map[string]bool{"attn.o.weight": true, "attn.o.bias": true, "mlp.down.weight": true, "mlp.down.bias": true}

// source returns the source tensor of one of the result's roles: by the
// layer map for a layer's roles, the embedding for an untied head that was
// tied.
func (a *applier) source(role string) (graph.Tensor, error) {
	g := a.g
	layer, name := graph.SplitRole(role)
	if layer < 0 {
		if role == "head" && !a.out.Tied && g.Tied && !g.Headless {
			return g.Embed, nil
		}
		return a.srcField(role), nil
	}
	ls := Copy(layer)
	if a.p.Layers != nil {
		ls = a.p.Layers[layer]
	}
	parts := make([]graph.Tensor, len(ls.From))
	for i, w := range ls.From {
		parts[i] = a.srcField(graph.LayerRole(w.Layer, name))
		if (parts[i] == nil) != (parts[0] == nil) {
			return nil, fmt.Errorf("transform: layer %d combines layers %d and %d, but only one has %s",
				layer, ls.From[0].Layer, w.Layer, name)
		}
	}
	if parts[0] == nil {
		return nil, nil
	}
	if ls.Identity && outputs[name] {
		if ls.Cancel && a.p.Values.Perturb.Kind != NoPerturb && strings.HasSuffix(name, ".weight") {
			return cancelOf{parts[0]}, nil
		}
		return zeros(parts[0]), nil
	}
	if len(parts) == 1 && ls.From[0].Weight == 1 {
		return parts[0], nil
	}
	return combine(role, ls.From, parts)
}

// srcField returns the source graph's tensor of a role (nil: none).
func (a *applier) srcField(role string) graph.Tensor { return a.srcFields[role] }

// extras makes the result's family extras: those of rule "hidden" by the
// residual axes of their shape (graph.ExtraDecl), the others kept.
func (a *applier) extras() error {
	for i, e := range a.g.Extras {
		key := "extra " + e.Name
		if e.Rule != graph.RuleHidden {
			if e.T != nil {
				a.step(key, e.T, e.T.Shape(), e.Rule, false)
			}
			continue
		}
		d, ok := graph.ExtraDecl(e, a.g.Hidden)
		if !ok {
			return fmt.Errorf("transform: extra tensor %q (%s) has shape %v with no hidden axis of size %d; no rule to grow it", e.Name, e.Role, e.T.Shape(), a.g.Hidden)
		}
		a.out.Extras[i].T = a.tensor(key, e.Role, d, e.T)
	}
	return nil
}

// tensor makes one tensor of the result from src by its declaration. key
// names it in the report and seeds its random values.
func (a *applier) tensor(key, role string, d graph.Decl, src graph.Tensor) graph.Tensor {
	want := make([]int, len(d.Axes))
	for i, ax := range d.Axes {
		want[i] = a.g.Dims.Size(ax)
	}
	if !slices.Equal(src.Shape(), want) {
		a.fail(fmt.Errorf("transform: %s: shape %v, want %v", key, src.Shape(), want))
		return src
	}
	layer, _ := graph.SplitRole(role)
	axisOf := func(x graph.Axis) *Map { return a.p.axisIn(layer, x, a.g.Dims.Size(x)) }
	switch d.Kind {
	case graph.KindLinear:
		rows, cols := axisOf(d.Axes[0]), axisOf(d.Axes[1])
		if c, ok := src.(cancelOf); ok {
			return a.cancelled(key, c.Tensor, rows, cols, word(d.Axes[0], 0), word(d.Axes[1], 1))
		}
		return a.matrix(key, src, rows, cols, word(d.Axes[0], 0), word(d.Axes[1], 1), d.Layer)
	case graph.KindTable:
		return a.table(key, src, axisOf(d.Axes[0]))
	case graph.KindNormWeight, graph.KindNormBias:
		if d.Axes[0] == graph.Residual {
			return a.norm(key, role, src, d.Kind == graph.KindNormBias)
		}
	}
	return a.vector(key, src, axisOf(d.Axes[0]), word(d.Axes[0], 0))
}

// word names an axis in the report ("hidden", "q", ...); a fixed axis is
// "rows" or "cols" by its position.
func word(x graph.Axis, pos int) string {
	switch x {
	case graph.Residual:
		return "hidden"
	case graph.QHeads:
		return "q"
	case graph.KVHeads:
		return "kv"
	case graph.FFN:
		return "ffn"
	case graph.Vocab:
		return "vocab"
	case graph.Positions:
		return "positions"
	case graph.TokenTypes:
		return "token types"
	case graph.HeadDim:
		return "head_dim"
	}
	if pos == 0 {
		return "rows"
	}
	return "cols"
}

func (a *applier) fail(err error) {
	if a.err == nil {
		a.err = err
	}
}

// step records one tensor in the report; why lists the reasons its values
// are not exact in a float dtype narrower than float64 ("" for none).
func (a *applier) step(role string, src graph.Tensor, dst []int, rule string, scaled bool, why ...string) {
	var w []string
	for _, x := range why {
		if x != "" {
			w = append(w, x)
		}
	}
	a.rep.Tensors = append(a.rep.Tensors, Step{Role: role, SrcShape: src.Shape(), DstShape: dst,
		DType: src.DType(), Rule: rule, Exact: len(w) == 0, Why: strings.Join(w, "; "), Scaled: scaled})
}

// matrix grows a linear map's weight [rows, cols]; perturbations apply in the
// layers only.
func (a *applier) matrix(key string, t graph.Tensor, rows, cols *Map, rk, ck string, layer bool) graph.Tensor {
	v := a.p.Values
	r := &matrixRule{rows: rows, cols: cols, freeStd: v.FreeStd, absRandom: v.AbsRandom, seed: a.p.Seed, role: key}
	pw := ""
	if layer && v.Perturb.Kind != NoPerturb {
		r.perturb, r.rel = v.Perturb.Kind, v.Perturb.Rel
		for _, c := range cols.count {
			if c > 1 {
				pw = "random fan-in split cancels only in real arithmetic"
				if v.Perturb.Kind == Noise {
					pw = "zero-sum noise cancels only in real arithmetic"
				}
				break
			}
		}
	}
	mw := ""
	if rows.produce == FillMean && hasNew(rows) {
		mw = "mean rows"
	}
	rule := describe(rk, rows, false) + "; " + describe(ck, cols, true)
	if d := divWhy(cols); d != "" || !isUniformOne(cols) {
		rule += " (fan-in split)"
	}
	switch {
	case r.perturb == Noise && pw != "":
		rule += fmt.Sprintf(" + noise %g dB", v.Perturb.SNRDB)
	case r.perturb == Split && pw != "":
		rule += " + random split"
	}
	sw := ""
	if _, ok := t.(scaled); ok {
		rule += ", ×sqrt(s) (QK-norm)"
		sw = "q/k ×sqrt(s)"
	}
	a.step(key, t, []int{rows.dst, cols.dst}, rule, !isUniformOne(cols), divWhy(cols), pw, mw, sw)
	if rows.isIdentity() && cols.isIdentity() {
		return t
	}
	return newLazyMatrix(t, r)
}

// cancelOf marks the output projection of a cancelzero identity block: the
// tensor it wraps only sets the scale of the perturbation written.
type cancelOf struct{ graph.Tensor }

// cancelled writes the zero-sum perturbation of the plan over the copies of
// each input of t's columns, scaled by t, and none of t's values.
func (a *applier) cancelled(key string, t graph.Tensor, rows, cols *Map, rk, ck string) graph.Tensor {
	v := a.p.Values
	r := &matrixRule{rows: rows, cols: cols, perturb: v.Perturb.Kind, rel: v.Perturb.Rel, seed: a.p.Seed, role: key, cancel: true}
	why := ""
	if !isUniformOne(cols) {
		why = "cancelling values cancel only in real arithmetic"
	}
	a.step(key, t, []int{rows.dst, cols.dst}, describe(rk, rows, false)+"; "+describe(ck, cols, true)+" (zero-sum over copies, identity block)", false, why)
	return newLazyMatrix(t, r)
}

// table grows an embedding-like [rows, D] matrix whose residual columns are
// outputs (copied, never divided).
func (a *applier) table(key string, t graph.Tensor, rows *Map) graph.Tensor {
	v := a.p.Values
	r := &matrixRule{rows: rows, cols: a.resid, colsProduce: true, freeStd: v.FreeStd, absRandom: v.AbsRandom, seed: a.p.Seed, role: key}
	mw := ""
	if a.resid.produce == FillMean && hasNew(a.resid) {
		mw = "mean columns"
	}
	rule, sw := describe("hidden", a.resid, false), ""
	if sc, ok := t.(scaled); ok {
		rule += fmt.Sprintf(", ×%.6g (embedding scale)", sc.c)
		if sc.c != math.Exp2(math.Round(math.Log2(sc.c))) {
			sw = "embedding ×sqrt(D/D')"
		}
	}
	a.step(key, t, []int{rows.dst, a.resid.dst}, rule, sw != "", mw, sw)
	if rows.isIdentity() && a.resid.isIdentity() {
		return t
	}
	return newLazyMatrix(t, r)
}

// vector grows a vector over an output axis (a bias).
func (a *applier) vector(key string, t graph.Tensor, m *Map, kind string) graph.Tensor {
	v := a.p.Values
	r := &vectorRule{m: m, freeStd: v.FreeStd, seed: a.p.Seed, role: key}
	if !v.AbsRandom {
		r.freeStd = 0 // relative free values in a bias make no sense; zero
	}
	mw := ""
	if m.produce == FillMean && hasNew(m) {
		mw = "mean entries"
	}
	sw, rule := "", describe(kind, m, false)
	if _, ok := t.(scaled); ok {
		rule += ", ×sqrt(s) (QK-norm)"
		sw = "q/k ×sqrt(s)"
	}
	a.step(key, t, []int{m.dst}, rule, false, mw, sw)
	if m.isIdentity() {
		return t
	}
	return newLazyVector(t, r)
}

// norm grows a residual norm's gain or bias: copied entries times the gain
// scale (and a folded head scale), new gains cyclic or zero, new biases zero.
func (a *applier) norm(key, role string, t graph.Tensor, bias bool) graph.Tensor {
	v := a.p.Values
	scale := scaleOr1(v.NormScale)
	fold := 1.0
	if strings.HasPrefix(role, a.foldNorm+".") {
		fold = a.fold
	}
	r := &vectorRule{m: a.resid, norm: !bias, normBias: bias, scale: scale, fold: fold,
		newCyclic: v.NormNewCyclic, newOne: v.NormNewOne, plusOne: a.g.Features().NormPlusOne, role: key}
	rule := describe("hidden", a.resid, false)
	var why []string
	if !bias && scale != 1 {
		rule += fmt.Sprintf(", gain ×sqrt(s)=%.6g", scale)
		why = append(why, "gain ×sqrt(s)")
	}
	if hasNew(a.resid) {
		switch {
		case !bias && v.NormNewCyclic:
			rule += ", new gains cyclic"
		case !bias && v.NormNewOne:
			rule += ", new gains 1"
		default:
			rule += ", new entries 0"
		}
	}
	if fold != 1 {
		rule += fmt.Sprintf(", ×1/%g (tied-head fold)", 1/fold)
		if f := 1 / fold; f != math.Exp2(math.Round(math.Log2(f))) {
			why = append(why, fmt.Sprintf("fold by 1/%g", f))
		}
	}
	a.step(key, t, []int{a.resid.dst}, rule, fold != 1 || (!bias && scale != 1), why...)
	if a.resid.isIdentity() && fold == 1 && (bias || scale == 1) {
		return t
	}
	return newLazyVector(t, r)
}

// divWhy says why a fan-in division by the copy counts of cols is inexact
// (a count that is not a power of two), or "".
func divWhy(m *Map) string {
	for _, c := range m.count {
		if c&(c-1) != 0 {
			return fmt.Sprintf("fan-in division by %d", c)
		}
	}
	return ""
}

// isUniformOne reports whether no source index of m has several copies.
func isUniformOne(m *Map) bool {
	for _, c := range m.count {
		if c > 1 {
			return false
		}
	}
	return true
}

// layerList says where each result block comes from: "0 1 1(identity)
// 0.5·2+0.5·3".
func layerList(ls []LayerSource) string {
	var out []string
	for _, l := range ls {
		var parts []string
		for _, w := range l.From {
			if len(l.From) == 1 && w.Weight == 1 {
				parts = append(parts, strconv.Itoa(w.Layer))
			} else {
				parts = append(parts, fmt.Sprintf("%g·%d", w.Weight, w.Layer))
			}
		}
		s := strings.Join(parts, "+")
		switch {
		case l.Identity && l.Cancel:
			s += "(identity, cancelzero)"
		case l.Identity:
			s += "(identity)"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// embedRatio is what the embedding is multiplied by so that a family that
// scales its embeddings by sqrt(hidden) (Features.EmbedScale) keeps its
// stream: c(D)/c(D'), 1 otherwise.
func (a *applier) embedRatio() float64 {
	if !a.g.Features().EmbedScale || a.p.Dims.Hidden == a.g.Hidden || a.p.Values.AsIs {
		return 1
	}
	dt := a.g.Embed.DType()
	if c := a.g.Config; c != nil {
		if d, err := checkpoint.ParseDType(c.DType); err == nil && d.IsFloat() {
			dt = d
		}
	}
	return a.g.EmbedScale() / graph.EmbedNormalizer(a.p.Dims.Hidden, dt)
}
