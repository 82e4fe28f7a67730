package tokens

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Modes of adding a token.
const (
	// ModeAuto puts a token into the model vocabulary (ModeVocab) when it is
	// one pre-token and the tokenizer allows it, as an added token otherwise.
	ModeAuto = "auto"
	// ModeVocab puts a token into the model vocabulary: for BPE with merges
	// synthesized so that the model produces it, for WordPiece as an entry.
	ModeVocab = "vocab"
	// ModeAdded makes a token an added token, matched in the text before
	// the model runs.
	ModeAdded = "added"
)

// NewToken is a token an extension added to a tokenizer.
type NewToken struct {
	// ID is its id: after the largest id the tokenizer had.
	ID int
	// Text is the surface text it was asked for; "" for an intermediate.
	Text string
	// Form is its string in the model vocabulary (ModeVocab: "Ġhello",
	// "▁hello") or its content (ModeAdded).
	Form string
	// Mode is ModeVocab or ModeAdded.
	Mode    string
	Special bool
	// Intermediate marks a vocabulary entry that the merges of another new
	// token (Of, its surface text) need: BPE merges two tokens into one
	// that must itself be in the vocabulary.
	Intermediate bool
	Of           string
	// Merges are the merges added to make it.
	Merges [][2]string
	// Note says why ModeAuto chose added mode, when it did.
	Note string
}

// edits are what was added to a tokenizer.json since it was read.
type edits struct {
	vocab  []NewToken
	merges [][2]string
	added  []AddedToken
}

// ErrExists is the error of adding a token the tokenizer already has.
var ErrExists = errors.New("already in the tokenizer")

// NextID is the id the next new token gets: one after the largest id.
func (e *Encoder) NextID() int { return e.MaxID() + 1 }

// words returns what the model would see of text: the pre-tokens of its
// normalized text, and whether an added token matches in it.
func (e *Encoder) words(text string) (words []string, added bool) {
	for _, seg := range e.rawTrie.split(nil, piece{text, true}) {
		if seg.tok != nil {
			added = true
			continue
		}
		s := seg.s
		if e.norm != nil {
			s = e.norm.normalize(s)
		}
		for _, sub := range e.normTrie.split(nil, piece{s, seg.first}) {
			if sub.tok != nil {
				added = true
				continue
			}
			if sub.s == "" {
				continue
			}
			if e.pre == nil {
				words = append(words, sub.s)
				continue
			}
			for _, w := range e.pre.split([]piece{sub.piece}) {
				words = append(words, w.s)
			}
		}
	}
	return words, added
}

// VocabForm returns the string the model vocabulary would hold for text as
// one token: its one pre-token after normalization (" hello" is "Ġhello"
// for GPT-2, "▁hello" for Llama-2). ok is false, with the reason, when
// text is several pre-tokens (the model can never produce it as one token)
// or holds an added token.
func (e *Encoder) VocabForm(text string) (form string, ok bool, why string) {
	ws, added := e.words(text)
	switch {
	case added:
		return "", false, "it contains an added token"
	case len(ws) == 0:
		return "", false, "it normalizes to nothing"
	case len(ws) > 1:
		q := make([]string, len(ws))
		for i, w := range ws {
			q[i] = strconv.Quote(w)
		}
		return "", false, fmt.Sprintf("the pre-tokenizer splits it into %d pieces (%s), and the model never merges across them", len(ws), strings.Join(q, " "))
	}
	return ws[0], true, ""
}

// vocabModeWhy says why the tokenizer takes no model-vocabulary tokens, or
// "".
func (e *Encoder) vocabModeWhy() string {
	switch e.model.(type) {
	case *bpe, *wordPiece:
	default:
		return fmt.Sprintf("the %s model takes no new vocabulary entries here", e.modelType)
	}
	if n := e.model.size(); e.MaxID()+1 != n {
		return fmt.Sprintf("ids %d..%d belong to added tokens, and a model-vocabulary id after them would leave a hole that Hugging Face's tokenizers fill by renumbering the added tokens on load", n, e.MaxID())
	}
	return ""
}

// Add adds a token by its surface text: in the model vocabulary (mode
// ModeVocab, or ModeAuto when the text is one pre-token), with the BPE
// merges that make it and the intermediate tokens they need, or as an added
// token (ModeAdded, special tokens always). It returns the new tokens, the
// one asked for last; ids follow the largest existing id. A token the
// tokenizer already has is ErrExists. A vocabulary token is proven
// reachable: encoding its text gives exactly its id.
func (e *Encoder) Add(text, mode string, special bool) ([]NewToken, error) {
	if text == "" {
		return nil, errors.New("an empty token")
	}
	if !utf8Valid(text) {
		return nil, fmt.Errorf("%q is not valid UTF-8", text)
	}
	if id, ok := e.addedID[text]; ok {
		return nil, fmt.Errorf("%q: %w as added token %d", text, ErrExists, id)
	}
	switch mode {
	case ModeAuto, ModeVocab, ModeAdded:
	default:
		return nil, fmt.Errorf("mode %q: want auto, vocab or added", mode)
	}
	if special && mode == ModeVocab {
		return nil, fmt.Errorf("%q: a special token is an added token, never a vocabulary entry", text)
	}
	note := ""
	if !special && mode != ModeAdded {
		form, ok, why := e.VocabForm(text)
		if ok {
			if id, in := e.model.id(form); in {
				return nil, fmt.Errorf("%q: %w: the vocabulary has %q (id %d)", text, ErrExists, form, id)
			}
		}
		if ok {
			why = e.vocabModeWhy()
			ok = why == ""
		}
		if ok {
			return e.addVocab(text, form)
		}
		if mode == ModeVocab {
			return nil, fmt.Errorf("%q cannot be a vocabulary token: %s", text, why)
		}
		note = "added token: " + why
	}
	if id, ok := e.model.id(text); ok {
		return nil, fmt.Errorf("%q: %w: the vocabulary has it (id %d)", text, ErrExists, id)
	}
	a := AddedToken{ID: e.NextID(), Content: text, Special: special}
	// As transformers' add_tokens: a non-special token is normalized,
	// matched in the normalized text (a lowercasing BERT finds "Hello" as
	// "hello"; a SentencePiece normalizer makes "went" "▁went", matched
	// where a word starts and decoded with its space).
	a.Normalized = !special
	e.added = append(e.added, a)
	e.edits.added = append(e.edits.added, a)
	e.refreshAdded()
	nt := NewToken{ID: a.ID, Text: text, Form: text, Mode: ModeAdded, Special: special, Note: note}
	if got := e.IDs(text, false); !slices.Equal(got, []int{a.ID}) {
		return nil, fmt.Errorf("%q: added as id %d, but encoding it gives %v", text, a.ID, got)
	}
	return []NewToken{nt}, nil
}

func utf8Valid(s string) bool { return validUTF8(s) == s }

// addVocab adds form (the vocabulary form of text) to the model vocabulary.
func (e *Encoder) addVocab(text, form string) ([]NewToken, error) {
	var out []NewToken
	switch m := e.model.(type) {
	case *wordPiece:
		id := e.NextID()
		m.add(form, id)
		nt := NewToken{ID: id, Text: text, Form: form, Mode: ModeVocab}
		e.edits.vocab = append(e.edits.vocab, nt)
		out = append(out, nt)
	case *bpe:
		var err error
		if out, err = e.addBPE(m, text, form); err != nil {
			return nil, err
		}
	}
	id := out[len(out)-1].ID
	if got := e.IDs(text, false); !slices.Equal(got, []int{id}) {
		return nil, fmt.Errorf("%q: added as %q (id %d), but encoding it gives %v: it is not reachable", text, form, id, got)
	}
	return out, nil
}

// addBPE adds form to a BPE model: first the characters the vocabulary
// lacks, then a left fold over its current tokenization p1 … pn, merging
// p1+p2, then that with p3, …, each merge appended (the lowest priority, so
// that text whose tokenization does not hold the pair keeps it) and each
// result a vocabulary entry (the intermediates are new tokens too).
func (e *Encoder) addBPE(m *bpe, text, form string) ([]NewToken, error) {
	var out []NewToken
	newEntry := func(tok string, merge *[2]string) {
		id := e.NextID()
		m.add(tok, id)
		nt := NewToken{ID: id, Form: tok, Mode: ModeVocab}
		if tok == form {
			nt.Text = text
		} else {
			nt.Intermediate, nt.Of = true, text
		}
		if merge != nil {
			nt.Merges = [][2]string{*merge}
		}
		e.edits.vocab = append(e.edits.vocab, nt)
		out = append(out, nt)
	}
	if !m.mergesAsPairs && strings.Contains(form, " ") {
		return nil, fmt.Errorf("%q: its vocabulary form %q has a space, which the file's \"a b\" merges cannot hold", text, form)
	}
	for i := 0; i < len(form); {
		_, w := decode(form, i)
		s := form[i : i+w]
		if i > 0 {
			s = m.prefix + s
		}
		if i+w == len(form) {
			s += m.suffix
		}
		i += w
		if _, ok := m.ids[s]; !ok {
			newEntry(s, nil) // a character the vocabulary lacks (byte fallback or unknown before)
		}
	}
	if _, ok := m.ids[form]; !ok {
		parts := m.mergeWord(form)
		if len(parts) < 2 {
			return nil, fmt.Errorf("%q: %q is one symbol %v that is not itself", text, form, parts)
		}
		acc := m.toks[parts[0]]
		for _, p := range parts[1:] {
			pt := m.toks[p]
			merged := acc + strings.TrimPrefix(pt, m.prefix)
			pair := [2]string{acc, pt}
			if _, ok := m.ids[merged]; !ok {
				newEntry(merged, &pair)
			}
			if _, ok := m.merges[mergeKey{int32(m.ids[acc]), int32(m.ids[pt])}]; !ok {
				if err := m.addMerge(acc, pt, m.nMerges); err != nil {
					return nil, err
				}
				m.nMerges++
				e.edits.merges = append(e.edits.merges, pair)
			}
			acc = merged
		}
	}
	clear(m.cache)
	id, ok := m.ids[form]
	if !ok || out == nil || out[len(out)-1].Form != form {
		return nil, fmt.Errorf("%q: internal error: %q was not added last", text, form)
	}
	if got := m.mergeWord(form); len(got) != 1 || int(got[0]) != id {
		return nil, fmt.Errorf("%q: the merges synthesized for %q give %v, not its id %d", text, form, got, id)
	}
	return out, nil
}

// Decompose returns the ids the model splits a vocabulary form into (BPE
// merges on it as one word, without ignore_merges' shortcut; WordPiece's
// greedy longest match, continuing pieces when form starts with the
// continuing prefix): a new token's pieces under this tokenizer.
func (e *Encoder) Decompose(form string) []int {
	var ids []int
	switch m := e.model.(type) {
	case *bpe:
		for _, id := range m.mergeWord(form) {
			ids = append(ids, int(id))
		}
	case *wordPiece:
		w := form
		cont := m.prefix != "" && strings.HasPrefix(form, m.prefix)
		if cont {
			w = strings.TrimPrefix(form, m.prefix)
			w = "x" + w // a dummy first character makes every real piece continuing
		}
		ts := m.tokenize(w, nil)
		if cont {
			if len(ts) > 0 && ts[0].Piece == "x" {
				ts = ts[1:]
			} else {
				ts = []Token{{m.unkID, m.unk}}
			}
		}
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
	default:
		for _, t := range e.model.tokenize(form, nil) {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

// Edited reports whether tokens were added since the file was read.
func (e *Encoder) Edited() bool {
	return len(e.edits.vocab)+len(e.edits.merges)+len(e.edits.added) > 0
}

// render returns the tokenizer.json bytes with the edits: model.vocab,
// model.merges and added_tokens extended at their ends, laid out as their
// existing entries, everything else byte for byte as read.
func (e *Encoder) render() ([]byte, error) {
	b := e.raw
	if !e.Edited() {
		return b, nil
	}
	type region struct {
		sp    span
		elems []span
		add   [][]byte
	}
	var regions []region
	if len(e.edits.vocab) > 0 {
		sp, ok := find(b, "model", "vocab")
		if !ok {
			return nil, errors.New("tokens: model.vocab not found")
		}
		ms := objectMembers(b, sp)
		colon := ": "
		if len(ms) > 0 {
			ke := skipString(b, ms[0].Start)
			vs := skipWS(b, skipWS(b, ke)+1)
			colon = string(b[ke:vs])
		}
		var add [][]byte
		for _, t := range e.edits.vocab {
			add = append(add, append(append(jsonString(t.Form), colon...), strconv.Itoa(t.ID)...))
		}
		regions = append(regions, region{sp, ms, add})
	}
	if len(e.edits.merges) > 0 {
		sp, ok := find(b, "model", "merges")
		if !ok {
			return nil, errors.New("tokens: model.merges not found")
		}
		els := elements(b, sp)
		var tmpl []byte
		if len(els) > 0 {
			tmpl = b[els[len(els)-1].Start:els[len(els)-1].End]
		}
		pairs := e.model.(*bpe).mergesAsPairs || len(els) == 0 && slices.ContainsFunc(e.edits.merges, func(p [2]string) bool {
			return strings.Contains(p[0]+p[1], " ")
		})
		var add [][]byte
		for _, p := range e.edits.merges {
			switch {
			case !pairs:
				add = append(add, jsonString(p[0]+" "+p[1]))
			case tmpl != nil && bytes.HasPrefix(tmpl, []byte("[")):
				add = append(add, withElements(tmpl, [][]byte{jsonString(p[0]), jsonString(p[1])}))
			default:
				add = append(add, []byte("["+string(jsonString(p[0]))+", "+string(jsonString(p[1]))+"]"))
			}
		}
		regions = append(regions, region{sp, els, add})
	}
	if len(e.edits.added) > 0 {
		sp, ok := find(b, "added_tokens")
		if !ok || b[sp.Start] != '[' {
			return nil, errors.New("tokens: added_tokens is not an array")
		}
		els := elements(b, sp)
		var add [][]byte
		for _, a := range e.edits.added {
			vals := map[string][]byte{"id": []byte(strconv.Itoa(a.ID)), "content": jsonString(a.Content),
				"single_word": []byte(strconv.FormatBool(a.SingleWord)), "lstrip": []byte(strconv.FormatBool(a.LStrip)),
				"rstrip": []byte(strconv.FormatBool(a.RStrip)), "normalized": []byte(strconv.FormatBool(a.Normalized)),
				"special": []byte(strconv.FormatBool(a.Special))}
			if len(els) > 0 {
				add = append(add, withMembers(b[els[len(els)-1].Start:els[len(els)-1].End], vals))
				continue
			}
			var sb strings.Builder
			sb.WriteString("{")
			for i, k := range []string{"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"} {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(`"` + k + `": ` + string(vals[k]))
			}
			sb.WriteString("}")
			add = append(add, []byte(sb.String()))
		}
		regions = append(regions, region{sp, els, add})
	}
	sort.Slice(regions, func(i, j int) bool { return regions[i].sp.Start > regions[j].sp.Start })
	for _, r := range regions {
		b = appendElems(b, r.sp, r.elems, r.add)
	}
	return b, nil
}

// IsVocab reports whether id is a model-vocabulary entry (not an added
// token).
func (e *Encoder) IsVocab(id int) bool {
	if _, ok := e.addedTok[id]; ok {
		return false
	}
	_, ok := e.model.token(id)
	return ok
}

// Reachable reports whether the model produces vocabulary entry id from its
// own string: BPE's merges turn the string into exactly this token (without
// ignore_merges' shortcut, as tokenizer-extension's reachability check
// does); WordPiece's longest match finds it.
func (e *Encoder) Reachable(id int) bool {
	t, ok := e.model.token(id)
	if !ok {
		return false
	}
	return slices.Equal(e.Decompose(t), []int{id})
}
