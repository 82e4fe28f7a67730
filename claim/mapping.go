package claim

import (
	"encoding/json"
	"fmt"

	"github.com/grow-ml/grow/checkpoint"
)

// ReadMapping reads the Mapping an operator recorded under MetadataKey in the
// first shard of c. ok is false when there is none.
func ReadMapping(c *checkpoint.Checkpoint) (m *Mapping, ok bool, err error) {
	if c == nil || len(c.Files) == 0 {
		return nil, false, nil
	}
	s, ok := c.Files[0].Metadata[MetadataKey]
	if !ok {
		return nil, false, nil
	}
	m, err = ParseMapping([]byte(s))
	if err != nil {
		return nil, false, fmt.Errorf("claim: %s: metadata %q: %w", c.Files[0].Path, MetadataKey, err)
	}
	return m, true, nil
}

// ParseMapping parses and validates a Mapping's JSON.
func ParseMapping(data []byte) (*Mapping, error) {
	var m Mapping
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the mapping's class, hidden map and layer map.
func (m *Mapping) Validate() error {
	switch m.Class {
	case BitExact, Exact, ExactUpToEps, Approx, NonPreserving:
	default:
		return fmt.Errorf("unknown exactness class %q (want %s, %s, %s, %s or %s)", m.Class,
			BitExact, Exact, ExactUpToEps, Approx, NonPreserving)
	}
	if m.Storage != "" {
		if dt, err := checkpoint.ParseDType(m.Storage); err != nil || !dt.IsFloat() || string(dt) != m.Storage {
			return fmt.Errorf("storage dtype %q (want F64, F32, F16 or BF16)", m.Storage)
		}
	}
	h := m.Hidden
	if h == (HiddenMap{}) {
		return nil // unknown: no layer-wise comparison
	}
	switch h.Kind {
	case "tile", "pad":
	default:
		return fmt.Errorf("hidden map kind %q (want tile or pad)", h.Kind)
	}
	switch h.Fill {
	case "", "zero", "mean":
	default:
		return fmt.Errorf("hidden map fill %q (want zero or mean)", h.Fill)
	}
	if h.Src <= 0 || h.Dst < h.Src {
		return fmt.Errorf("hidden map from %d to %d coordinates (want 0 < src ≤ dst)", h.Src, h.Dst)
	}
	for j, s := range m.Layers {
		if s < -1 {
			return fmt.Errorf("layer map entry %d is %d (want a hidden-state index or -1)", j, s)
		}
	}
	return nil
}

// Apply maps a source hidden state (length Src) to the grown model's (length Dst).
func (h HiddenMap) Apply(x []float64) []float64 {
	out := make([]float64, h.Dst)
	fill := 0.0
	if h.Fill == "mean" {
		for _, v := range x {
			fill += v
		}
		fill /= float64(len(x))
	}
	n := h.Src
	if h.Kind == "tile" {
		n = h.Dst / h.Src * h.Src
	}
	for i := range out {
		if i < n {
			out[i] = x[i%h.Src]
		} else {
			out[i] = fill
		}
	}
	return out
}
