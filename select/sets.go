package selection

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/grow-ml/grow/checkpoint"
)

// Sets are the index sets of one selection: every student entry is the
// teacher's entry at these indices. They are recorded in the output's
// metadata (grow.params, key "selection").
type Sets struct {
	// Layers[i] is the teacher block student block i is.
	Layers []int `json:"layers"`
	// Hidden are the teacher's residual channels, shared by every tensor
	// with a residual axis (embeddings, norms, every projection, the head).
	Hidden []int `json:"hidden"`
	// Heads and KVHeads are the teacher's query and key/value heads (whole
	// heads of head_dim coordinates), and FFN its FFN units, per student
	// layer; one list when every layer keeps the same.
	Heads   PerLayer `json:"heads"`
	KVHeads PerLayer `json:"kv_heads"`
	FFN     PerLayer `json:"ffn"`
}

// PerLayer are index sets, one per student layer. In JSON it is one list
// when every layer's is the same, otherwise a list of lists.
type PerLayer [][]int

// At returns layer l's set.
func (p PerLayer) At(l int) []int {
	if len(p) == 1 {
		return p[0]
	}
	return p[l]
}

// Shared reports whether every layer has the same set.
func (p PerLayer) Shared() bool {
	for _, s := range p[min(1, len(p)):] {
		if !slices.Equal(s, p[0]) {
			return false
		}
	}
	return true
}

// MarshalJSON writes one list when every layer's set is the same.
func (p PerLayer) MarshalJSON() ([]byte, error) {
	if len(p) > 0 && p.Shared() {
		return json.Marshal(p[0])
	}
	return json.Marshal([][]int(p))
}

// UnmarshalJSON reads one list (shared) or a list of lists.
func (p *PerLayer) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) > 0 && bytes.HasPrefix(bytes.TrimSpace(raw[0]), []byte("[")) {
		var v [][]int
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*p = v
		return nil
	}
	var v []int
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = PerLayer{v}
	return nil
}

// Recorded reads the index sets a grow shrink output records (grow.params,
// key "selection", in the metadata of its first shard).
func Recorded(c *checkpoint.Checkpoint) (*Sets, error) {
	if len(c.Files) == 0 {
		return nil, fmt.Errorf("selection: no safetensors file")
	}
	f := c.Files[0]
	raw, ok := f.Metadata["grow.params"]
	if !ok {
		return nil, fmt.Errorf("selection: %s has no grow.params metadata: not written by grow shrink", f.Path)
	}
	var params struct {
		Selection *Sets `json:"selection"`
	}
	if err := json.Unmarshal([]byte(raw), &params); err != nil {
		return nil, fmt.Errorf("selection: %s: grow.params: %w", f.Path, err)
	}
	if params.Selection == nil {
		return nil, fmt.Errorf("selection: %s records no index sets (grow.params has no \"selection\")", f.Path)
	}
	return params.Selection, nil
}
