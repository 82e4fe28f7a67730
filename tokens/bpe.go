package tokens

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Token is one token of an encoding: its id and its string in the
// vocabulary (the content of an added token).
type Token struct {
	ID    int
	Piece string
}

// model is the tokenization model of a tokenizer.json.
type model interface {
	// tokenize appends the tokens of one pre-token (word) to out.
	tokenize(word string, out []Token) []Token
	// id and token map between the vocabulary's strings and ids.
	id(tok string) (int, bool)
	token(id int) (string, bool)
	// size is the number of vocabulary entries (Hugging Face's
	// get_vocab_size without added tokens).
	size() int
}

// vocab is a model vocabulary in both directions.
type vocab struct {
	ids  map[string]int
	toks []string // by id; "" for a hole
	has  []bool
}

func newVocab(m map[string]int) (*vocab, error) {
	v := &vocab{ids: m}
	top := -1
	for t, id := range m {
		if id < 0 || id >= maxID {
			return nil, fmt.Errorf("token %q has id %d, want one in [0, 2^31)", t, id)
		}
		top = max(top, id)
	}
	v.toks = make([]string, top+1)
	v.has = make([]bool, top+1)
	for t, id := range m {
		if v.has[id] {
			return nil, fmt.Errorf("tokens %q and %q share id %d", v.toks[id], t, id)
		}
		v.toks[id], v.has[id] = t, true
	}
	return v, nil
}

func (v *vocab) id(t string) (int, bool) {
	id, ok := v.ids[t]
	return id, ok
}

func (v *vocab) token(id int) (string, bool) {
	if id < 0 || id >= len(v.toks) || !v.has[id] {
		return "", false
	}
	return v.toks[id], true
}

func (v *vocab) size() int { return len(v.ids) }

// add records t with id.
func (v *vocab) add(t string, id int) {
	v.ids[t] = id
	for len(v.toks) <= id {
		v.toks = append(v.toks, "")
		v.has = append(v.has, false)
	}
	v.toks[id], v.has[id] = t, true
}

// mergeKey is a pair of ids.
type mergeKey struct{ a, b int32 }

// mergeVal is a merge's rank (its index in model.merges) and the id of the
// merged token.
type mergeVal struct{ rank, id int32 }

// bpe is the BPE model.
type bpe struct {
	*vocab
	merges        map[mergeKey]mergeVal
	nMerges       int
	unk           string
	hasUnk        bool
	prefix        string // continuing_subword_prefix
	suffix        string // end_of_word_suffix
	fuseUnk       bool
	byteFallback  bool
	ignoreMerges  bool
	byteTokens    [256]int32 // ids of <0xNN>, -1 when absent
	mu            sync.Mutex
	cache         map[string][]int32
	mergesAsPairs bool
}

// bpeJSON is model of type BPE.
type bpeJSON struct {
	Dropout      *float64        `json:"dropout"`
	Unk          *string         `json:"unk_token"`
	Prefix       *string         `json:"continuing_subword_prefix"`
	Suffix       *string         `json:"end_of_word_suffix"`
	FuseUnk      bool            `json:"fuse_unk"`
	ByteFallback bool            `json:"byte_fallback"`
	IgnoreMerges bool            `json:"ignore_merges"`
	Vocab        map[string]int  `json:"vocab"`
	Merges       json.RawMessage `json:"merges"`
}

// parseMerges reads model.merges: a list of "a b" strings (the legacy form)
// or of [a, b] pairs; pairs reports which.
func parseMerges(raw json.RawMessage) (merges [][2]string, pairs bool, err error) {
	if len(raw) == 0 || kind(raw) == "null" {
		return nil, false, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, false, fmt.Errorf("merges: want an array")
	}
	merges = make([][2]string, len(list))
	for i, e := range list {
		if len(e) > 0 && e[0] == '"' {
			var s string
			if err := json.Unmarshal(e, &s); err != nil {
				return nil, false, fmt.Errorf("merges[%d]: %v", i, err)
			}
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, false, fmt.Errorf("merges[%d] %q: want two tokens separated by one space", i, s)
			}
			merges[i] = [2]string{a, b}
			continue
		}
		var p []string
		if err := json.Unmarshal(e, &p); err != nil || len(p) != 2 {
			return nil, false, fmt.Errorf("merges[%d]: want a pair of tokens", i)
		}
		merges[i] = [2]string{p[0], p[1]}
		pairs = true
	}
	return merges, pairs, nil
}

func parseBPE(raw json.RawMessage) (*bpe, error) {
	var j bpeJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("model BPE: %v", err)
	}
	if j.Dropout != nil && *j.Dropout != 0 {
		return nil, fmt.Errorf("model BPE: dropout %v is random: grow encodes without it only when it is null or 0", *j.Dropout)
	}
	v, err := newVocab(j.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model BPE: vocab: %v", err)
	}
	m := &bpe{vocab: v, fuseUnk: j.FuseUnk, byteFallback: j.ByteFallback, ignoreMerges: j.IgnoreMerges,
		cache: map[string][]int32{}}
	if j.Unk != nil {
		m.unk, m.hasUnk = *j.Unk, true
		if _, ok := v.ids[m.unk]; !ok {
			return nil, fmt.Errorf("model BPE: unk_token %q is not in the vocabulary", m.unk)
		}
	}
	if j.Prefix != nil {
		m.prefix = *j.Prefix
	}
	if j.Suffix != nil {
		m.suffix = *j.Suffix
	}
	for b := range m.byteTokens {
		m.byteTokens[b] = -1
		if id, ok := v.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteTokens[b] = int32(id)
		}
	}
	merges, pairs, err := parseMerges(j.Merges)
	if err != nil {
		return nil, fmt.Errorf("model BPE: %v", err)
	}
	m.mergesAsPairs = pairs
	m.merges = make(map[mergeKey]mergeVal, len(merges))
	for i, p := range merges {
		if err := m.addMerge(p[0], p[1], i); err != nil {
			return nil, fmt.Errorf("model BPE: merges[%d]: %v", i, err)
		}
	}
	m.nMerges = len(merges)
	return m, nil
}

// addMerge records the merge a b with rank r.
func (m *bpe) addMerge(a, b string, r int) error {
	ia, ok := m.ids[a]
	if !ok {
		return fmt.Errorf("%q is not in the vocabulary", a)
	}
	ib, ok := m.ids[b]
	if !ok {
		return fmt.Errorf("%q is not in the vocabulary", b)
	}
	merged := a + strings.TrimPrefix(b, m.prefix)
	id, ok := m.ids[merged]
	if !ok {
		return fmt.Errorf("the merge %q + %q gives %q, which is not in the vocabulary", a, b, merged)
	}
	m.merges[mergeKey{int32(ia), int32(ib)}] = mergeVal{int32(r), int32(id)}
	return nil
}

// symbol is a symbol of a word being merged.
type symbol struct {
	id         int32
	prev, next int32
	gone       bool
}

// candidate is a possible merge: key is its rank (high 32 bits) and
// position (low 32 bits), so that the smallest key is the best-ranked merge,
// leftmost among equals; id is the merged token.
type candidate struct {
	key uint64
	id  int32
}

func cand(rank, pos, id int32) candidate {
	return candidate{uint64(rank)<<32 | uint64(uint32(pos)), id}
}

// candHeap is a binary min-heap of candidates.
type candHeap []candidate

func (h *candHeap) push(c candidate) {
	*h = append(*h, c)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].key <= a[i].key {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *candHeap) pop() candidate {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	h.down(0)
	*h = a
	return top
}

func (h candHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].key < h[l].key {
			m = r
		}
		if h[i].key <= h[m].key {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// initial returns the symbols of word before any merge: one per character
// (with the continuing-subword prefix after the first and the end-of-word
// suffix on the last), <0xNN> byte tokens for characters outside the
// vocabulary when byte_fallback is set, else the unknown token (fused when
// fuse_unk is set), else nothing.
func (m *bpe) initial(word string, syms []symbol) []symbol {
	unk := int32(-1)
	var unkID int32 = -1
	if m.hasUnk {
		unkID = int32(m.ids[m.unk])
	}
	for i := 0; i < len(word); {
		_, w := decode(word, i)
		s := word[i : i+w]
		if i > 0 && m.prefix != "" {
			s = m.prefix + s
		}
		if i+w == len(word) && m.suffix != "" {
			s += m.suffix
		}
		i += w
		if id, ok := m.ids[s]; ok {
			if unk >= 0 {
				syms = append(syms, symbol{id: unk})
				unk = -1
			}
			syms = append(syms, symbol{id: int32(id)})
			continue
		}
		if m.byteFallback {
			all := true
			for k := 0; k < len(s); k++ {
				if m.byteTokens[s[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				for k := 0; k < len(s); k++ {
					syms = append(syms, symbol{id: m.byteTokens[s[k]]})
				}
				continue
			}
		}
		if m.hasUnk {
			if unk >= 0 && !m.fuseUnk {
				syms = append(syms, symbol{id: unk})
			}
			unk = unkID
		}
	}
	if unk >= 0 {
		syms = append(syms, symbol{id: unk})
	}
	return syms
}

// mergeWord returns the ids word is merged into (ignoring ignore_merges).
func (m *bpe) mergeWord(word string) []int32 {
	syms := m.initial(word, make([]symbol, 0, len(word)))
	n := int32(len(syms))
	for i := range syms {
		syms[i].prev, syms[i].next = int32(i)-1, int32(i)+1
	}
	if n > 0 {
		syms[n-1].next = -1
	}
	h := make(candHeap, 0, n)
	for i := int32(0); i+1 < n; i++ {
		if v, ok := m.merges[mergeKey{syms[i].id, syms[i+1].id}]; ok {
			h = append(h, cand(v.rank, i, v.id))
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for len(h) > 0 {
		c := h.pop()
		pos := int32(uint32(c.key))
		s := &syms[pos]
		if s.gone || s.next < 0 {
			continue
		}
		right := syms[s.next]
		if v, ok := m.merges[mergeKey{s.id, right.id}]; !ok || v.id != c.id {
			continue
		}
		s.id = c.id
		syms[s.next].gone = true
		s.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = pos
		}
		if s.prev >= 0 {
			if v, ok := m.merges[mergeKey{syms[s.prev].id, s.id}]; ok {
				h.push(cand(v.rank, s.prev, v.id))
			}
		}
		if s.next >= 0 {
			if v, ok := m.merges[mergeKey{s.id, syms[s.next].id}]; ok {
				h.push(cand(v.rank, pos, v.id))
			}
		}
	}
	out := make([]int32, 0, n)
	for _, s := range syms {
		if !s.gone {
			out = append(out, s.id)
		}
	}
	return out
}

// cacheWords bounds the word cache.
const cacheWords = 1 << 16

func (m *bpe) tokenize(word string, out []Token) []Token {
	if word == "" {
		return out
	}
	if m.ignoreMerges {
		if id, ok := m.ids[word]; ok {
			return append(out, Token{id, word})
		}
	}
	m.mu.Lock()
	ids, ok := m.cache[word]
	m.mu.Unlock()
	if !ok {
		ids = m.mergeWord(word)
		if len(word) < 256 {
			m.mu.Lock()
			if len(m.cache) >= cacheWords {
				clear(m.cache)
			}
			m.cache[word] = ids
			m.mu.Unlock()
		}
	}
	for _, id := range ids {
		out = append(out, Token{int(id), m.toks[id]})
	}
	return out
}
