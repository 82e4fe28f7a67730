package selection

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Uniform returns the s indices of an axis of t that weight selection keeps
// "uniformly", by the rule of the paper's released code (Xu et al. 2024,
// "Initializing Models with Larger Ones"): an integer stride k·(t/s) when s
// divides t, otherwise round(linspace(0, t−1, s)) with rounding half to even.
// The points are computed as PyTorch's CPU linspace computes them in float32:
// step = (t−1)/(s−1) rounded to float32, and point i is start + step·i for the
// first s/2 points and end − step·(s−1−i) for the others, each rounded once
// (the kernel's multiply-add is fused on the CPUs PyTorch builds for), so the
// index sets equal the reference code's, ties included. 0 < s ≤ t.
func Uniform(t, s int) []int {
	if s <= 0 || s > t {
		panic(fmt.Sprintf("selection: uniform %d of %d", s, t))
	}
	idx := make([]int, s)
	if t%s == 0 {
		for k := range idx {
			idx[k] = k * (t / s)
		}
		return idx
	}
	end := float32(t - 1)
	step := end / float32(s-1) // s ≥ 2: s = 1 divides t
	half := s / 2
	for i := range idx {
		var v float32
		if i < half {
			v = float32(float64(step) * float64(i))
		} else {
			v = float32(float64(end) - float64(step)*float64(s-1-i))
		}
		idx[i] = int(math.RoundToEven(float64(v)))
	}
	return idx
}

// First returns 0, 1, …, s−1 (the paper's "consecutive" selection).
func First(t, s int) []int {
	if s <= 0 || s > t {
		panic(fmt.Sprintf("selection: first %d of %d", s, t))
	}
	idx := make([]int, s)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// Random returns s distinct indices of t drawn from rng, in increasing order.
func Random(rng *rand.Rand, t, s int) []int {
	if s <= 0 || s > t {
		panic(fmt.Sprintf("selection: random %d of %d", s, t))
	}
	idx := rng.Perm(t)[:s]
	slices.Sort(idx)
	return idx
}

// Top returns the s indices of the highest scores, in increasing order (ties:
// the lower index).
func Top(scores []float64, s int) []int {
	if s <= 0 || s > len(scores) {
		panic(fmt.Sprintf("selection: top %d of %d", s, len(scores)))
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	idx := order[:s]
	slices.Sort(idx)
	return idx
}

// Spread returns s layers of t spread evenly with the first and the last
// kept: round(i·(t−1)/(s−1)) with rounding half to even, in exact arithmetic
// (t when s = 1 keeps layer 0).
func Spread(t, s int) []int {
	if s <= 0 || s > t {
		panic(fmt.Sprintf("selection: spread %d of %d", s, t))
	}
	idx := make([]int, s)
	if s == 1 {
		return idx
	}
	for i := range idx {
		num, den := i*(t-1), s-1
		q, r := num/den, num%den
		switch {
		case 2*r > den, 2*r == den && q%2 == 1:
			q++
		}
		idx[i] = q
	}
	return idx
}
