package tokens

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Surgical JSON editing. tokenizer.json is kept as the bytes it was read
// from; an edit replaces or extends the bytes of one value (model.vocab,
// model.merges, added_tokens, ...) and leaves everything else, key order,
// formatting and fields grow does not know included, as it was. The scanner
// below assumes valid JSON: the file was parsed by encoding/json first.

// span is the byte range [Start, End) of a JSON value in a document.
type span struct{ Start, End int }

// skipWS returns the offset of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the offset just past the JSON string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the offset just past the JSON value starting at b[i]
// (no leading whitespace).
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// member finds key in the JSON object whose value spans sp in b and returns
// the span of its value.
func member(b []byte, sp span, key string) (span, bool) {
	i := skipWS(b, sp.Start)
	if i >= sp.End || b[i] != '{' {
		return span{}, false
	}
	i = skipWS(b, i+1)
	for i < sp.End && b[i] == '"' {
		ke := skipString(b, i)
		var k string
		if json.Unmarshal(b[i:ke], &k) != nil {
			return span{}, false
		}
		i = skipWS(b, ke)
		if i >= sp.End || b[i] != ':' {
			return span{}, false
		}
		vs := skipWS(b, i+1)
		ve := skipValue(b, vs)
		if k == key {
			return span{vs, ve}, true
		}
		i = skipWS(b, ve)
		if i < sp.End && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return span{}, false
}

// find returns the span of the value at path (object keys) in document b.
func find(b []byte, path ...string) (span, bool) {
	sp := span{skipWS(b, 0), len(b)}
	sp.End = skipValue(b, sp.Start)
	for _, k := range path {
		var ok bool
		if sp, ok = member(b, sp, k); !ok {
			return span{}, false
		}
	}
	return sp, true
}

// elements returns the spans of the elements of the JSON array spanning sp.
func elements(b []byte, sp span) []span {
	i := skipWS(b, sp.Start)
	if i >= sp.End || b[i] != '[' {
		return nil
	}
	var out []span
	i = skipWS(b, i+1)
	for i < sp.End && b[i] != ']' {
		e := skipValue(b, i)
		out = append(out, span{i, e})
		i = skipWS(b, e)
		if i < sp.End && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out
}

// splice returns b with the bytes of sp replaced by repl.
func splice(b []byte, sp span, repl []byte) []byte {
	out := make([]byte, 0, len(b)-(sp.End-sp.Start)+len(repl))
	out = append(out, b[:sp.Start]...)
	out = append(out, repl...)
	return append(out, b[sp.End:]...)
}

// indentOf returns the indentation of the line holding b[pos].
func indentOf(b []byte, pos int) string {
	start := bytes.LastIndexByte(b[:pos], '\n') + 1
	end := start
	for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
		end++
	}
	return string(b[start:end])
}

// appendElems returns b with the raw elements add appended to the container
// (array or object; for an object each element is a whole member, `"key":
// value`) spanning sp whose current elements span elems. The new elements
// are laid out as the existing ones: the same separator between elements
// (", " or ",\n" and an indentation), the same text before the closing
// bracket.
func appendElems(b []byte, sp span, elems []span, add [][]byte) []byte {
	if len(add) == 0 {
		return b
	}
	var sep, closing string
	at := sp.Start + 1
	switch {
	case len(elems) > 1:
		sep = string(b[elems[0].End:elems[1].Start])
	case len(elems) == 1:
		if open := string(b[sp.Start+1 : elems[0].Start]); strings.Contains(open, "\n") {
			sep = "," + open
		} else {
			sep = ", "
		}
	default:
		if inner := string(b[sp.Start+1 : sp.End-1]); strings.Contains(inner, "\n") {
			ind := indentOf(b, sp.Start)
			sep = ",\n" + ind + "  "
			closing = "\n" + ind
		} else {
			sep = ", "
		}
	}
	var buf bytes.Buffer
	if len(elems) > 0 {
		at = elems[len(elems)-1].End
	} else if strings.HasPrefix(sep, ",\n") {
		buf.WriteString(sep[1:])
	}
	for i, e := range add {
		if i > 0 || len(elems) > 0 {
			buf.WriteString(sep)
		}
		buf.Write(e)
	}
	if len(elems) == 0 {
		buf.WriteString(closing)
		return splice(b, span{at, sp.End - 1}, buf.Bytes())
	}
	return splice(b, span{at, at}, buf.Bytes())
}

// withMembers returns the JSON object tmpl with the values of the members
// named in vals replaced (members vals names that tmpl lacks are ignored),
// everything else as it was: a new entry made to look like its neighbour.
func withMembers(tmpl []byte, vals map[string][]byte) []byte {
	type edit struct {
		sp  span
		val []byte
	}
	var edits []edit
	whole := span{0, len(tmpl)}
	for k, v := range vals {
		if sp, ok := member(tmpl, whole, k); ok {
			edits = append(edits, edit{sp, v})
		}
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].sp.Start > edits[j].sp.Start })
	out := tmpl
	for _, e := range edits {
		out = splice(out, e.sp, e.val)
	}
	return out
}

// withElements returns the JSON array tmpl with its elements replaced by
// vals (as many as tmpl has), its layout kept.
func withElements(tmpl []byte, vals [][]byte) []byte {
	els := elements(tmpl, span{0, len(tmpl)})
	out := tmpl
	for i := len(els) - 1; i >= 0; i-- {
		if i < len(vals) {
			out = splice(out, els[i], vals[i])
		}
	}
	return out
}

// objectMembers returns the spans of the members ("key": value) of the JSON
// object spanning sp.
func objectMembers(b []byte, sp span) []span {
	i := skipWS(b, sp.Start)
	if i >= sp.End || b[i] != '{' {
		return nil
	}
	var out []span
	i = skipWS(b, i+1)
	for i < sp.End && b[i] == '"' {
		start := i
		i = skipWS(b, skipString(b, i))
		vs := skipWS(b, i+1)
		ve := skipValue(b, vs)
		out = append(out, span{start, ve})
		i = skipWS(b, ve)
		if i < sp.End && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out
}

// jsonString encodes s as a JSON string the way Hugging Face's writers do:
// UTF-8 kept raw, no HTML escaping.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(fmt.Sprintf("tokens: encoding a string: %v", err))
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}
