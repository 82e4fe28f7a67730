package probe

import (
	"fmt"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
)

type ctensor struct{ t *checkpoint.Tensor }

func (c ctensor) Shape() []int                { return c.t.Shape }
func (c ctensor) DType() checkpoint.DType     { return c.t.DType }
func (c ctensor) Float32() ([]float32, error) { return c.t.Float32() }
func (c ctensor) Float64() ([]float64, error) { return c.t.Float64() }

// tmpLlama builds a llama graph by hand until graph.FromCheckpoint lands.
func tmpLlama(t testing.TB, dir string) *graph.Graph {
	c, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	get := func(n string) graph.Tensor {
		x, ok := c.Tensor(n)
		if !ok {
			t.Fatalf("no %s", n)
		}
		return ctensor{x}
	}
	cf := c.Config
	g := &graph.Graph{Family: graph.FamilyLlama, Config: cf, Dims: graph.Dims{Hidden: cf.Hidden, Layers: cf.Layers, Heads: cf.Heads,
		KVHeads: cf.KVHeads, HeadDim: cf.HeadDim, FFN: cf.FFN, Vocab: cf.Vocab, Positions: cf.MaxPositions},
		NormKind: graph.RMSNorm, Eps: cf.NormEps, Act: cf.Act, RopeTheta: cf.RopeTheta, Tied: true}
	g.Embed = get("model.embed_tokens.weight")
	for l := 0; l < cf.Layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		g.Layers = append(g.Layers, graph.Layer{
			AttnNorm: graph.Norm{W: get(p + "input_layernorm.weight")},
			MLPNorm:  graph.Norm{W: get(p + "post_attention_layernorm.weight")},
			Q:        graph.Linear{W: get(p + "self_attn.q_proj.weight")},
			K:        graph.Linear{W: get(p + "self_attn.k_proj.weight")},
			V:        graph.Linear{W: get(p + "self_attn.v_proj.weight")},
			O:        graph.Linear{W: get(p + "self_attn.o_proj.weight")},
			Up:       graph.Linear{W: get(p + "mlp.up_proj.weight")},
			Gate:     graph.Linear{W: get(p + "mlp.gate_proj.weight")},
			Down:     graph.Linear{W: get(p + "mlp.down_proj.weight")},
		})
	}
	g.FinalNorm = graph.Norm{W: get("model.norm.weight")}
	return g
}
