package tokens

import (
	"slices"
	"testing"
)

func TestDocuments(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"a\nb\n\nc\n", []string{"a\nb", "c"}},
		{"a\r\n\r\nb", []string{"a", "b"}},
		{"\n\n  \n\n", nil},
		{"", nil},
	} {
		if got := Documents(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Documents(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}
