package claim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/grow-ml/grow/checkpoint"
)

// ConfigKey is the config.json key under which grow keeps a copy of the
// Mapping (as a JSON object). transformers keeps unknown config keys through a
// load and save_pretrained, which rewrites the safetensors metadata to
// {"format": "pt"}: the copy is what lets a claim survive that round trip.
const ConfigKey = "grow_mapping"

// Found is a Mapping and where it was read.
type Found struct {
	Mapping *Mapping
	// From says where the mapping was read, e.g. `the safetensors metadata
	// ("grow.mapping") of model.safetensors and config.json ("grow_mapping"),
	// which agree`.
	From string
}

// ReadMapping reads the Mapping an operator recorded for c (Locate). ok is
// false when there is none.
func ReadMapping(c *checkpoint.Checkpoint) (m *Mapping, ok bool, err error) {
	f, err := Locate(c)
	if err != nil || f == nil {
		return nil, false, err
	}
	return f.Mapping, true, nil
}

// Locate finds the Mapping recorded for c: under MetadataKey in its shards'
// safetensors metadata and under ConfigKey in its config.json. Either copy is
// enough; when both are there they must say the same, and so must every shard
// that carries one, or the error names the two that disagree. It returns nil
// (and no error) when c records no mapping.
func Locate(c *checkpoint.Checkpoint) (*Found, error) {
	if c == nil {
		return nil, nil
	}
	var meta *Mapping
	var metaFile string
	var shards []string
	for _, f := range c.Files {
		s, ok := f.Metadata[MetadataKey]
		if !ok {
			continue
		}
		m, err := ParseMapping([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("claim: %s: metadata %q: %w", f.Path, MetadataKey, err)
		}
		if meta != nil && !Same(meta, m) {
			return nil, fmt.Errorf("claim: the mappings in the metadata of %s (%s) and of %s (%s) disagree",
				metaFile, compact(meta), f.Path, compact(m))
		}
		if meta == nil {
			meta, metaFile = m, f.Path
		}
		shards = append(shards, filepath.Base(f.Path))
	}
	var conf *Mapping
	cfgName := "config.json"
	if c.Config != nil {
		if c.Config.Name != "" {
			cfgName = c.Config.Name
		}
		if v, ok := c.Config.Get(ConfigKey); ok {
			m, err := ParseConfigValue(v)
			if err != nil {
				return nil, fmt.Errorf("claim: %s: key %q: %w", cfgName, ConfigKey, err)
			}
			conf = m
		}
	}
	metaWhere := fmt.Sprintf("the safetensors metadata (%q) of %s", MetadataKey, listNames(shards))
	cfgWhere := fmt.Sprintf("%s (%q)", filepath.Base(cfgName), ConfigKey)
	switch {
	case meta != nil && conf != nil:
		if !Same(meta, conf) {
			return nil, fmt.Errorf("claim: the mapping in the metadata of %s (%s) and the one in %s under %q (%s) disagree",
				metaFile, compact(meta), cfgName, ConfigKey, compact(conf))
		}
		return &Found{Mapping: meta, From: metaWhere + " and " + cfgWhere + ", which agree"}, nil
	case meta != nil:
		return &Found{Mapping: meta, From: metaWhere + " (config.json holds no copy)"}, nil
	case conf != nil:
		return &Found{Mapping: conf, From: cfgWhere + " (the safetensors metadata holds none: a transformers " +
			"save_pretrained rewrites it)"}, nil
	}
	return nil, nil
}

// ParseConfigValue parses the value of ConfigKey as encoding/json decoded it
// from config.json: a JSON object, or a string holding one.
func ParseConfigValue(v any) (*Mapping, error) {
	if s, ok := v.(string); ok {
		return ParseMapping([]byte(s))
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", describe(v))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return ParseMapping(b)
}

// ConfigValue returns m as the value to store under ConfigKey: a JSON object.
func ConfigValue(m *Mapping) (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Same reports whether two mappings say the same (a nil and an empty layer
// map are the same).
func Same(a, b *Mapping) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	if len(x.Layers) == 0 && len(y.Layers) == 0 {
		x.Layers, y.Layers = nil, nil
	}
	return reflect.DeepEqual(x, y)
}

// compact writes a mapping as one line of JSON for an error message.
func compact(m *Mapping) string {
	b, _ := json.Marshal(m)
	return string(b)
}

func listNames(names []string) string {
	switch len(names) {
	case 0:
		return "no shard"
	case 1:
		return names[0]
	case 2:
		return names[0] + " and " + names[1]
	}
	return fmt.Sprintf("%s and the %d other shards", names[0], len(names)-1)
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// ParseMapping parses and validates a Mapping's JSON. Unknown keys are refused,
// so that a misspelt field ("clas") is not silently read as absent.
func ParseMapping(data []byte) (*Mapping, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("want a JSON object, got null")
	}
	var m Mapping
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the mapping's class, hidden map and layer map.
func (m *Mapping) Validate() error {
	if Rank(m.Class) < 0 {
		return fmt.Errorf("unknown exactness class %q (want %s, %s, %s, %s or %s)", m.Class,
			BitExact, Exact, ExactUpToEps, Approx, NonPreserving)
	}
	for _, f := range []struct{ name, dt string }{{"storage", m.Storage}, {"rounded", m.Rounded}} {
		if f.dt == "" {
			continue
		}
		if dt, err := checkpoint.ParseDType(f.dt); err != nil || !dt.IsFloat() || string(dt) != f.dt {
			return fmt.Errorf("%s dtype %q (want F64, F32, F16 or BF16)", f.name, f.dt)
		}
	}
	h := m.Hidden
	if h == (HiddenMap{}) {
		if m.Layers != nil {
			return fmt.Errorf("a layer map without a hidden map")
		}
		return nil // unknown: no layer-wise comparison
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if len(m.Layers) > maxLayers {
		return fmt.Errorf("layer map of %d entries (want at most %d)", len(m.Layers), maxLayers)
	}
	for j, s := range m.Layers {
		if s < -1 || s > maxLayers {
			return fmt.Errorf("layer map entry %d is %d (want a hidden-state index or -1)", j, s)
		}
	}
	return nil
}

// maxLayers and maxWidth bound what a mapping may say, far beyond any model,
// so that a hostile one cannot make a check allocate without limit.
const (
	maxLayers = 1 << 16
	maxWidth  = 1 << 24
)

// Validate checks a hidden map's kind, fill and sizes.
func (h HiddenMap) Validate() error {
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
	if h.Src <= 0 || h.Dst < h.Src || h.Dst > maxWidth {
		return fmt.Errorf("hidden map from %d to %d coordinates (want 0 < src ≤ dst ≤ %d)", h.Src, h.Dst, maxWidth)
	}
	return nil
}

// Rank orders the classes by what they promise: BIT-EXACT 4, EXACT 3,
// EXACT-UP-TO-EPS 2, APPROX 1, NON-PRESERVING 0; -1 for an unknown class.
func Rank(class string) int {
	return slices.Index([]string{NonPreserving, Approx, ExactUpToEps, Exact, BitExact}, class)
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

// String writes a hidden map as check prints it: "tile 64→128", "pad 64→96 fill mean".
func (h HiddenMap) String() string {
	if h == (HiddenMap{}) {
		return "none"
	}
	s := fmt.Sprintf("%s %d→%d", h.Kind, h.Src, h.Dst)
	if h.Fill != "" {
		s += " fill " + h.Fill
	}
	return s
}
