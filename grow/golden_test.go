package grow_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/grow"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/transform"
)

// goldenCase is one operator run whose output tensors must not change by a
// single byte.
type goldenCase struct {
	name   string
	model  string         // a testdata folder, or "" for spec
	spec   reference.Spec // a synthetic float32 model when model is ""
	config string         // the synthetic model's config.json, or ""
	opts   grow.Options
	dtype  checkpoint.DType // output dtype ("": the source's)
	digest string           // SHA-256 of the tensors, see tensorsDigest
}

// goldenCases pins the outputs of HyperCloning, LEMON and zero-padding on the
// test models. The digests were recorded from the code before the family
// descriptors and the transform engine; a refactoring that changes any byte of
// any tensor, its name, dtype or shape fails here. (A deliberate change of an
// operator's arithmetic updates the table, saying why in its commit.)
var goldenCases = []goldenCase{
	// stories260k: LLaMA, GQA 8/4 heads, tied, F32.
	{name: "stories hypercloning x2", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2},
		digest: "d530c0726d64593f20fc639599929b2e5152c3bf8753a62fd94a37c94ad08226"},
	{name: "stories hypercloning x2 keep-tied", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, KeepTied: true},
		digest: "b7d72ae612acfb96827d450b67681acc5377820e6111a22734b68b70d466885b"},
	{name: "stories hypercloning x2 ffn x3 noise 10dB seed 7", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, FFNFactor: 3, Noise: true, NoiseSNRDB: 10, Seed: 7},
		digest: "5582d795c79dca973f6f9d4d3d169d36e4bcbe06df2b812ed63b7d12b0932ce5"},
	{name: "stories hypercloning x2 keep-tied f64", model: "stories260k", dtype: checkpoint.F64,
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, KeepTied: true},
		digest: "5bac2c07cb9f8cb49d8c68881cd86e2b70ac398259a9a2d3dffe1473762858e8"},
	{name: "stories hypercloning x3 bf16", model: "stories260k", dtype: checkpoint.BF16,
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 3},
		digest: "9d2fa0b803fea78a13b2d0c155036333612f5e15b1e5273361b47164edd78332"},
	{name: "stories lemon 64->100 h10 kv5 ffn268 seed 3", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodLEMON, Hidden: 100, Heads: 10, KVHeads: 5, FFN: 268, Seed: 3},
		digest: "a1640ea9febbabf5bd785ba00ea54e42908a444a8d2dd969b27e7afbf0a281f5"},
	{name: "stories lemon 64->100 h20 kv10 keep-tied", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodLEMON, Hidden: 100, Heads: 20, KVHeads: 10, FFN: 200, KeepTied: true},
		digest: "8873a6f123781fd5b89e009446412bf93c68a0498ea138d14f26033007e72065"},
	{name: "stories lemon 64->96 defaults uniform split", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodLEMON, Hidden: 96, SplitScale: -1},
		digest: "6e848ec8179a4a01db82b06383adb8fc05dc00ea95ce535848bdc8a6f6bd34cc"},
	{name: "stories zeropad 64->100", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodZeroPad, Hidden: 100, Heads: 10, KVHeads: 5, FFN: 268},
		digest: "83f33e7bddab9621fcf1c46ef70396934c817832291153a794b840fcea82b874"},
	{name: "stories zeropad 64->100 pad-std 0.02 seed 5", model: "stories260k",
		opts:   grow.Options{Method: grow.MethodZeroPad, Hidden: 100, Heads: 10, KVHeads: 5, FFN: 268, PadStd: 0.02, Seed: 5},
		digest: "4032c2a9e6240b706acfed29ee5be40a93908ece671965e5627943ed6f9b9733"},

	// gpt2-random-realtok: GPT-2, n_embd 2, one head, tied, Conv1D and fused c_attn.
	{name: "gpt2 hypercloning x2", model: "gpt2-random-realtok",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2},
		digest: "970a55c7b81468a5b9765bda4417704b4b9bd6294b2d7e089ebe558b980a2776"},
	{name: "gpt2 hypercloning x2 keep-tied", model: "gpt2-random-realtok",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, KeepTied: true},
		digest: "fd9bc34a13fa9d626b1316b504cd6bbfb5987781b355de46b6ef65cfc6210360"},
	{name: "gpt2 hypercloning x2 noise 20dB seed 11", model: "gpt2-random-realtok",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 20, Seed: 11},
		digest: "c29f55b09381fc11edd05fd398f52237efefce4cdc1a56760693c1b3b69b5f06"},
	{name: "gpt2 lemon 2->6 ffn 20 seed 3", model: "gpt2-random-realtok",
		opts:   grow.Options{Method: grow.MethodLEMON, Hidden: 6, FFN: 20, Seed: 3},
		digest: "e02cb0c169c75e63ea12f5720dbef2a7c975694f306ef7dc6aaf7b6ac088f879"},
	{name: "gpt2 zeropad 2->6", model: "gpt2-random-realtok",
		opts:   grow.Options{Method: grow.MethodZeroPad, Hidden: 6, FFN: 20},
		digest: "76dacbb30e5fc9dacec22ace8a8e410e75d41b9a77f2460d4fb5d5d771907b49"},

	// bert-random-realtok: post-LN BERT, hidden 4, MLM head, tied.
	{name: "bert hypercloning x2", model: "bert-random-realtok",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2},
		digest: "0cae4af01eb7c9fed7a695fbd4fc56eabc08dec1a8664ddb48625cac0c412df8"},
	{name: "bert hypercloning x2 keep-tied", model: "bert-random-realtok",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, KeepTied: true},
		digest: "8ad305837aa3b6cc8ccb835c344195b474b8172daa0bd9257027b561777c9b8b"},
	{name: "bert hypercloning x2 noise 10dB seed 7", model: "bert-random-realtok",
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10, Seed: 7},
		digest: "1a03a03b80b10101cbc4f5af2e6dfb4e45a99303640ea2b84843d7ec9f96aa6c"},
	{name: "bert lemon 4->8 ffn 12 seed 3", model: "bert-random-realtok",
		opts:   grow.Options{Method: grow.MethodLEMON, Hidden: 8, FFN: 12, Seed: 3},
		digest: "8e3caf5d4672e81643fed2689becfc3ed4998e74c513c0b04875318c353bf833"},
	{name: "bert zeropad 4->12", model: "bert-random-realtok",
		opts:   grow.Options{Method: grow.MethodZeroPad, Hidden: 12, FFN: 20},
		digest: "45bd9ebcb05a7be098f85d27f37847cfd36d4e97ef48a787f5e601b0100d3fd5"},

	// Synthetic float32 models for layouts the test models lack.
	{name: "synthetic untied qwen2 hypercloning x2 noise 15dB seed 2",
		spec:   reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 50, Bias: true, F32: true, Seed: 1},
		config: qwen2Config,
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 15, Seed: 2},
		digest: "cc09d94b8d5942a96d993f973ef9e6cf4e0224031302bdbb898c1003a97583d2"},
	{name: "synthetic untied qwen2 lemon 16->24 seed 4",
		spec:   reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 2, I: 24, V: 50, Bias: true, F32: true, Seed: 1},
		config: qwen2Config,
		opts:   grow.Options{Method: grow.MethodLEMON, Hidden: 24, Seed: 4},
		digest: "1411d8ebddb9242a3ebf59b94ba9274b3b91871fdfc71bf27f15618abede8966"},
	{name: "synthetic untied mistral zeropad 16->20 h5 kv5",
		spec:   reference.Spec{Family: graph.FamilyLlama, D: 16, L: 2, H: 4, K: 4, I: 24, V: 50, F32: true, Seed: 5},
		config: mistralConfig,
		opts:   grow.Options{Method: grow.MethodZeroPad, Hidden: 20, Heads: 5, KVHeads: 5},
		digest: "d27585208716941d3a805f1c2f73c74fdb9dc7ce9f084104b8bc34582542985a"},
	{name: "synthetic untied gpt2 hypercloning x2",
		spec:   reference.Spec{Family: graph.FamilyGPT2, D: 8, L: 2, H: 2, I: 16, V: 30, P: 12, F32: true, Seed: 3},
		opts:   grow.Options{Method: grow.MethodHyperCloning, WidthFactor: 2},
		digest: "6b8042ef726bbc96048bc63913138c9adb7ee6f0e225e84cd7cf51a2a3e230d3"},
}

// Configs of the synthetic LLaMA-family models (they decide which biases are
// written).
const (
	qwen2Config = `{"model_type":"qwen2","architectures":["Qwen2ForCausalLM"],"hidden_size":16,"num_hidden_layers":2,
"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":24,"vocab_size":50,"tie_word_embeddings":false}`
	mistralConfig = `{"model_type":"mistral","architectures":["MistralForCausalLM"],"hidden_size":16,"num_hidden_layers":2,
"num_attention_heads":4,"num_key_value_heads":4,"intermediate_size":24,"vocab_size":50,"tie_word_embeddings":false}`
)

// TestGoldenOutputs grows the test models and compares a SHA-256 of every
// output tensor with the recorded table. The tensors are encoded by the same
// path grow expand writes them with: Expand, Graph.Entries, Pipeline.
func TestGoldenOutputs(t *testing.T) {
	// The outputs must not depend on how many cores compute them (large
	// tensors are split among goroutines): the table holds for 1 and 8.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 8} {
		runtime.GOMAXPROCS(procs)
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), goldenRun)
	}
}

func goldenRun(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			var src *graph.Graph
			if c.model != "" {
				src = reference.OpenGraph(t, "../testdata/"+c.model)
			} else {
				src = reference.Synth(c.spec)
				if c.config != "" {
					cfg, err := checkpoint.ParseConfig([]byte(c.config), "config.json")
					if err != nil {
						t.Fatal(err)
					}
					src.Config = cfg
				}
			}
			r, err := grow.Expand(src, c.opts.Operator())
			if err != nil {
				t.Fatal(err)
			}
			entries, err := r.Graph.Entries(c.dtype)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tensorsDigest(transform.Pipeline(r.Graph, entries))
			if err != nil {
				t.Fatal(err)
			}
			if got != c.digest {
				t.Errorf("tensors digest %s, want %s", got, c.digest)
			}
			// Pipeline only changes how fast the same bytes are written.
			plain, err := r.Graph.Entries(c.dtype)
			if err != nil {
				t.Fatal(err)
			}
			if slow, err := tensorsDigest(plain); err != nil {
				t.Fatal(err)
			} else if slow != got {
				t.Errorf("tensors digest %s without Pipeline, %s with it", slow, got)
			}
		})
	}
}

// tensorsDigest returns the hex SHA-256 over the per-tensor digests sorted by
// tensor name, each the SHA-256 of the tensor's name, dtype, shape and the
// bytes its Entry writes (safetensors' little-endian encoding). The entries
// are written in their order, as a checkpoint writer does.
func tensorsDigest(entries []checkpoint.Entry) (string, error) {
	type named struct{ name, sum string }
	sums := make([]named, 0, len(entries))
	for _, e := range entries {
		h := sha256.New()
		shape := make([]string, len(e.Shape))
		for i, n := range e.Shape {
			shape[i] = fmt.Sprint(n)
		}
		fmt.Fprintf(h, "%s\x00%s\x00[%s]\x00", e.Name, e.DType, strings.Join(shape, ","))
		w := &countingHash{h: h}
		if err := e.Write(w); err != nil {
			return "", fmt.Errorf("tensor %q: %w", e.Name, err)
		}
		size, err := e.ByteSize()
		if err != nil {
			return "", err
		}
		if w.n != size {
			return "", fmt.Errorf("tensor %q: wrote %d bytes, its dtype and shape say %d", e.Name, w.n, size)
		}
		sums = append(sums, named{e.Name, hex.EncodeToString(h.Sum(nil))})
	}
	slices.SortFunc(sums, func(a, b named) int { return strings.Compare(a.name, b.name) })
	all := sha256.New()
	for _, s := range sums {
		fmt.Fprintf(all, "%s %s\n", s.sum, s.name)
	}
	return hex.EncodeToString(all.Sum(nil)), nil
}

// countingHash feeds a hash and counts the bytes.
type countingHash struct {
	h hash.Hash
	n int64
}

var _ io.Writer = (*countingHash)(nil)

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// TestDeterministicAcrossCores grows a model whose matrices are large enough
// for the kernels to split them among goroutines, with 1 and with 8, and
// requires the same bytes.
func TestDeterministicAcrossCores(t *testing.T) {
	if testing.Short() {
		t.Skip("large synthetic model")
	}
	src := reference.Synth(reference.Spec{Family: graph.FamilyLlama, D: 256, H: 4, K: 2, I: 2048, V: 64, L: 1, F32: true, Seed: 3})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, op := range []grow.Operator{&grow.HyperCloning{WidthFactor: 2, FFNFactor: 3}, &grow.LEMON{Width: grow.Width{Hidden: 384}, Common: grow.Common{Seed: 2}}} {
		var digests []string
		for _, procs := range []int{1, 8} {
			runtime.GOMAXPROCS(procs)
			r, err := grow.Expand(src, op)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := r.Graph.Entries("")
			if err != nil {
				t.Fatal(err)
			}
			d, err := tensorsDigest(transform.Pipeline(r.Graph, entries))
			if err != nil {
				t.Fatal(err)
			}
			digests = append(digests, d)
		}
		if digests[0] != digests[1] {
			t.Errorf("%s: digest %s with 1 core, %s with 8", op.Name(), digests[0], digests[1])
		}
	}
}
