package claim

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

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
	return g, true, nil
}

// MarshalIndent returns the state as the JSON of GrowthStateFile.
func (g *Growth) MarshalIndent() ([]byte, error) {
	if math.IsNaN(g.MaskValue) {
		return nil, fmt.Errorf("claim: mask value NaN")
	}
	b, err := json.MarshalIndent(g, "", "  ")
	return append(b, '\n'), err
}
