package tokens

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
)

// Initialization methods for the rows of new tokens. Every method gives a
// row from the old rows of the same matrix (the input embedding, or the
// output head): statistics of the trained old rows (mean, per-dimension
// standard deviation, the covariance through the sampling identity), or a
// convex combination of named old rows (fvt, copy, mean-of, from-text).
const (
	MethodZero     = "zero"      // 0
	MethodRandom   = "random"    // N(μ_j, σ_j²) per dimension, seeded per token
	MethodMean     = "mean"      // μ: Hewitt's bound on old-token probabilities
	MethodMVN      = "mvn"       // N(μ, ε·Σ), ε = 1e-9: transformers' mean_resizing
	MethodFVT      = "fvt"       // the mean of the token's pieces under the old tokenizer
	MethodCopy     = "copy"      // the row of one named old token
	MethodMeanOf   = "mean-of"   // the mean of the rows of named old tokens
	MethodFromText = "from-text" // FVT of a description's pieces
	// Methods with external vectors of strings from a file (Vectors).
	MethodTokenAdapt = "tokenadapt" // TokenAdapt's local + global hybrid
	MethodKNN        = "knn"        // OFA / WECHSEL: softmax over the top-k neighbours
	MethodSparsemax  = "sparsemax"  // FOCUS: sparsemax over the similarities
	// MethodOMP takes a donor model's embedding rows of the same strings
	// (the vectors file) and fits them: tokensurgeon's OMP.
	MethodOMP = "omp"
)

// The defaults of the vector methods, as their reference code has them.
const (
	TokenAdaptTemperature = 0.3 // τ (+1e-5) of both softmaxes
	TokenAdaptTopK        = 3   // neighbours of the global estimate
	TokenAdaptWeight      = 0.3 // λ: (1-λ)·local + λ·global
	TokenAdaptThreshold   = 0.0 // neighbours below this similarity are dropped
	KNNNeighbours         = 10  // OFA's and WECHSEL's top-k
	KNNTemperature        = 0.1 // and their softmax temperature
	OMPAtoms              = 64  // tokensurgeon's --k: the atoms of OMP
)

// Weightings of FVT's pieces.
var fvtWeightings = []string{"mean", "first", "last", "linear-first", "linear-last"}

// MVNScale is ε of MethodMVN: transformers' mean_resizing samples N(μ, 1e-9·Σ).
const MVNScale = 1e-9

// Method is an initialization method with its argument.
type Method struct {
	Name string
	// Weighting of fvt and from-text: mean (default), first, last,
	// linear-first (weights L..1), linear-last (weights 1..L).
	Weighting string
	// Tokens of copy (one) and mean-of (one or more): old tokens by their
	// vocabulary string or added-token content, or a text the old tokenizer
	// encodes as one token.
	Tokens []string
	// Text of from-text.
	Text string
	// File of the vector methods: the external vectors (LoadVectors).
	File string
}

func (m Method) String() string {
	switch m.Name {
	case MethodFVT:
		if m.Weighting != "" && m.Weighting != "mean" {
			return m.Name + ":" + m.Weighting
		}
	case MethodCopy, MethodMeanOf:
		return m.Name + ":" + strings.Join(m.Tokens, ",")
	case MethodFromText:
		s := m.Name + ":" + m.Text
		if m.Weighting != "" && m.Weighting != "mean" {
			s += " (" + m.Weighting + ")"
		}
		return s
	case MethodTokenAdapt, MethodKNN, MethodSparsemax, MethodOMP:
		return m.Name + ":" + m.File
	}
	return m.Name
}

// ParseMethod reads a method as the command line gives it: zero, random,
// mean, mvn, fvt[:weighting], copy:TOKEN, mean-of:TOKEN,TOKEN,...,
// from-text:TEXT.
func ParseMethod(s string) (Method, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	m := Method{Name: name}
	switch name {
	case MethodZero, MethodRandom, MethodMean, MethodMVN:
		if hasArg {
			return m, fmt.Errorf("method %q takes no argument", name)
		}
	case MethodFVT:
		if hasArg {
			m.Weighting = arg
		}
	case MethodCopy:
		if arg == "" {
			return m, errors.New("copy needs a token: copy:TOKEN")
		}
		m.Tokens = []string{arg}
	case MethodMeanOf:
		for _, t := range strings.Split(arg, ",") {
			if t != "" {
				m.Tokens = append(m.Tokens, t)
			}
		}
		if len(m.Tokens) == 0 {
			return m, errors.New("mean-of needs tokens: mean-of:TOKEN,TOKEN")
		}
	case MethodFromText:
		if strings.TrimSpace(arg) == "" {
			return m, errors.New("from-text needs a description: from-text:TEXT")
		}
		m.Text = arg
	case MethodTokenAdapt, MethodKNN, MethodSparsemax, MethodOMP:
		if arg == "" {
			return m, fmt.Errorf("%s needs a vectors file: %s:FILE", name, name)
		}
		m.File = arg
	default:
		return m, fmt.Errorf("unknown method %q: want zero, random, mean, mvn, fvt, copy:TOKEN, mean-of:TOKENS, from-text:TEXT, tokenadapt:FILE, knn:FILE, sparsemax:FILE or omp:FILE", name)
	}
	return m, m.check()
}

func (m Method) check() error {
	if m.Weighting != "" && !contains(fvtWeightings, m.Weighting) {
		return fmt.Errorf("%s weighting %q: want one of %s", m.Name, m.Weighting, strings.Join(fvtWeightings, ", "))
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// RowInit is how one new row is made, resolved against the old tokenizer.
type RowInit struct {
	// Method names the method; Kind is what computes the row: "combo" (a
	// convex combination of Anchors with Weights), "mean", "zero",
	// "random" or "mvn".
	Method string `json:"method"`
	Kind   string `json:"-"`
	// Anchors are old token ids, Tokens their strings, Weights their
	// weights (summing to 1).
	Anchors []int     `json:"-"`
	Tokens  []string  `json:"-"`
	Weights []float64 `json:"-"`
	// Seed keys the random stream of random and mvn.
	Seed uint64 `json:"-"`
	// Fallback says what was done instead of Method, and why.
	Fallback string `json:"fallback,omitempty"`
}

// resolveOld resolves a named old token: a vocabulary string or added
// token, else a text the old tokenizer encodes as exactly one token.
func resolveOld(old *Encoder, tok string) (int, error) {
	if id, ok := old.TokenID(tok); ok {
		return id, nil
	}
	if ids := old.IDs(tok, false); len(ids) == 1 {
		return ids[0], nil
	}
	return 0, fmt.Errorf("%q is not a token of the source tokenizer (it encodes as %v)", tok, old.IDs(tok, false))
}

// weights returns the weights of L pieces under a weighting.
func weights(l int, w string) []float64 {
	out := make([]float64, l)
	switch w {
	case "first":
		out[0] = 1
	case "last":
		out[l-1] = 1
	case "linear-first", "linear-last":
		s := float64(l*(l+1)) / 2
		for i := range out {
			k := i + 1
			if w == "linear-first" {
				k = l - i
			}
			out[i] = float64(k) / s
		}
	default:
		for i := range out {
			out[i] = 1 / float64(l)
		}
	}
	return out
}

// resolver resolves methods against the old tokenizer.
type resolver struct {
	old  *Encoder
	unk  int // the old unknown token's id, -1 when none
	seed int64
	use  []bool // the trained old rows
	vecs map[string]*Vectors
	// decoded are the old tokens' decoded strings (the vector methods'
	// keys), by id; "" for an id with none.
	decoded []string
}

// vectors loads (once) the vectors of a method's file.
func (rs *resolver) vectors(path string) (*Vectors, error) {
	if v, ok := rs.vecs[path]; ok {
		return v, nil
	}
	v, err := LoadVectors(path)
	if err != nil {
		return nil, err
	}
	if rs.vecs == nil {
		rs.vecs = map[string]*Vectors{}
	}
	rs.vecs[path] = v
	return v, nil
}

// oldDecoded returns the decoded string of every old token id.
func (rs *resolver) oldDecoded() []string {
	if rs.decoded == nil {
		rs.decoded = make([]string, len(rs.use))
		for id := range rs.decoded {
			if _, ok := rs.old.TokenString(id); ok {
				rs.decoded[id] = rs.old.Decode([]int{id}, false)
			}
		}
	}
	return rs.decoded
}

// resolve turns a method into a RowInit for a new token: pieces are the
// token's pieces under the old tokenizer (for fvt), surface its text (the
// vector methods' key), key the token's key for its random stream.
func (rs *resolver) resolve(m Method, pieces []int, surface, key string) (RowInit, error) {
	old := rs.old
	r := RowInit{Method: m.String()}
	combo := func(ids []int, w []float64) {
		r.Kind, r.Anchors, r.Weights = "combo", ids, w
		r.Tokens = make([]string, len(ids))
		for i, id := range ids {
			r.Tokens[i], _ = old.TokenString(id)
		}
	}
	seedOf := func() uint64 {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", rs.seed, key)
		return h.Sum64()
	}
	switch m.Name {
	case MethodZero, MethodMean:
		r.Kind = m.Name
	case MethodRandom, MethodMVN:
		r.Kind = m.Name
		r.Seed = seedOf()
	case MethodFVT, MethodFromText:
		ids := pieces
		if m.Name == MethodFromText {
			ids = old.IDs(m.Text, false)
		}
		if len(ids) == 0 {
			r.Kind, r.Fallback = "mean", "no pieces: the mean"
			return r, nil
		}
		for _, id := range ids {
			if id == rs.unk {
				r.Kind, r.Fallback = "mean", "a piece is the unknown token: the mean"
				return r, nil
			}
		}
		combo(ids, weights(len(ids), m.Weighting))
	case MethodCopy, MethodMeanOf:
		ids := make([]int, len(m.Tokens))
		for i, t := range m.Tokens {
			id, err := resolveOld(old, t)
			if err != nil {
				return r, fmt.Errorf("%s: %w", m.Name, err)
			}
			ids[i] = id
		}
		combo(ids, weights(len(ids), "mean"))
	case MethodTokenAdapt, MethodKNN, MethodSparsemax, MethodOMP:
		v, err := rs.vectors(m.File)
		if err != nil {
			return r, err
		}
		ids, w, why := rs.vectorCombo(m.Name, v, surface)
		if ids == nil {
			fb := "mean"
			if m.Name == MethodTokenAdapt {
				fb = "scalar-random" // TokenAdapt's initial fill
				r.Seed = seedOf()
			}
			r.Kind, r.Fallback = fb, why+": "+fb
			return r, nil
		}
		combo(ids, w)
	default:
		return r, fmt.Errorf("unknown method %q", m.Name)
	}
	return r, nil
}

// Rows is read access to the rows of a source matrix in float64 (a vector
// is Rows entries of one column): transform.RowSource.
type Rows interface {
	Rows() int
	Cols() int
	Row(i int, dst []float64)
}

// reserved matches the names of reserved or unused tokens, whose rows are
// untrained and left out of the statistics.
var reserved = regexp.MustCompile(`(?i)reserved|unused`)

// stats are the statistics of a matrix's trained old rows, in float64.
type stats struct {
	n         int
	mean, std []float64
	// smean and sstd are the mean and standard deviation of all entries.
	smean, sstd float64
}

// statRows returns the rows that count in the statistics: the old
// tokenizer's ids (not padding rows beyond them), not reserved or unused.
func statRows(old *Encoder, rows int) []bool {
	use := make([]bool, rows)
	for id := range use {
		t, ok := old.TokenString(id)
		use[id] = ok && !reserved.MatchString(t)
	}
	return use
}

// computeStats streams over the used rows twice (mean, then variance).
func computeStats(src Rows, use []bool) (*stats, error) {
	d := src.Cols()
	st := &stats{mean: make([]float64, d), std: make([]float64, d)}
	row := make([]float64, d)
	for i := 0; i < src.Rows(); i++ {
		if i < len(use) && use[i] {
			src.Row(i, row)
			for j, v := range row {
				st.mean[j] += v
			}
			st.n++
		}
	}
	if st.n == 0 {
		return nil, errors.New("no trained rows to take statistics of")
	}
	for j := range st.mean {
		st.mean[j] /= float64(st.n)
	}
	for i := 0; i < src.Rows(); i++ {
		if i < len(use) && use[i] {
			src.Row(i, row)
			for j, v := range row {
				x := v - st.mean[j]
				st.std[j] += x * x
			}
		}
	}
	for j := range st.mean {
		st.smean += st.mean[j] / float64(d)
	}
	sq := 0.0
	for j := range st.std {
		// Σ_i (x_ij − smean)² = Σ_i (x_ij − μ_j)² + n (μ_j − smean)²
		sq += st.std[j] + float64(st.n)*(st.mean[j]-st.smean)*(st.mean[j]-st.smean)
		st.std[j] = math.Sqrt(st.std[j] / float64(st.n))
	}
	st.sstd = math.Sqrt(sq / float64(st.n*d))
	return st, nil
}

// tokenRand is a new token's random stream.
func tokenRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// computeRows computes the rows of inits from src: combos and the
// statistics' methods; mvn by the sampling identity μ + sqrt(ε/n)·Σ_i
// z_i (x_i − μ), z ~ N(0, 1) per used row, one streaming pass for all mvn
// rows, no d×d covariance.
func computeRows(src Rows, inits []RowInit, use []bool) ([][]float64, error) {
	d := src.Cols()
	out := make([][]float64, len(inits))
	var st *stats
	needStats := false
	for _, r := range inits {
		needStats = needStats || r.Kind == "mean" || r.Kind == "random" || r.Kind == "mvn" || r.Kind == "scalar-random"
	}
	if needStats {
		var err error
		if st, err = computeStats(src, use); err != nil {
			return nil, err
		}
	}
	row := make([]float64, d)
	var mvn []int
	for k, r := range inits {
		v := make([]float64, d)
		switch r.Kind {
		case "zero":
		case "mean":
			copy(v, st.mean)
		case "random":
			rnd := tokenRand(r.Seed)
			for j := range v {
				v[j] = st.mean[j] + st.std[j]*rnd.NormFloat64()
			}
		case "mvn":
			copy(v, st.mean)
			mvn = append(mvn, k)
		case "scalar-random":
			rnd := tokenRand(r.Seed)
			for j := range v {
				v[j] = st.smean + st.sstd*rnd.NormFloat64()
			}
		case "combo":
			for a, id := range r.Anchors {
				if id < 0 || id >= src.Rows() {
					return nil, fmt.Errorf("anchor id %d outside the %d rows", id, src.Rows())
				}
				src.Row(id, row)
				for j, x := range row {
					v[j] += r.Weights[a] * x
				}
			}
		default:
			return nil, fmt.Errorf("internal error: row kind %q", r.Kind)
		}
		out[k] = v
	}
	if len(mvn) > 0 {
		rnds := make([]*rand.Rand, len(mvn))
		for i, k := range mvn {
			rnds[i] = tokenRand(inits[k].Seed)
		}
		scale := math.Sqrt(MVNScale / float64(st.n))
		for i := 0; i < src.Rows(); i++ {
			if i >= len(use) || !use[i] {
				continue
			}
			src.Row(i, row)
			for j := range row {
				row[j] -= st.mean[j]
			}
			for a, k := range mvn {
				z := rnds[a].NormFloat64() * scale
				v := out[k]
				for j, x := range row {
					v[j] += z * x
				}
			}
		}
	}
	return out, nil
}
