package probe

import (
	"fmt"
	"math"
)

// ropeTable holds cos and sin of every (position, frequency) pair, [n, d/2].
type ropeTable[T float] struct {
	n        int
	cos, sin []T
}

// ropeInvFreq returns the d/2 inverse frequencies θ^(-2j/d) of HF's rotate_half
// RoPE over d rotated dims (the head width, or the rotary part of a head with
// partial rotary), with the config's rope_scaling applied (none, "default",
// "linear" or "llama3"), computed in float64.
func ropeInvFreq(theta float64, d int, scaling map[string]any) ([]float64, error) {
	inv := make([]float64, d/2)
	for j := range inv {
		inv[j] = 1 / math.Pow(theta, float64(2*j)/float64(d))
	}
	if scaling == nil {
		return inv, nil
	}
	typ, _ := scaling["rope_type"].(string)
	if typ == "" {
		typ, _ = scaling["type"].(string)
	}
	num := func(key string) (float64, error) {
		v, ok := scaling[key]
		if !ok {
			return 0, fmt.Errorf("rope_scaling %q: missing %q", typ, key)
		}
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		}
		return 0, fmt.Errorf("rope_scaling %q: %q is %v, want a number", typ, key, v)
	}
	switch typ {
	case "", "default":
		return inv, nil
	case "linear":
		f, err := num("factor")
		if err != nil {
			return nil, err
		}
		for j := range inv {
			inv[j] /= f
		}
		return inv, nil
	case "llama3":
		// transformers' _compute_llama3_parameters.
		f, err := num("factor")
		if err != nil {
			return nil, err
		}
		lo, err := num("low_freq_factor")
		if err != nil {
			return nil, err
		}
		hi, err := num("high_freq_factor")
		if err != nil {
			return nil, err
		}
		old, err := num("original_max_position_embeddings")
		if err != nil {
			return nil, err
		}
		loWave, hiWave := old/lo, old/hi
		for j, fr := range inv {
			wave := 2 * math.Pi / fr
			scaled := fr
			if wave > loWave {
				scaled = fr / f
			}
			if !(wave < hiWave) && !(wave > loWave) {
				s := (old/wave - lo) / (hi - lo)
				scaled = (1-s)*scaled/f + s*scaled
			}
			inv[j] = scaled
		}
		return inv, nil
	}
	return nil, fmt.Errorf("rope_scaling type %q is not supported (want default, linear or llama3)", typ)
}

// ropeTables returns cos/sin tables covering at least n positions, extending the
// model's cache when needed.
func ropeTables[T float](m *Model, n int) ([]T, []T) {
	m.ropeMu.Lock()
	defer m.ropeMu.Unlock()
	var zero T
	switch any(zero).(type) {
	case float32:
		extendRope(&m.rope32, m.invFreq, n)
		return any(m.rope32.cos).([]T), any(m.rope32.sin).([]T)
	default:
		extendRope(&m.rope64, m.invFreq, n)
		return any(m.rope64.cos).([]T), any(m.rope64.sin).([]T)
	}
}

func extendRope[T float](t *ropeTable[T], inv []float64, n int) {
	if n <= t.n {
		return
	}
	if n < 2*t.n {
		n = 2 * t.n
	}
	h := len(inv)
	cos := make([]T, n*h)
	sin := make([]T, n*h)
	for p := 0; p < n; p++ {
		for j, f := range inv {
			s, c := math.Sincos(float64(p) * f)
			cos[p*h+j], sin[p*h+j] = T(c), T(s)
		}
	}
	t.n, t.cos, t.sin = n, cos, sin
}

// applyRope rotates x (the rotated part of one head, length 2·len(cos)) in
// place at the table row (rotate_half: pairs (j, j+len(cos))).
func applyRope[T float](x, cos, sin []T) {
	h := len(cos)
	x1, x2 := x[:h], x[h:2*h]
	for j := range h {
		a, b := x1[j], x2[j]
		x1[j] = a*cos[j] - b*sin[j]
		x2[j] = b*cos[j] + a*sin[j]
	}
}
