package claim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/grow-ml/grow/checkpoint"
)

// Masked structural growth (MSG; Yao et al. 2024, arXiv 2305.02869) keeps a
// grown model's new coordinates behind masks that start at 0 and rise to 1 in
// training. grow writes them beside the checkpoint: GrowthStateFile says
// what grew and the current mask value, GrowthMasksFile holds the masks as
// tensors for training code.
const (
	GrowthStateFile = checkpoint.GrowthStateFile
	GrowthMasksFile = checkpoint.GrowthMasksFile
)

// Growth is MSG's state of a grown checkpoint: the source's sizes (the
// grown model keeps them in its leading coordinates), the mask value of the
// new coordinates and which layers are new.
type Growth struct {
	Method    string  `json:"method"`
	MaskValue float64 `json:"mask_value"`
	Old       Sizes   `json:"old"`
	New       Sizes   `json:"new"`
	// NewLayers lists the result's new blocks; SourceLayers[l] is the
	// source block that block l copies.
	NewLayers    []int `json:"new_layers"`
	SourceLayers []int `json:"source_layers"`
}

// Sizes are the dimensions MSG grows.
type Sizes struct {
	Hidden  int `json:"hidden"`
	Heads   int `json:"heads"`
	KVHeads int `json:"kv_heads"`
	HeadDim int `json:"head_dim"`
	FFN     int `json:"ffn"`
	Layers  int `json:"layers"`
}

// Validate checks that the state is consistent.
func (g *Growth) Validate() error {
	o, n := g.Old, g.New
	if !(g.MaskValue >= 0 && g.MaskValue <= 1) {
		return fmt.Errorf("mask value %v (want a value in [0, 1])", g.MaskValue)
	}
	for _, c := range []struct {
		name     string
		old, new int
	}{{"hidden", o.Hidden, n.Hidden}, {"heads", o.Heads, n.Heads}, {"kv_heads", o.KVHeads, n.KVHeads},
		{"ffn", o.FFN, n.FFN}, {"layers", o.Layers, n.Layers}} {
		if c.old <= 0 || c.new < c.old {
			return fmt.Errorf("%s %d -> %d (want 0 < old ≤ new)", c.name, c.old, c.new)
		}
	}
	if o.HeadDim <= 0 || o.HeadDim != n.HeadDim {
		return fmt.Errorf("head_dim %d -> %d (MSG keeps it)", o.HeadDim, n.HeadDim)
	}
	if len(g.SourceLayers) != n.Layers || len(g.NewLayers) != n.Layers-o.Layers {
		return fmt.Errorf("%d source layers and %d new layers for %d -> %d layers", len(g.SourceLayers), len(g.NewLayers), o.Layers, n.Layers)
	}
	for _, l := range g.NewLayers {
		if l < 0 || l >= n.Layers {
			return fmt.Errorf("new layer %d outside 0..%d", l, n.Layers-1)
		}
	}
	return nil
}

// Masks returns the masks of the state: 1 on old coordinates (the leading
// ones) and old layers, MaskValue on new ones; in order hidden [D], query
// [H·d], key/value [K·d], FFN [I] and layers [L].
func (g *Growth) Masks() (hidden, q, kv, ffn, layers []float64) {
	lead := func(old, n int) []float64 {
		m := make([]float64, n)
		for i := range m {
			m[i] = g.MaskValue
			if i < old {
				m[i] = 1
			}
		}
		return m
	}
	d := g.New.HeadDim
	layers = make([]float64, g.New.Layers)
	for i := range layers {
		layers[i] = 1
		if slices.Contains(g.NewLayers, i) {
			layers[i] = g.MaskValue
		}
	}
	return lead(g.Old.Hidden, g.New.Hidden), lead(g.Old.Heads*d, g.New.Heads*d), lead(g.Old.KVHeads*d, g.New.KVHeads*d),
		lead(g.Old.FFN, g.New.FFN), layers
}

// ReadGrowth reads the MSG state of the model directory dir; ok is false
// when it has none.
func ReadGrowth(dir string) (g *Growth, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, GrowthStateFile))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("claim: %w", err)
	}
	g = &Growth{}
	if err := json.Unmarshal(b, g); err != nil {
		return nil, false, fmt.Errorf("claim: %s: %w", filepath.Join(dir, GrowthStateFile), err)
	}
	if err := g.Validate(); err != nil {
		return nil, false, fmt.Errorf("claim: %s: %w", filepath.Join(dir, GrowthStateFile), err)
	}
	if err := g.checkMasksFile(filepath.Join(dir, GrowthMasksFile)); err != nil {
		return nil, false, err
	}
	return g, true, nil
}

// maskNames are the tensors of GrowthMasksFile, in the order of Masks.
var maskNames = []string{"msg.hidden", "msg.q", "msg.kv", "msg.ffn", "msg.layers"}

// checkMasksFile checks that the masks file beside the state holds exactly
// the state's masks: no tensor it does not know, none missing, the values
// the state says.
func (g *Growth) checkMasksFile(path string) error {
	f, err := checkpoint.OpenFile(path)
	if err != nil {
		return fmt.Errorf("claim: the masks of %s: %w", GrowthStateFile, err)
	}
	defer f.Close()
	h, q, kv, ffn, layers := g.Masks()
	want := map[string][]float64{"msg.hidden": h, "msg.q": q, "msg.kv": kv, "msg.ffn": ffn, "msg.layers": layers}
	for _, t := range f.Tensors {
		w, ok := want[t.Name]
		if !ok {
			return fmt.Errorf("claim: %s: a mask on an unknown tensor %q (the masks are %v)", path, t.Name, maskNames)
		}
		v, err := t.Float64()
		if err != nil {
			return fmt.Errorf("claim: %s: %s: %w", path, t.Name, err)
		}
		if !slices.EqualFunc(v, w, func(a, b float64) bool { return float32(a) == float32(b) }) {
			return fmt.Errorf("claim: %s: %s does not hold the masks of %s at value %g (grow msg set-mask rewrites both)",
				path, t.Name, GrowthStateFile, g.MaskValue)
		}
		delete(want, t.Name)
	}
	for _, n := range maskNames {
		if _, missing := want[n]; missing {
			return fmt.Errorf("claim: %s has no %s", path, n)
		}
	}
	return nil
}

// MarshalIndent returns the state as the JSON of GrowthStateFile.
func (g *Growth) MarshalIndent() ([]byte, error) {
	if math.IsNaN(g.MaskValue) {
		return nil, fmt.Errorf("claim: mask value NaN")
	}
	b, err := json.MarshalIndent(g, "", "  ")
	return append(b, '\n'), err
}

// Files returns the files of the state: its JSON (GrowthStateFile) and its
// masks as float32 tensors (GrowthMasksFile).
func (g *Growth) Files() (map[string][]byte, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	js, err := g.MarshalIndent()
	if err != nil {
		return nil, err
	}
	h, q, kv, ffn, layers := g.Masks()
	var es []checkpoint.Entry
	for i, v := range [][]float64{h, q, kv, ffn, layers} {
		es = append(es, checkpoint.Float64Entry(maskNames[i], checkpoint.F32, []int{len(v)}, func() ([]float64, error) { return v, nil }))
	}
	var buf bytes.Buffer
	meta := map[string]string{"grow.mask_value": strconv.FormatFloat(g.MaskValue, 'g', -1, 64)}
	if err := checkpoint.WriteSafetensors(&buf, es, meta); err != nil {
		return nil, err
	}
	return map[string][]byte{GrowthStateFile: js, GrowthMasksFile: buf.Bytes()}, nil
}
