package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// grow tokens encode prints the reference ids (testdata/reference/tokenization.json).
func TestTokensEncode(t *testing.T) {
	b, err := os.ReadFile(testModel(filepath.Join("reference", "tokenization.json")))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Text string           `json:"text"`
			IDs  map[string][]int `json:"ids"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Cases[1]
	for _, model := range []string{"stories260k", "gpt2-random-realtok", "bert-random-realtok"} {
		out, _, err := growExec(t, "tokens", "encode", testModel(model), "--text", c.Text, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ IDs []int }
		if err := json.Unmarshal([]byte(out), &got); err != nil || !slices.Equal(got.IDs, c.IDs[model]) {
			t.Errorf("%s: %s (%v), want %v", model, out, err, c.IDs[model])
		}
	}
	out, _, err := growExec(t, "tokens", "encode", testModel("stories260k"), "--text", "Tim went")
	if err != nil {
		t.Fatal(err)
	}
	if want := "4 tokens\n  1  \"<s>\"\n326  \"▁Tim\"\n263  \"▁w\"\n377  \"ent\"\n"; out != want {
		t.Errorf("text output\n%s\nwant\n%s", out, want)
	}
	out, _, err = growExec(t, "tokens", "encode", testModel("stories260k"), "--text", "", "--json", "--no-special-tokens")
	if err != nil || out != "{\"ids\":[]}\n" {
		t.Errorf("empty text: %q %v", out, err)
	}
	texts := filepath.Join(t.TempDir(), "texts.json")
	if err := os.WriteFile(texts, []byte(`["Tim went", ""]`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = growExec(t, "tokens", "encode", testModel("stories260k"), "--texts-file", texts)
	if err != nil || out != "{\"ids\":[1,326,263,377]}\n{\"ids\":[1]}\n" {
		t.Errorf("--texts-file: %q %v", out, err)
	}
	out, _, err = growExec(t, "tokens", "decode", testModel("stories260k"), "--ids", "1,326,263,377")
	if err != nil || out != "<s> Tim went\n" {
		t.Errorf("decode: %q %v", out, err)
	}
}

func TestTokensEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tokens", "encode", testModel("stories260k")}, exitUsage, "no text"},
		{[]string{"tokens", "encode", testModel("stories260k"), "--text", "a", "--text-file", "x"}, exitUsage, "give one"},
		{[]string{"tokens", "encode", testModel("gpt2-random-toyvocab"), "--text", "a"}, exitFailure, "no tokenizer.json"},
		{[]string{"tokens", "encode", "/nonexistent", "--text", "a"}, exitFailure, "no such file"},
		{[]string{"tokens", "decode", testModel("stories260k"), "--ids", "9999"}, exitFailure, "not in"},
	} {
		_, _, err := growExec(t, tc.args...)
		if exitCode(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v (exit %d), want exit %d and %q", tc.args, err, exitCode(err), tc.code, tc.msg)
		}
	}
}
