package checkpoint

// TODO(config): placeholders with final signatures.

// Config is a typed view of a config.json for the families grow supports (gpt2,
// llama, mistral, qwen2, bert), reading both transformers v4 and v5 spellings.
// Marshal writes the typed fields back under the family's own key names and keeps
// every other key as it was read.
type Config struct {
	ModelType     string
	Architectures []string

	Hidden       int // hidden_size / n_embd
	Layers       int // num_hidden_layers / n_layer
	Heads        int // num_attention_heads / n_head
	KVHeads      int // num_key_value_heads (= Heads when absent)
	HeadDim      int // head_dim (= Hidden/Heads when absent)
	FFN          int // intermediate_size / n_inner (GPT-2 null means 4·n_embd)
	Vocab        int // vocab_size
	MaxPositions int // max_position_embeddings / n_positions
	TypeVocab    int // BERT type_vocab_size

	NormEps       float64 // rms_norm_eps / layer_norm_epsilon / layer_norm_eps
	Act           string  // hidden_act / activation_function
	Tied          bool    // tie_word_embeddings, with the family's default
	RopeTheta     float64 // rope_theta or rope_parameters.rope_theta
	RopeScaling   map[string]any
	AttentionBias bool   // q/k/v (and o for llama) biases: llama attention_bias; always true for qwen2
	MLPBias       bool   // llama mlp_bias
	DType         string // torch_dtype or dtype, e.g. "float32"

	// Name is the file the config was read from (for error messages).
	Name string
	raw  map[string]any
}

// ParseConfig parses config.json data; name is used in errors.
func ParseConfig(data []byte, name string) (*Config, error) { return nil, errTODO }

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config { return nil }

// Marshal returns the config as JSON with the typed fields written under the family's
// key names (head_dim and GPT-2 n_inner always explicit) and every other key kept.
func (c *Config) Marshal() ([]byte, error) { return nil, errTODO }

// Get returns the raw value of a key as decoded from JSON.
func (c *Config) Get(key string) (any, bool) { v, ok := c.raw[key]; return v, ok }

// Set sets a key that has no typed field (typed fields win in Marshal).
func (c *Config) Set(key string, v any) {}
