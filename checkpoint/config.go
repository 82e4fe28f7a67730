package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/graph/family"
)

// Config is a typed view of a config.json for the model types package family
// describes (gpt2, llama, mistral, qwen2, qwen3, phi3, gemma, gpt_neox, opt,
// olmo2, bert), reading both transformers v4 and v5 spellings: each model
// type's descriptor gives its key names, aliases and defaults. Marshal writes the typed fields back under the family's own key
// names and keeps every other key as it was read.
//
// Raw values (Get, Set) are what encoding/json decodes into an any: numbers are
// float64, objects map[string]any, arrays []any.
type Config struct {
	ModelType     string
	Architectures []string

	Hidden       int // hidden_size / n_embd
	Layers       int // num_hidden_layers / n_layer
	Heads        int // num_attention_heads / n_head
	KVHeads      int // num_key_value_heads (= Heads when absent)
	HeadDim      int // head_dim (absent: the family's default, Hidden/Heads or Qwen3's 128)
	FFN          int // intermediate_size / n_inner (GPT-2 null means 4·n_embd)
	Vocab        int // vocab_size
	MaxPositions int // max_position_embeddings / n_positions
	TypeVocab    int // BERT type_vocab_size

	NormEps     float64 // rms_norm_eps / layer_norm_epsilon / layer_norm_eps
	Act         string  // hidden_act / activation_function
	Tied        bool    // tie_word_embeddings, with the family's default
	RopeTheta   float64 // rope_theta or rope_parameters.rope_theta
	RopeScaling map[string]any
	// RotaryFraction is the fraction of each head RoPE rotates: the
	// family's partial_rotary_factor (top level or in rope_parameters) where
	// it has one, else its fixed fraction (1); 0 without RoPE.
	RotaryFraction float64
	AttentionBias  bool   // the attention-bias switch (llama attention_bias), or whether q/k/v biases are fixed on
	MLPBias        bool   // the MLP-bias switch (llama mlp_bias), or whether MLP biases are fixed on
	DType          string // torch_dtype or dtype, e.g. "float32"
	// ParallelResidual: attention and the MLP read the same block input
	// and both add to it (GPT-NeoX's use_parallel_residual, with the
	// family's default); false for a family without the switch.
	ParallelResidual bool

	// LayerTypes is the v5 per-layer list (e.g. "full_attention",
	// "sliding_attention"), nil when the config has none. Marshal truncates or
	// extends it to follow Layers (extending continues its shortest period).
	LayerTypes []string

	// Name is the file the config was read from (for error messages).
	Name string
	raw  map[string]any
	// orig is the config as read with numbers kept as written (json.Number), so
	// that Marshal writes unchanged values exactly as the source spelled them
	// (10000.0 stays a float for transformers' typed configs).
	orig map[string]any
}

// descriptor returns the family descriptor of a model_type, nil when grow
// does not know it.
func descriptor(modelType string) *family.Descriptor {
	d, _ := family.Lookup(modelType)
	return d
}

// Family returns the graph family of the config's model_type (the
// descriptor's Family: "gpt2", "llama" also for mistral, qwen2, qwen3, phi3
// and gemma, "gpt_neox", "opt", "olmo2", "bert"), or "" for an unknown
// model_type.
func (c *Config) Family() string {
	if d := descriptor(c.ModelType); d != nil {
		return d.Family
	}
	return ""
}

// configReader reads typed values from the raw map and records the first error.
type configReader struct {
	name string
	raw  map[string]any
	err  error
}

func (r *configReader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("checkpoint: %s: key %q: %s", r.name, key, fmt.Sprintf(format, args...))
	}
}

// fullHeads sets the attention of a family with derived head widths and no
// grouped-query attention (GPT-2, BERT), which have a key/value head per
// query head and derive head_dim as hidden/heads: headsKey (c.Heads) must
// divide hiddenKey (c.Hidden).
func (r *configReader) fullHeads(c *Config, headsKey, hiddenKey string) {
	if r.err == nil && c.Hidden%c.Heads != 0 {
		r.fail(headsKey, "%d does not divide %s %d", c.Heads, hiddenKey, c.Hidden)
	}
	c.KVHeads = c.Heads
	if r.err == nil {
		c.HeadDim = c.Hidden / c.Heads
	}
}

// present reports whether key exists and is not null.
func (r *configReader) present(key string) bool {
	v, ok := r.raw[key]
	return ok && v != nil
}

// firstKey returns the first of keys that is present (not null), or "".
func (r *configReader) firstKey(keys ...string) string {
	for _, k := range keys {
		if r.present(k) {
			return k
		}
	}
	return ""
}

// agree fails when two spellings of one value are both present and differ
// (GPT-2's n_embd and its attribute_map alias hidden_size).
func (r *configReader) agree(keys ...string) {
	first := ""
	for _, k := range keys {
		if !r.present(k) {
			continue
		}
		if first == "" {
			first = k
			continue
		}
		if !reflect.DeepEqual(r.raw[k], r.raw[first]) {
			r.fail(k, "%s contradicts %s %s", describe(r.raw[k]), first, describe(r.raw[first]))
		}
	}
}

// intKey reads a required positive integer under the first present key.
func (r *configReader) intKey(keys ...string) int {
	r.agree(keys...)
	k := r.firstKey(keys...)
	if k == "" {
		r.fail(keys[0], "missing (a positive integer is required)")
		return 0
	}
	return r.positive(k, r.raw[k])
}

// optInt reads an optional positive integer; def when absent or null.
func (r *configReader) optInt(def int, keys ...string) int {
	r.agree(keys...)
	k := r.firstKey(keys...)
	if k == "" {
		return def
	}
	return r.positive(k, r.raw[k])
}

func (r *configReader) positive(key string, v any) int {
	f, ok := v.(float64)
	if !ok {
		r.fail(key, "want a positive integer, got %s", describe(v))
		return 0
	}
	if f != math.Trunc(f) || f > 1<<40 {
		r.fail(key, "want a positive integer, got %v", f)
		return 0
	}
	if f <= 0 {
		r.fail(key, "must be positive, got %v", f)
		return 0
	}
	return int(f)
}

// optFloat reads an optional positive float; def when absent.
func (r *configReader) optFloat(def float64, keys ...string) float64 {
	k := r.firstKey(keys...)
	if k == "" {
		return def
	}
	f, ok := r.raw[k].(float64)
	if !ok {
		r.fail(k, "want a number, got %s", describe(r.raw[k]))
		return 0
	}
	if !(f > 0) || math.IsInf(f, 0) {
		r.fail(k, "must be positive, got %v", f)
	}
	return f
}

func (r *configReader) optBool(def bool, key string) bool {
	if !r.present(key) {
		return def
	}
	b, ok := r.raw[key].(bool)
	if !ok {
		r.fail(key, "want true or false, got %s", describe(r.raw[key]))
	}
	return b
}

func (r *configReader) optString(def string, keys ...string) string {
	k := r.firstKey(keys...)
	if k == "" {
		return def
	}
	s, ok := r.raw[k].(string)
	if !ok {
		r.fail(k, "want a string, got %s", describe(r.raw[k]))
	}
	return s
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case float64:
		return fmt.Sprintf("%v", v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// ParseConfig parses config.json data; name is used in errors.
func ParseConfig(data []byte, name string) (*Config, error) {
	if name == "" {
		name = "config.json"
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: not a JSON object: %v", name, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("checkpoint: %s: not a JSON object", name)
	}
	c := &Config{Name: name, raw: raw}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&c.orig); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: not a JSON object: %v", name, err)
	}
	r := &configReader{name: name, raw: raw}

	mt, ok := raw["model_type"].(string)
	if !ok {
		if _, there := raw["model_type"]; there {
			return nil, fmt.Errorf("checkpoint: %s: key \"model_type\": want a string, got %s", name, describe(raw["model_type"]))
		}
		return nil, fmt.Errorf("checkpoint: %s: key \"model_type\": missing", name)
	}
	c.ModelType = mt
	d := descriptor(mt)
	if d == nil {
		return nil, fmt.Errorf("checkpoint: %s: key \"model_type\": unsupported model type %q (grow knows %s)", name, mt, family.Known())
	}
	if v, there := raw["architectures"]; there && v != nil {
		list, ok := v.([]any)
		if !ok {
			r.fail("architectures", "want an array of strings, got %s", describe(v))
		}
		for _, a := range list {
			s, ok := a.(string)
			if !ok {
				r.fail("architectures", "want an array of strings, got an element %s", describe(a))
				break
			}
			c.Architectures = append(c.Architectures, s)
		}
	}

	c.readTyped(r, d)
	c.readDType(r)
	c.readLayerTypes(r)
	if r.err != nil {
		return nil, r.err
	}
	return c, nil
}

// readTyped reads the typed values under the spellings and with the
// defaults of the family d, in the order the family's config class lists
// them, then checks the heads.
func (c *Config) readTyped(r *configReader, d *family.Descriptor) {
	k := d.Config
	c.Hidden = r.intKey(k.Hidden...)
	c.Layers = r.intKey(k.Layers...)
	c.Heads = r.intKey(k.Heads...)
	if k.FFNPerHidden == 0 {
		c.FFN = r.intKey(k.FFN...)
	}
	c.Vocab = r.intKey(k.Vocab...)
	if k.KVHeads != nil {
		c.KVHeads = r.optInt(0, k.KVHeads...)
	}
	if k.HeadDim != nil {
		c.HeadDim = r.optInt(k.HeadDimDefault, k.HeadDim...)
	}
	c.MaxPositions = r.optInt(k.PositionsDefault, k.Positions...)
	if k.TypeVocab != nil {
		c.TypeVocab = r.optInt(k.TypeVocabDefault, k.TypeVocab...)
	}
	if k.FFNPerHidden > 0 {
		c.FFN = r.optInt(0, k.FFN...)
		if r.err == nil && c.FFN == 0 {
			c.FFN = k.FFNPerHidden * c.Hidden
		}
	}
	c.NormEps = r.optFloat(k.NormEpsDefault, k.NormEps...)
	c.Act = r.optString(k.ActDefault, k.Act...)
	c.Tied = r.optBool(k.TiedDefault, "tie_word_embeddings")
	c.AttentionBias = r.biasSwitch(k.AttentionBias, k.BiasDefault, d.Features.Biases.QKV)
	c.MLPBias = r.biasSwitch(k.MLPBias, k.BiasDefault, d.Features.Biases.MLP)
	if k.ParallelResidual != "" {
		c.ParallelResidual = r.optBool(k.ParallelResidualDefault, k.ParallelResidual)
	}
	if d.Features.Positions == family.Rotary {
		c.readRope(r, ropeThetaKeys(d))
		c.readRotaryFraction(r, d)
	}
	r.requires(c, d)
	if d.Features.HeadDim == family.Derived && !d.Features.GQA {
		r.fullHeads(c, k.Heads[0], k.Hidden[0])
		return
	}
	if r.err == nil {
		if c.KVHeads == 0 {
			c.KVHeads = c.Heads
		}
		if c.Heads%c.KVHeads != 0 {
			r.fail(k.KVHeads[0], "%d does not divide %s %d", c.KVHeads, k.Heads[0], c.Heads)
		}
		if c.HeadDim == 0 {
			if c.Hidden%c.Heads != 0 {
				why := "" // a derived head_dim has no key
				if len(k.HeadDim) > 0 {
					why = " and " + k.HeadDim[0] + " is absent"
				}
				r.fail(k.Heads[0], "%d does not divide %s %d%s", c.Heads, k.Hidden[0], c.Hidden, why)
			}
			c.HeadDim = c.Hidden / c.Heads
		}
	}
}

// biasSwitch reads a family's bias switch under key (def when absent); a
// family without the switch has the biases its rule fixes.
func (r *configReader) biasSwitch(key string, def bool, rule family.Bias) bool {
	if key != "" {
		return r.optBool(def, key)
	}
	return rule == family.BiasAlways
}

// requires refuses a config that sets one of the family's required keys to
// a value grow does not compute (family.Require).
func (r *configReader) requires(c *Config, d *family.Descriptor) {
	for _, q := range d.Config.Requires {
		if r.err != nil || !r.present(q.Key) {
			continue
		}
		v := r.raw[q.Key]
		ok := reflect.DeepEqual(v, q.Want)
		if q.EqualsHidden {
			f, isNum := v.(float64)
			ok = isNum && f == float64(c.Hidden)
		}
		if !ok {
			want := describe(q.Want)
			if q.EqualsHidden {
				want = fmt.Sprintf("%s %d", d.Config.Hidden[0], c.Hidden)
			}
			r.fail(q.Key, "%s: %s (grow computes %s only with %s)", describe(v), q.Why, d.Name, want)
		}
	}
}

// ropeThetaKeys are the top-level keys of a family's RoPE base.
func ropeThetaKeys(d *family.Descriptor) []string {
	if len(d.Config.RopeTheta) > 0 {
		return d.Config.RopeTheta
	}
	return []string{"rope_theta"}
}

// readRope reads the RoPE base under the family's top-level keys (v4:
// rope_theta, GPT-NeoX's rotary_emb_base), rope_parameters (v5) and
// rope_scaling.
func (c *Config) readRope(r *configReader, thetaKeys []string) {
	r.agree(thetaKeys...)
	theta := r.optFloat(0, thetaKeys...)
	if v, ok := r.raw["rope_parameters"]; ok && v != nil {
		p, ok := v.(map[string]any)
		if !ok {
			r.fail("rope_parameters", "want an object, got %s", describe(v))
			return
		}
		if t, ok := p["rope_theta"]; ok && t != nil {
			f, ok := t.(float64)
			if !ok || !(f > 0) {
				r.fail("rope_parameters", "rope_theta: want a positive number, got %s", describe(t))
				return
			}
			if theta != 0 && theta != f {
				r.fail("rope_parameters", "rope_theta %v contradicts the top-level %s %v", f, r.firstKey(thetaKeys...), theta)
				return
			}
			theta = f
		}
		// v5 folds rope_scaling into rope_parameters; "default" means none.
		if rt, _ := p["rope_type"].(string); rt != "" && rt != "default" {
			c.RopeScaling = cloneMap(p)
			delete(c.RopeScaling, "rope_theta")
		}
	}
	if v, ok := r.raw["rope_scaling"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			r.fail("rope_scaling", "want an object or null, got %s", describe(v))
			return
		}
		c.RopeScaling = cloneMap(m)
	}
	if theta == 0 {
		theta = 10000
	}
	c.RopeTheta = theta
}

// readRotaryFraction reads the fraction of each head that RoPE rotates under
// the family's keys (partial_rotary_factor, GPT-NeoX's rotary_pct) and as
// partial_rotary_factor in the v5 rope_parameters object, which must agree; a
// family without the keys rotates its fixed fraction.
func (c *Config) readRotaryFraction(r *configReader, d *family.Descriptor) {
	c.RotaryFraction = d.Features.RotaryFraction
	keys := d.Config.RotaryFraction
	if len(keys) == 0 {
		return
	}
	r.agree(keys...)
	key := r.firstKey(keys...)
	var v any
	if key != "" {
		v = r.raw[key]
	}
	if p, ok := r.raw["rope_parameters"].(map[string]any); ok {
		if pv, ok := p[ropeFractionKey]; ok && pv != nil {
			if key != "" && !reflect.DeepEqual(pv, v) {
				r.fail("rope_parameters", "%s %s contradicts the top-level %s %s", ropeFractionKey, describe(pv), key, describe(v))
				return
			}
			key, v = "rope_parameters", pv
		}
	}
	if key == "" {
		return
	}
	f, ok := v.(float64)
	if !ok || !(f > 0 && f <= 1) {
		r.fail(key, "%s: want a number in (0, 1], got %s", ropeFractionKey, describe(v))
		return
	}
	c.RotaryFraction = f
}

// ropeFractionKey is the rotary fraction's key in the v5 rope_parameters.
const ropeFractionKey = "partial_rotary_factor"

// readDType reads torch_dtype (v4) and dtype (v5).
func (c *Config) readDType(r *configReader) {
	a := r.optString("", "torch_dtype")
	b := r.optString("", "dtype")
	if a != "" && b != "" && a != b {
		r.fail("dtype", "%q contradicts torch_dtype %q", b, a)
	}
	c.DType = a
	if c.DType == "" {
		c.DType = b
	}
}

func (c *Config) readLayerTypes(r *configReader) {
	v, ok := r.raw["layer_types"]
	if !ok || v == nil {
		return
	}
	list, ok := v.([]any)
	if !ok {
		r.fail("layer_types", "want an array of strings, got %s", describe(v))
		return
	}
	c.LayerTypes = make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			r.fail("layer_types", "want an array of strings, got an element %s", describe(e))
			return
		}
		c.LayerTypes = append(c.LayerTypes, s)
	}
	if r.err == nil && len(c.LayerTypes) != c.Layers {
		r.fail("layer_types", "has %d entries but the model has %d layers", len(c.LayerTypes), c.Layers)
	}
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	d := *c
	d.Architectures = append([]string(nil), c.Architectures...)
	if c.LayerTypes != nil {
		d.LayerTypes = append([]string{}, c.LayerTypes...)
	}
	if c.RopeScaling != nil {
		d.RopeScaling = cloneMap(c.RopeScaling)
	}
	d.raw = cloneMap(c.raw)
	d.orig = cloneMap(c.orig)
	return &d
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	case []string:
		return append([]string(nil), v...)
	}
	return v
}

// Marshal returns the config as JSON with the typed fields written under the family's
// key names (head_dim and GPT-2 n_inner always explicit) and every other key kept.
//
// Keys written from the typed fields, as the model type's descriptor spells
// them (package family): the first spelling of the hidden width, layers, heads,
// key/value heads and head_dim (where the family has them), FFN width,
// vocabulary, positions, token types (BERT), norm eps and activation; their
// other spellings and write-only aliases (GPT-2's hidden_size, n_ctx) where the
// source had them; the bias switches (llama attention_bias and mlp_bias) where
// the source had them or they are on; with rotary positions the RoPE base
// (rope_theta and/or rope_parameters.rope_theta, as the source spelled it) and
// rope_scaling when the source had it. For every family: model_type,
// architectures, tie_word_embeddings (when the source had it or it differs
// from the family default), the dtype under torch_dtype and/or dtype as the
// source spelled it (torch_dtype when it had neither) and layer_types (when
// present) resized to the layer count.
func (c *Config) Marshal() ([]byte, error) {
	d := descriptor(c.ModelType)
	if d == nil {
		return nil, fmt.Errorf("checkpoint: %s: key \"model_type\": cannot write unsupported model type %q", c.Name, c.ModelType)
	}
	out := cloneMap(c.raw)
	if out == nil {
		out = map[string]any{}
	}
	has := func(k string) bool { _, ok := out[k]; return ok }
	out["model_type"] = c.ModelType
	if c.Architectures != nil || has("architectures") {
		arch := make([]any, len(c.Architectures))
		for i, a := range c.Architectures {
			arch[i] = a
		}
		out["architectures"] = arch
	}
	c.writeTyped(out, d)
	tieDefault := d.Config.TiedDefault
	if has("tie_word_embeddings") || c.Tied != tieDefault {
		out["tie_word_embeddings"] = c.Tied
	}
	if c.DType != "" {
		wrote := false
		for _, k := range []string{"torch_dtype", "dtype"} {
			if v, ok := out[k]; ok && v != nil {
				out[k] = c.DType
				wrote = true
			}
		}
		if !wrote {
			out["torch_dtype"] = c.DType
		}
	}
	if c.LayerTypes != nil {
		lt := resizeLayerTypes(c.LayerTypes, c.Layers)
		list := make([]any, len(lt))
		for i, s := range lt {
			list[i] = s
		}
		out["layer_types"] = list
	}
	restoreSpelling(out, c.orig)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %v", c.Name, err)
	}
	return buf.Bytes(), nil
}

// writeTyped writes the typed values into out under the family's keys: the
// first spelling of each, the other spellings where out has them already.
func (c *Config) writeTyped(out map[string]any, d *family.Descriptor) {
	k := d.Config
	write := func(v any, keys []string) {
		for i, key := range keys {
			if _, there := out[key]; i == 0 || there {
				out[key] = v
			}
		}
	}
	write(c.Hidden, k.Hidden)
	write(c.Layers, k.Layers)
	write(c.Heads, k.Heads)
	write(c.KVHeads, k.KVHeads)
	write(c.HeadDim, k.HeadDim)
	write(c.FFN, k.FFN)
	write(c.Vocab, k.Vocab)
	write(c.MaxPositions, k.Positions)
	write(c.TypeVocab, k.TypeVocab)
	for _, a := range k.WriteOnly {
		if _, there := out[a.Key]; there {
			out[a.Key] = c.typedValue(a.Value)
		}
	}
	write(pyFloat(c.NormEps), k.NormEps)
	write(c.Act, k.Act)
	for _, b := range []struct {
		key string
		on  bool
	}{{k.AttentionBias, c.AttentionBias}, {k.MLPBias, c.MLPBias}} {
		if _, there := out[b.key]; b.key != "" && (there || b.on != k.BiasDefault) {
			out[b.key] = b.on
		}
	}
	if key := k.ParallelResidual; key != "" {
		if _, there := out[key]; there || c.ParallelResidual != k.ParallelResidualDefault {
			out[key] = c.ParallelResidual
		}
	}
	if d.Features.Positions == family.Rotary {
		c.writeRope(out, ropeThetaKeys(d))
		c.writeRotaryFraction(out, d)
	}
}

// writeRotaryFraction writes the rotary fraction under the family's keys and
// in rope_parameters where the source had them, and under the first key when
// it had neither and the fraction is not the family's default.
func (c *Config) writeRotaryFraction(out map[string]any, d *family.Descriptor) {
	keys := d.Config.RotaryFraction
	if len(keys) == 0 || c.RotaryFraction == 0 {
		return
	}
	v := pyFloat(c.RotaryFraction)
	wrote := false
	for _, k := range keys {
		if _, there := out[k]; there {
			out[k], wrote = v, true
		}
	}
	if p, ok := out["rope_parameters"].(map[string]any); ok {
		if _, there := p[ropeFractionKey]; there {
			p[ropeFractionKey], wrote = v, true
		}
	}
	if !wrote && c.RotaryFraction != d.Features.RotaryFraction {
		out[keys[0]] = v
	}
}

// typedValue returns the typed value an alias carries.
func (c *Config) typedValue(v family.Value) int {
	switch v {
	case family.ValueHidden:
		return c.Hidden
	case family.ValueLayers:
		return c.Layers
	case family.ValueHeads:
		return c.Heads
	case family.ValuePositions:
		return c.MaxPositions
	}
	return 0
}

// writeRope writes the RoPE base (and scaling) under the spellings the source
// used: the family's top-level keys (thetaKeys) that it had, rope_parameters
// when it had it, the first top-level key when it had neither.
func (c *Config) writeRope(out map[string]any, thetaKeys []string) {
	if c.RopeTheta == 0 {
		return
	}
	v4 := false
	for _, k := range thetaKeys {
		if _, there := out[k]; there {
			out[k], v4 = pyFloat(c.RopeTheta), true
		}
	}
	p, v5 := out["rope_parameters"].(map[string]any)
	_, hasScaling := out["rope_scaling"]
	if v5 {
		p["rope_theta"] = pyFloat(c.RopeTheta)
		// Keep the v5 object in step with a changed rope_scaling (when it is
		// where the scaling was read from).
		if c.RopeScaling != nil && !hasScaling {
			for k, v := range c.RopeScaling {
				p[k] = cloneValue(v)
			}
		}
	}
	if !v4 && !v5 {
		out[thetaKeys[0]] = pyFloat(c.RopeTheta)
	}
	if hasScaling || (c.RopeScaling != nil && !v5) {
		if c.RopeScaling == nil {
			out["rope_scaling"] = nil
		} else {
			out["rope_scaling"] = cloneMap(c.RopeScaling)
		}
	}
}

// resizeLayerTypes truncates lt to n entries or extends it by continuing its
// shortest period (a constant list repeats its value).
func resizeLayerTypes(lt []string, n int) []string {
	if len(lt) >= n || len(lt) == 0 {
		if len(lt) == 0 {
			return lt
		}
		return lt[:n]
	}
	p := len(lt)
	for q := 1; q < len(lt); q++ {
		ok := true
		for i := q; i < len(lt); i++ {
			if lt[i] != lt[i-q] {
				ok = false
				break
			}
		}
		if ok {
			p = q
			break
		}
	}
	out := append([]string(nil), lt...)
	for i := len(lt); i < n; i++ {
		out = append(out, out[i-p])
	}
	return out
}

// Get returns the raw value of a key as decoded from JSON.
func (c *Config) Get(key string) (any, bool) { v, ok := c.raw[key]; return v, ok }

// Set sets a key that has no typed field (typed fields win in Marshal). Values
// must be JSON-encodable.
func (c *Config) Set(key string, v any) {
	if c.raw == nil {
		c.raw = map[string]any{}
	}
	c.raw[key] = v
}

// Delete removes a key that has no typed field.
func (c *Config) Delete(key string) { delete(c.raw, key) }

// String returns a one-line summary such as "llama hidden 64, 5 layers, 8/4 heads".
func (c *Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s hidden %d, %d layers, %d/%d heads of %d, ffn %d, vocab %d", c.ModelType,
		c.Hidden, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.FFN, c.Vocab)
	return b.String()
}

// TorchDType returns the transformers spelling of a float dtype ("float32",
// "float16", "bfloat16", "float64") for config.json, or "" for other dtypes.
func TorchDType(dt DType) string {
	switch dt {
	case F32:
		return "float32"
	case F16:
		return "float16"
	case BF16:
		return "bfloat16"
	case F64:
		return "float64"
	}
	return ""
}

// pyFloat writes a float the way Python's json does, always with a fraction or
// exponent, so that transformers reads a float (10000 → 10000.0).
func pyFloat(v float64) json.Number {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return json.Number(s)
}

// restoreSpelling replaces every top-level value of out that equals the source's
// value with the source's own spelling (numbers as written).
func restoreSpelling(out, orig map[string]any) {
	for k, o := range orig {
		v, ok := out[k]
		if !ok {
			continue
		}
		if sameJSON(v, o) {
			out[k] = cloneValue(o)
		}
	}
}

// sameJSON reports whether two values encode to equal JSON values (numbers
// compared as float64).
func sameJSON(a, b any) bool {
	norm := func(v any) (any, bool) {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, false
		}
		var out any
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, false
		}
		return out, true
	}
	x, ok1 := norm(a)
	y, ok2 := norm(b)
	return ok1 && ok2 && reflect.DeepEqual(x, y)
}
