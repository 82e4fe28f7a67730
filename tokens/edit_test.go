package tokens

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Adding vocabulary tokens synthesizes merges that make them reachable;
// text without them keeps its tokenization; the written file parses back to
// the same tokenizer.
func TestAddVocabTokens(t *testing.T) {
	cases := referenceCases(t)
	for _, tc := range []struct {
		model string
		texts []string
		forms []string
	}{
		{"stories260k", []string{"went", "Sara", " park", "élan"}, []string{"▁went", "▁Sara", "▁park", "▁élan"}},
		{"gpt2-random-realtok", []string{" photosynthesis", "Grow", " naïveté"}, []string{"Ġphotosynthesis", "Grow", "ĠnaÃ¯vetÃ©"}},
		{"bert-random-realtok", []string{"photosynthesis", "Eyjafjallajökull"}, []string{"photosynthesis", "eyjafjallajokull"}},
	} {
		e := loadTestEncoder(t, tc.model)
		old := loadTestEncoder(t, tc.model)
		next := e.NextID()
		var all []NewToken
		for i, text := range tc.texts {
			nts, err := e.Add(text, ModeAuto, false)
			if err != nil {
				t.Fatalf("%s: add %q: %v", tc.model, text, err)
			}
			last := nts[len(nts)-1]
			if last.Mode != ModeVocab || last.Form != tc.forms[i] || last.Text != text {
				t.Errorf("%s %q: %+v", tc.model, text, last)
			}
			if got := e.IDs(text, false); !slices.Equal(got, []int{last.ID}) {
				t.Errorf("%s %q encodes as %v, want [%d]", tc.model, text, got, last.ID)
			}
			all = append(all, nts...)
		}
		for i, nt := range all {
			if nt.ID != next+i {
				t.Errorf("%s: new token %d has id %d, want %d", tc.model, i, nt.ID, next+i)
			}
		}
		// Text without the new tokens is tokenized as before.
		for _, c := range cases {
			if strings.Contains(c.Text, "Sara") || strings.Contains(c.Text, "went") || strings.Contains(c.Text, "park") {
				continue
			}
			if a, b := old.IDs(c.Text, true), e.IDs(c.Text, true); !slices.Equal(a, b) {
				t.Errorf("%s %q: %v became %v", tc.model, c.Text, a, b)
			}
		}
		b, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseEncoder(b, tc.model)
		if err != nil {
			t.Fatalf("%s: the written tokenizer.json does not parse: %v", tc.model, err)
		}
		for _, c := range append(tc.texts, "Tim went to see Sara in the park.", cases[len(cases)-1].Text) {
			if a, b := e.IDs(c, true), back.IDs(c, true); !slices.Equal(a, b) {
				t.Errorf("%s %q: %v, after writing and reading %v", tc.model, c, a, b)
			}
		}
		if !bytes.HasPrefix(b, old.raw[:200]) {
			t.Errorf("%s: the start of the file changed", tc.model)
		}
	}
}

func TestAddAddedTokens(t *testing.T) {
	e := loadTestEncoder(t, "stories260k")
	nts, err := e.Add("<|tool|>", ModeAuto, true)
	if err != nil || len(nts) != 1 || nts[0].ID != 512 || nts[0].Mode != ModeAdded || !nts[0].Special {
		t.Fatalf("%+v %v", nts, err)
	}
	nts, err = e.Add("New York", ModeAdded, false)
	if err != nil || nts[0].ID != 513 {
		t.Fatalf("%+v %v", nts, err)
	}
	if got := e.IDs("Tim<|tool|>", true); !slices.Equal(got, []int{1, 326, 512}) {
		t.Errorf("Tim<|tool|>: %v", got)
	}
	if got := e.IDs("in New York", true); got[len(got)-1] != 513 {
		t.Errorf("in New York: %v", got)
	}
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEncoder(b, "x")
	if err != nil {
		t.Fatal(err)
	}
	if a := back.Added(); len(a) != 5 || a[3].Content != "<|tool|>" || a[3].ID != 512 || !a[3].Special || !a[4].Normalized || a[3].Normalized {
		t.Errorf("added tokens read back: %+v", a)
	}
	g := loadTestEncoder(t, "gpt2-random-realtok")
	// Several pre-tokens: auto makes it an added token.
	nts, err = g.Add(" New York", ModeAuto, false)
	if err != nil || nts[0].Mode != ModeAdded || nts[0].ID != 50257 || !strings.Contains(nts[0].Note, "2 pieces") {
		t.Fatalf("%+v %v", nts, err)
	}
	if _, err := g.Add(" New Jersey", ModeVocab, false); err == nil || !strings.Contains(err.Error(), "pre-tokenizer splits it") {
		t.Errorf("vocab mode across pre-tokens: %v", err)
	}
	for _, tc := range []struct{ text, mode string }{{" the", ModeAuto}, {"<|endoftext|>", ModeAuto}, {" New York", ModeAdded}, {"the", ModeAdded}} {
		if _, err := g.Add(tc.text, tc.mode, false); !errors.Is(err, ErrExists) {
			t.Errorf("%q (%s): %v, want ErrExists", tc.text, tc.mode, err)
		}
	}
	if _, err := g.Add("", ModeAuto, false); err == nil {
		t.Error("an empty token was accepted")
	}
	// After an added token, vocabulary tokens would leave a hole.
	if _, err := g.Add(" photosynthesis", ModeVocab, false); err == nil || !strings.Contains(err.Error(), "hole") {
		t.Errorf("vocab token after an added one: %v", err)
	}
}
