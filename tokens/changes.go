package tokens

import (
	"bytes"
	"encoding/json"
)

// ChangesFile is the name of the provenance file an extension writes.
const ChangesFile = "embedding_changes.json"

type changeRow struct {
	Method       string        `json:"method"`
	Constituents []constituent `json:"constituents,omitempty"`
	Seed         *uint64       `json:"seed,omitempty"`
	Fallback     string        `json:"fallback,omitempty"`
}

type constituent struct {
	ID     int     `json:"id"`
	Token  string  `json:"token"`
	Weight float64 `json:"weight"`
}

type changeToken struct {
	ID             int         `json:"id"`
	Token          string      `json:"token"`
	Text           string      `json:"text,omitempty"`
	Mode           string      `json:"mode,omitempty"`
	Special        bool        `json:"special,omitempty"`
	IntermediateOf string      `json:"intermediate_of,omitempty"`
	Merges         [][2]string `json:"merges,omitempty"`
	Padding        bool        `json:"padding,omitempty"`
	Input          changeRow   `json:"input"`
	Output         *changeRow  `json:"output,omitempty"`
}

func changeOf(r RowInit) changeRow {
	c := changeRow{Method: r.Method, Fallback: r.Fallback}
	if r.Kind == "random" || r.Kind == "mvn" {
		s := r.Seed
		c.Seed = &s
	}
	for i, id := range r.Anchors {
		c.Constituents = append(c.Constituents, constituent{id, r.Tokens[i], r.Weights[i]})
	}
	return c
}

// Changes returns embedding_changes.json: the rows before and after, the
// seed, and per new row its token, mode, the method of its input row (and,
// for an untied head, of its output row), the constituents with their
// weights, the random stream's key and any fallback taken.
func (x *Extension) Changes(seed int64) ([]byte, error) {
	doc := struct {
		RowsBefore int           `json:"rows_before"`
		RowsAfter  int           `json:"rows_after"`
		Tied       bool          `json:"tied"`
		Seed       int64         `json:"seed"`
		Notes      []string      `json:"notes,omitempty"`
		Tokens     []changeToken `json:"tokens"`
	}{x.OldRows, x.Rows, x.Tied, seed, x.Notes, nil}
	for k, id := range x.RowIDs {
		ct := changeToken{ID: id, Input: changeOf(x.Input[k])}
		if !x.Tied {
			o := changeOf(x.Output[k])
			ct.Output = &o
		}
		if t, ok := x.Token(id); ok {
			ct.Token, ct.Text, ct.Mode, ct.Special, ct.IntermediateOf, ct.Merges = t.Form, t.Text, t.Mode, t.Special, t.Of, t.Merges
		} else {
			ct.Padding = true
		}
		doc.Tokens = append(doc.Tokens, ct)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
