package main

import (
	"strings"
	"testing"
)

// FuzzParseIDsFile: no --ids-file panics; an accepted one holds at least one
// sequence, none empty, every id a token id; an error names the file.
func FuzzParseIDsFile(f *testing.F) {
	for _, s := range []string{
		"1, 403, 407\n1 368 302 381\n", "# probes\n\n1,2\n", "[[1,403,407],[1,368]]", "[[]]", "[]", "[[1,-2]]",
		"[[1e9]]", "1,,2", "1,2,", "x", "", "\n#\n", "[[1]] x", "[[9223372036854775807]]", "99999999999999999999",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		seqs, err := parseIDsFile(data, "ids.txt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--ids-file ids.txt") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(seqs) == 0 {
			t.Fatal("no sequences accepted")
		}
		for _, s := range seqs {
			if len(s) == 0 {
				t.Fatal("an empty sequence accepted")
			}
			for _, id := range s {
				if id < 0 || id >= 1<<31 {
					t.Fatalf("id %d accepted", id)
				}
			}
		}
	})
}

// FuzzParseIDs: no --ids value panics; accepted ids are token ids.
func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"1,403,407", "1 403\t407", "", "1,,2", "-1", "1,x", "１２", "9999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := parseIDs(s)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 0 || id >= 1<<31 {
				t.Fatalf("id %d accepted from %q", id, s)
			}
		}
	})
}
