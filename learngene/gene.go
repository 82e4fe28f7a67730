package learngene

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/transform"
)

// ManifestFile is the manifest's name inside a gene directory.
const ManifestFile = "learngene.json"

// Format is the manifest's format tag.
const Format = "grow-learngene/1"

// Kinds of learngene.
const (
	TLEG = "tleg"
	SWS  = "sws"
)

// Manifest says what a gene directory holds.
type Manifest struct {
	Format string `json:"format"`
	// Kind is "tleg" (blocks 0 and 1 are θ_A and θ_B) or "sws" (block s is
	// stage s's).
	Kind string `json:"kind"`
	// SourceLayers is the depth of the model the gene was extracted from.
	SourceLayers int `json:"source_layers"`
	// Stages are the SWS stages' lengths in source blocks, Member how each
	// stage's block was made ("mean", "first", "middle", "last").
	Stages []int  `json:"stages,omitempty"`
	Member string `json:"member,omitempty"`
	// Fit is TLEG's least-squares fit, tensor by tensor.
	Fit []TensorFit `json:"fit,omitempty"`
}

// TensorFit is how well θ_A + t·θ_B fits one block tensor over depth:
// R² = 1 − Σ_i ‖θ_i − θ̂_i‖² / Σ_i ‖θ_i − θ̄‖², 1 for a tensor that does not
// change with depth.
type TensorFit struct {
	Role string  `json:"role"`
	R2   float64 `json:"r2"`
}

// Validate checks a manifest against the gene graph g.
func (m *Manifest) Validate(g *graph.Graph) error {
	if m.Format != Format {
		return fmt.Errorf("learngene: manifest format %q (want %q)", m.Format, Format)
	}
	switch m.Kind {
	case TLEG:
		if len(g.Layers) != 2 {
			return fmt.Errorf("learngene: a TLEG gene holds 2 blocks (θ_A, θ_B), this one %d", len(g.Layers))
		}
	case SWS:
		if len(m.Stages) != len(g.Layers) {
			return fmt.Errorf("learngene: the manifest lists %d stages, the gene holds %d blocks", len(m.Stages), len(g.Layers))
		}
	default:
		return fmt.Errorf("learngene: manifest kind %q (want tleg or sws)", m.Kind)
	}
	if m.SourceLayers < 1 {
		return fmt.Errorf("learngene: manifest source_layers %d", m.SourceLayers)
	}
	return nil
}

// Marshal writes the manifest as indented JSON.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// ReadManifest reads dir's manifest; a directory without one is not a gene.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("learngene: %s has no %s: not a learngene (grow learngene extract makes one)", dir, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("learngene: %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return &m, nil
}

// plan is a plan that changes only the blocks.
func plan(g *graph.Graph, op string, layers []transform.LayerSource, params map[string]any) *transform.Plan {
	d := g.Dims
	d.Layers = len(layers)
	return &transform.Plan{Operator: op, Class: claim.NonPreserving, Dims: d, Layers: layers,
		StateMap: []int{}, Params: params,
		HiddenText: "not preserved: blocks made from other blocks"}
}

// ParseList parses "3,3,4" into whole numbers.
func ParseList(s, flag string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %q is not a whole number", flag, s, f)
		}
		out = append(out, n)
	}
	return out, nil
}
