package tokens

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkEncodeCorpus encodes testdata/reference/stories-corpus.txt with
// each of the three real tokenizers, as one text and story by story.
func BenchmarkEncodeCorpus(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(testdata, "reference", "stories-corpus.txt"))
	if err != nil {
		b.Fatal(err)
	}
	text := string(raw)
	stories := strings.Split(text, "\n\n")
	for _, model := range realTokenizers {
		for _, mode := range []string{"whole", "stories"} {
			b.Run(model+"/"+mode, func(b *testing.B) {
				e := loadTestEncoder(b, model)
				b.SetBytes(int64(len(text)))
				b.ResetTimer()
				for range b.N {
					if mode == "whole" {
						e.Encode(text, true)
					} else {
						for _, s := range stories {
							e.Encode(s, true)
						}
					}
				}
			})
		}
	}
}
