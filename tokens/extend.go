package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Roles a new token can take: the special-token keys of transformers'
// tokenizer configuration, and RoleEOSExtra, an end-of-turn token that
// ends generation besides the EOS token (generation_config.json's
// eos_token_id becomes a list).
var Roles = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", RoleEOSExtra}

// RoleEOSExtra is the role of an additional end-of-generation token.
const RoleEOSExtra = "eos_extra"

// Request is one token to add.
type Request struct {
	// Text is the token's surface text (" hello" with its space for a
	// word after a space in a byte-level BPE; SentencePiece-style
	// tokenizers mark the start of a word themselves).
	Text string
	// Mode is ModeAuto, ModeVocab or ModeAdded ("": Options.Mode).
	Mode string
	// Special makes it a special added token (skipped by decoding with
	// skip_special_tokens); Role gives it a role (Roles).
	Special bool
	Role    string
	// Input and Output are its initialization methods (nil: the options').
	Input, Output *Method
}

// Options are the settings of an extension.
type Options struct {
	// Mode is the default mode (ModeAuto when "").
	Mode string
	// Input and Output are the default methods of the input embedding and
	// the output head; a tied model uses Input for both.
	Input, Output Method
	// PadToMultipleOf rounds the row count up (0: no padding).
	PadToMultipleOf int
	// Rows is the checkpoint's row count (config.json's vocab_size).
	Rows int
	// Tied: the output head is the input embedding.
	Tied bool
	// Seed keys the random methods.
	Seed int64
}

// Extension is a planned vocabulary extension: the new tokenizer, the new
// rows and how to initialize them, and the files to write.
type Extension struct {
	Old, New *Encoder
	// Tokens are the new tokens in id order, intermediates included.
	Tokens []NewToken
	// OldRows and Rows are the row counts before and after.
	OldRows, Rows int
	// RowIDs are the rows that get new values, ascending: the new tokens'
	// ids and the padding rows; Input and Output say how, row by row.
	RowIDs        []int
	Input, Output []RowInit
	// Padding are the padding rows (never produced by the tokenizer).
	Padding []int
	// Files are the tokenizer files to write (name → content); Drop are
	// the source's files left out of the output.
	Files map[string][]byte
	Drop  []string
	// ConfigIDs are config.json keys to set (bos_token_id, ...).
	ConfigIDs map[string]int
	// Notes say what was decided and why.
	Notes []string
	// Tied is Options.Tied: Input serves the output head too.
	Tied bool
	// use marks the old rows that count in the statistics.
	use []bool
	// byID indexes Tokens by id (Token).
	byID map[int]int
}

// Extend plans adding reqs to the tokenizer of the model directory dir (its
// tokenizer.json and the configuration files beside it). Vocabulary tokens
// are added first, in the order given, then added tokens (so that no model
// vocabulary id follows an added token's, which Hugging Face's tokenizers
// would renumber on load). An empty token, a duplicate, a token the
// tokenizer has, an unknown role or method is an error, and nothing is
// planned.
func Extend(dir string, reqs []Request, opt Options) (*Extension, error) {
	if _, err := os.Stat(filepath.Join(dir, TokenizerJSON)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: a vocabulary extension edits a Hugging Face tokenizer.json", dir, TokenizerJSON)
	}
	old, err := Load(dir)
	if err != nil {
		return nil, err
	}
	e, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if opt.Mode == "" {
		opt.Mode = ModeAuto
	}
	if len(reqs) == 0 {
		return nil, errors.New("no tokens to add")
	}
	seen := map[string]int{}
	roles := map[string]string{}
	for i, r := range reqs {
		if r.Text == "" {
			return nil, fmt.Errorf("token %d is empty", i+1)
		}
		if j, dup := seen[r.Text]; dup {
			return nil, fmt.Errorf("token %d %q is a duplicate of token %d", i+1, r.Text, j+1)
		}
		seen[r.Text] = i
		if r.Role != "" {
			if !contains(Roles, r.Role) {
				return nil, fmt.Errorf("token %q: unknown role %q (want one of %s)", r.Text, r.Role, strings.Join(Roles, ", "))
			}
			if r.Role != RoleEOSExtra {
				if prev, ok := roles[r.Role]; ok {
					return nil, fmt.Errorf("tokens %q and %q both take the role %s", prev, r.Text, r.Role)
				}
				roles[r.Role] = r.Text
			}
			if !r.Special {
				return nil, fmt.Errorf("token %q has the role %s: a role token is special (special: true)", r.Text, r.Role)
			}
		}
		for _, m := range []*Method{r.Input, r.Output} {
			if m != nil {
				if err := m.check(); err != nil {
					return nil, fmt.Errorf("token %q: %w", r.Text, err)
				}
			}
		}
	}
	if old.MaxID() >= opt.Rows {
		return nil, fmt.Errorf("the tokenizer has ids up to %d, but the checkpoint only %d rows", old.MaxID(), opt.Rows)
	}
	x := &Extension{Old: old, New: e, OldRows: opt.Rows, Files: map[string][]byte{}, ConfigIDs: map[string]int{}, Tied: opt.Tied}
	byText := map[string]Request{}
	add := func(r Request, mode string) error {
		if form, ok, _ := e.VocabForm(r.Text); ok && mode != ModeAdded && !r.Special {
			// A token made earlier as an intermediate of another becomes
			// the one asked for.
			for i, t := range x.Tokens {
				if t.Intermediate && t.Form == form {
					x.Tokens[i].Text, x.Tokens[i].Intermediate, x.Tokens[i].Of = r.Text, false, ""
					byText[r.Text] = r
					return nil
				}
			}
		}
		nts, err := e.Add(r.Text, mode, r.Special)
		if err != nil {
			return err
		}
		for _, nt := range nts {
			if nt.Note != "" {
				x.Notes = append(x.Notes, fmt.Sprintf("%q: %s", r.Text, nt.Note))
			}
		}
		x.Tokens = append(x.Tokens, nts...)
		byText[r.Text] = r
		return nil
	}
	// Vocabulary tokens first.
	var later []Request
	for _, r := range reqs {
		mode := r.Mode
		if mode == "" {
			mode = opt.Mode
		}
		if r.Special || mode == ModeAdded {
			later = append(later, r)
			continue
		}
		_, ok, _ := e.VocabForm(r.Text)
		if ok && e.vocabModeWhy() == "" {
			if err := add(r, ModeVocab); err != nil {
				return nil, err
			}
			continue
		}
		if mode == ModeVocab {
			if err := add(r, ModeVocab); err != nil { // the error says why
				return nil, err
			}
		}
		later = append(later, r)
	}
	for _, r := range later {
		mode := r.Mode
		if mode == "" || mode == ModeAuto {
			mode = ModeAuto
		}
		if err := add(r, mode); err != nil {
			return nil, err
		}
	}
	// Rows.
	x.Rows = max(opt.Rows, e.NextID())
	if m := opt.PadToMultipleOf; m > 0 {
		x.Rows = (x.Rows + m - 1) / m * m
	}
	for _, nt := range x.Tokens {
		x.RowIDs = append(x.RowIDs, nt.ID)
	}
	for id := max(opt.Rows, e.NextID()); id < x.Rows; id++ {
		x.RowIDs = append(x.RowIDs, id)
		x.Padding = append(x.Padding, id)
	}
	x.use = statRows(old, opt.Rows)
	// Initialization.
	rs := &resolver{old: old, unk: -1, seed: opt.Seed, use: x.use}
	if m, ok := old.model.(*bpe); ok && m.hasUnk {
		rs.unk = m.ids[m.unk]
	}
	if m, ok := old.model.(*wordPiece); ok {
		rs.unk = m.unkID
	}
	for _, nt := range x.Tokens {
		r := byText[nt.Text]
		if nt.Intermediate {
			r = byText[nt.Of]
			r.Input, r.Output = nil, nil // intermediates: the defaults
		}
		in, out := opt.Input, opt.Output
		if r.Input != nil {
			in = *r.Input
		}
		if r.Output != nil {
			out = *r.Output
		}
		var pieces []int
		if nt.Mode == ModeVocab {
			pieces = old.Decompose(nt.Form)
		} else {
			pieces = old.IDs(nt.Text, false)
		}
		surface := nt.Text
		if surface == "" {
			surface = e.Decode([]int{nt.ID}, false)
		}
		ri, err := rs.resolve(in, pieces, surface, "input/"+nt.Form)
		if err != nil {
			return nil, fmt.Errorf("token %q, input: %w", nt.Form, err)
		}
		ro, err := rs.resolve(out, pieces, surface, "output/"+nt.Form)
		if err != nil {
			return nil, fmt.Errorf("token %q, output: %w", nt.Form, err)
		}
		x.Input, x.Output = append(x.Input, ri), append(x.Output, ro)
	}
	for range x.Padding {
		// Padding rows are never produced by the tokenizer, but the head
		// scores them: the mean keeps Hewitt's bound; an untied input row
		// is never read, so zero.
		pi := RowInit{Method: "padding", Kind: "zero"}
		if opt.Tied {
			pi.Kind = "mean"
		}
		x.Input = append(x.Input, pi)
		x.Output = append(x.Output, RowInit{Method: "padding", Kind: "mean"})
	}
	if err := x.files(dir, reqs); err != nil {
		return nil, err
	}
	return x, nil
}

// RowMap returns the transform index map of the vocabulary axis: row i of
// the result comes from source row i, or is new (-1) for the rows in
// RowIDs.
func (x *Extension) RowMap() []int {
	idx := make([]int, x.Rows)
	for i := range idx {
		if i < x.OldRows {
			idx[i] = i
		} else {
			idx[i] = -1
		}
	}
	for _, id := range x.RowIDs {
		idx[id] = -1
	}
	return idx
}

// NewRows computes the new rows of one tensor from its source: role
// "embed" (the input embedding; with a tied head, the head too), "head" (an
// untied output head) or "head.bias" (the output bias, entries by the
// output methods' weights). The result is in RowIDs' order.
func (x *Extension) NewRows(role string, src Rows) ([][]float64, error) {
	inits := x.Input
	switch role {
	case "embed":
	case "head", "head.bias":
		if !x.Tied {
			inits = x.Output
		}
	default:
		return nil, fmt.Errorf("tokens: no rule for the new rows of %s", role)
	}
	if role == "head.bias" {
		inits = slices.Clone(inits)
		for i, r := range inits {
			if r.Kind == "random" || r.Kind == "mvn" || r.Kind == "scalar-random" {
				inits[i].Kind = "mean" // a bias entry: the mean
			}
		}
	}
	return computeRows(src, inits, x.use)
}

// Token returns the new token with id (ok false for a padding row).
func (x *Extension) Token(id int) (NewToken, bool) {
	if x.byID == nil {
		x.byID = map[int]int{}
		for i, t := range x.Tokens {
			x.byID[t.ID] = i
		}
	}
	i, ok := x.byID[id]
	if !ok {
		return NewToken{}, false
	}
	return x.Tokens[i], true
}

// readIfExists reads dir/name, nil when it does not exist.
func readIfExists(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// setMember returns the JSON object doc with member key set to the raw
// value val: replaced in place when present, appended otherwise.
func setMember(doc []byte, key string, val []byte) []byte {
	whole := span{skipWS(doc, 0), 0}
	whole.End = skipValue(doc, whole.Start)
	if sp, ok := member(doc, whole, key); ok {
		return splice(doc, sp, val)
	}
	ms := objectMembers(doc, whole)
	colon := ": "
	if len(ms) > 0 {
		ke := skipString(doc, ms[0].Start)
		vs := skipWS(doc, skipWS(doc, ke)+1)
		colon = string(doc[ke:vs])
	}
	return appendElems(doc, whole, ms, [][]byte{append(append(jsonString(key), colon...), val...)})
}

// appendToArray returns doc with vals appended to the array member key
// (created when absent).
func appendToArray(doc []byte, key string, vals [][]byte) []byte {
	whole := span{skipWS(doc, 0), 0}
	whole.End = skipValue(doc, whole.Start)
	if sp, ok := member(doc, whole, key); ok && doc[sp.Start] == '[' {
		return appendElems(doc, sp, elements(doc, sp), vals)
	}
	return setMember(doc, key, append(append([]byte("["), bytes.Join(vals, []byte(", "))...), ']'))
}

// files makes the tokenizer files of the output.
func (x *Extension) files(dir string, reqs []Request) error {
	tj, err := x.New.Bytes()
	if err != nil {
		return err
	}
	x.Files[TokenizerJSON] = tj
	var added []NewToken
	for _, t := range x.Tokens {
		if t.Mode == ModeAdded {
			added = append(added, t)
		}
	}
	roleOf := map[string]string{}
	for _, r := range reqs {
		roleOf[r.Text] = r.Role
	}
	addedTok := func(id int) *AddedToken { return x.New.addedTok[id] }
	// tokenizer_config.json
	if b, err := readIfExists(dir, TokenizerConfig); err != nil {
		return err
	} else if b != nil {
		if _, err := ParseTokenizerConfig(b, TokenizerConfig); err != nil {
			return err
		}
		whole := span{skipWS(b, 0), 0}
		whole.End = skipValue(b, whole.Start)
		if len(added) > 0 {
			sp, ok := member(b, whole, "added_tokens_decoder")
			if !ok || b[sp.Start] != '{' {
				b = setMember(b, "added_tokens_decoder", []byte("{}"))
				whole.End = skipValue(b, whole.Start)
				sp, _ = member(b, whole, "added_tokens_decoder")
			}
			ms := objectMembers(b, sp)
			var tmpl []byte
			if len(ms) > 0 {
				last := ms[len(ms)-1]
				vs := skipWS(b, skipWS(b, skipString(b, last.Start))+1)
				tmpl = b[vs:last.End]
			}
			colon := ": "
			if len(ms) > 0 {
				ke := skipString(b, ms[0].Start)
				colon = string(b[ke:skipWS(b, skipWS(b, ke)+1)])
			}
			var add [][]byte
			for _, t := range added {
				a := addedTok(t.ID)
				vals := map[string][]byte{"content": jsonString(a.Content), "lstrip": []byte(strconv.FormatBool(a.LStrip)),
					"normalized": []byte(strconv.FormatBool(a.Normalized)), "rstrip": []byte(strconv.FormatBool(a.RStrip)),
					"single_word": []byte(strconv.FormatBool(a.SingleWord)), "special": []byte(strconv.FormatBool(a.Special))}
				var v []byte
				if tmpl != nil {
					v = withMembers(tmpl, vals)
				} else {
					v = []byte(fmt.Sprintf(`{"content": %s, "lstrip": %s, "normalized": %s, "rstrip": %s, "single_word": %s, "special": %s}`,
						vals["content"], vals["lstrip"], vals["normalized"], vals["rstrip"], vals["single_word"], vals["special"]))
				}
				add = append(add, append(append(jsonString(strconv.Itoa(t.ID)), colon...), v...))
			}
			b = appendElems(b, sp, ms, add)
		}
		b = x.roleKeys(b, added, roleOf)
		// transformers 5 rebuilds some tokenizer classes' pipelines from
		// their own defaults instead of reading tokenizer.json (Llama's
		// normalizer, for one); the generic class takes the file as it is.
		b = setMember(b, "tokenizer_class", jsonString("PreTrainedTokenizerFast"))
		x.Notes = append(x.Notes, "tokenizer_config.json: tokenizer_class is PreTrainedTokenizerFast, so that transformers reads the edited tokenizer.json as it is")
		x.Files[TokenizerConfig] = b
	}
	// special_tokens_map.json
	if b, err := readIfExists(dir, SpecialTokensMap); err != nil {
		return err
	} else if b != nil {
		if _, err := ParseSpecialTokensMap(b, SpecialTokensMap); err != nil {
			return err
		}
		if nb := x.roleKeys(b, added, roleOf); !bytes.Equal(nb, b) {
			x.Files[SpecialTokensMap] = nb
		}
	}
	// config.json and generation_config.json ids
	for _, t := range added {
		switch role := roleOf[t.Text]; role {
		case "bos_token", "eos_token", "pad_token":
			x.ConfigIDs[strings.TrimSuffix(role, "_token")+"_token_id"] = t.ID
		}
	}
	if b, err := readIfExists(dir, "generation_config.json"); err != nil {
		return err
	} else if b != nil {
		nb := b
		for k, id := range x.ConfigIDs {
			nb = setMember(nb, k, []byte(strconv.Itoa(id)))
		}
		var extra []int
		for _, t := range added {
			if roleOf[t.Text] == RoleEOSExtra {
				extra = append(extra, t.ID)
			}
		}
		if len(extra) > 0 {
			var g map[string]json.RawMessage
			if err := json.Unmarshal(nb, &g); err != nil {
				return fmt.Errorf("generation_config.json: %w", err)
			}
			var ids []int
			var one int
			switch raw := g["eos_token_id"]; {
			case raw == nil || kind(raw) == "null":
			case json.Unmarshal(raw, &one) == nil:
				ids = []int{one}
			case json.Unmarshal(raw, &ids) == nil:
			default:
				return fmt.Errorf("generation_config.json: eos_token_id is %s, want an id or a list of ids", kind(raw))
			}
			ids = append(ids, extra...)
			v, _ := json.Marshal(ids)
			nb = setMember(nb, "eos_token_id", v)
		}
		if !bytes.Equal(nb, b) {
			x.Files["generation_config.json"] = nb
		}
	}
	// Slow tokenizer files.
	var vocabToks []NewToken
	for _, t := range x.Tokens {
		if t.Mode == ModeVocab {
			vocabToks = append(vocabToks, t)
		}
	}
	if b, err := readIfExists(dir, "vocab.json"); err != nil {
		return err
	} else if b != nil && len(vocabToks) > 0 {
		whole := span{skipWS(b, 0), 0}
		whole.End = skipValue(b, whole.Start)
		ms := objectMembers(b, whole)
		colon := ": "
		if len(ms) > 0 {
			ke := skipString(b, ms[0].Start)
			colon = string(b[ke:skipWS(b, skipWS(b, ke)+1)])
		}
		var add [][]byte
		for _, t := range vocabToks {
			add = append(add, append(append(jsonString(t.Form), colon...), strconv.Itoa(t.ID)...))
		}
		x.Files["vocab.json"] = appendElems(b, whole, ms, add)
	}
	if b, err := readIfExists(dir, "merges.txt"); err != nil {
		return err
	} else if b != nil && len(x.New.edits.merges) > 0 {
		nb := slices.Clone(b)
		if len(nb) > 0 && nb[len(nb)-1] != '\n' {
			nb = append(nb, '\n')
		}
		for _, m := range x.New.edits.merges {
			nb = append(nb, m[0]+" "+m[1]+"\n"...)
		}
		x.Files["merges.txt"] = nb
	}
	if b, err := readIfExists(dir, "vocab.txt"); err != nil {
		return err
	} else if b != nil && len(vocabToks) > 0 {
		lines := ParseVocabTxt(b)
		if len(lines) != vocabToks[0].ID {
			x.Drop = append(x.Drop, "vocab.txt")
			x.Notes = append(x.Notes, fmt.Sprintf("vocab.txt has %d lines, not the %d ids before the new ones: left out (tokenizer.json has the vocabulary)", len(lines), vocabToks[0].ID))
		} else {
			nb := slices.Clone(b)
			if len(nb) > 0 && nb[len(nb)-1] != '\n' {
				nb = append(nb, '\n')
			}
			for _, t := range vocabToks {
				nb = append(nb, t.Form+"\n"...)
			}
			x.Files["vocab.txt"] = nb
		}
	}
	for _, name := range []string{"tokenizer.model", "spiece.model", "sentencepiece.bpe.model"} {
		if err := x.sentencePiece(dir, name); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "added_tokens.json")); err == nil {
		x.Drop = append(x.Drop, "added_tokens.json")
		x.Notes = append(x.Notes, "added_tokens.json is left out: it does not have the new tokens (tokenizer.json does)")
	}
	return nil
}

// sentencePiece extends the SentencePiece model file name of dir with the
// new tokens (extendSentencePiece), or leaves it out with a note when its
// pieces are not the ids before them or it is not a SentencePiece model.
func (x *Extension) sentencePiece(dir, name string) error {
	b, err := readIfExists(dir, name)
	if err != nil || b == nil {
		return err
	}
	out, ok, why, err := extendSentencePiece(b, x.Tokens)
	switch {
	case err != nil:
		why = err.Error()
	case ok:
		x.Files[name] = out
		return nil
	}
	x.Drop = append(x.Drop, name)
	x.Notes = append(x.Notes, fmt.Sprintf("%s is left out: %s (tokenizer.json has the new tokens)", name, why))
	return nil
}

// roleKeys sets the role keys of a tokenizer_config.json or
// special_tokens_map.json for the new role tokens, and lists the other new
// special tokens in additional_special_tokens (extra_special_tokens when the
// file uses that key).
func (x *Extension) roleKeys(b []byte, added []NewToken, roleOf map[string]string) []byte {
	var extra [][]byte
	for _, t := range added {
		role := roleOf[t.Text]
		switch {
		case role != "" && role != RoleEOSExtra:
			whole := span{skipWS(b, 0), 0}
			whole.End = skipValue(b, whole.Start)
			if sp, ok := member(b, whole, role); ok && b[sp.Start] == '{' {
				b = splice(b, sp, withMembers(b[sp.Start:sp.End], map[string][]byte{"content": jsonString(t.Text)}))
			} else {
				b = setMember(b, role, jsonString(t.Text))
			}
		case t.Special:
			extra = append(extra, jsonString(t.Text))
		}
	}
	if len(extra) > 0 {
		key := "additional_special_tokens"
		whole := span{skipWS(b, 0), 0}
		whole.End = skipValue(b, whole.Start)
		if _, ok := member(b, whole, key); !ok {
			if sp, ok := member(b, whole, "extra_special_tokens"); ok && b[sp.Start] == '[' {
				key = "extra_special_tokens"
			}
		}
		b = appendToArray(b, key, extra)
	}
	return b
}
