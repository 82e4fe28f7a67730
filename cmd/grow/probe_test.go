package main

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

type probeStoriesRef struct {
	Prompts []struct {
		IDs    []int       `json:"ids"`
		Greedy []int       `json:"greedy_continuation"`
		Logits [][]float64 `json:"logits"`
	} `json:"prompts"`
}

// TestProbeJSONMatchesRunC: `grow probe --json` prints run.c's logits (within
// 1e-4) at every position and its greedy continuation, in both precisions.
func TestProbeJSONMatchesRunC(t *testing.T) {
	b, err := os.ReadFile("../../testdata/reference/stories260k-logits.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref probeStoriesRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	p := ref.Prompts[1]
	ids := make([]string, len(p.IDs))
	for i, id := range p.IDs {
		ids[i] = itoa(id)
	}
	for _, prec := range []string{"f64", "f32"} {
		out, _, err := growExec(t, "probe", "../../testdata/stories260k", "--ids", strings.Join(ids, ","),
			"--precision", prec, "--json", "--greedy", "16")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Logits [][]float64 `json:"logits"`
			Greedy []int       `json:"greedy"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v", prec, err)
		}
		if len(got.Logits) != len(p.IDs) || len(got.Logits[0]) != 512 {
			t.Fatalf("%s: %d rows of %d logits, want %d of 512", prec, len(got.Logits), len(got.Logits[0]), len(p.IDs))
		}
		worst := 0.0
		for i := range got.Logits {
			for j := range got.Logits[i] {
				worst = math.Max(worst, math.Abs(got.Logits[i][j]-p.Logits[i][j]))
			}
		}
		if worst > 1e-4 {
			t.Errorf("%s: max abs diff from run.c %.3g > 1e-4", prec, worst)
		}
		if len(got.Greedy) != 16 {
			t.Fatalf("%s: %d greedy ids", prec, len(got.Greedy))
		}
		for i, id := range got.Greedy {
			if id != p.Greedy[i] {
				t.Errorf("%s: greedy id %d is %d, run.c %d", prec, i, id, p.Greedy[i])
				break
			}
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestProbeText: the text output shows the top tokens with their strings.
func TestProbeText(t *testing.T) {
	out, _, err := growExec(t, "probe", "../../testdata/stories260k", "--ids", "1,403", "--top", "3", "--greedy", "2")
	if err != nil {
		t.Fatal(err)
	}
	// run.c's top choice after "<s> Once" is "▁upon" (id 407).
	for _, want := range []string{`403 "▁Once"`, `→ 407 "▁upon"`, "greedy: 407,261"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(strings.Split(out, "\n")[1], " | "); n != 2 {
		t.Errorf("%d separators in a 3-token row:\n%s", n, out)
	}
	out, _, err = growExec(t, "probe", "../../testdata/bert-random-realtok", "--ids", "101,7592,102")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `101 "[CLS]"`) {
		t.Errorf("bert output lacks [CLS]:\n%s", out)
	}
}

func TestProbeErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"probe", "../../testdata/stories260k"}, "--ids"},
		{[]string{"probe", "../../testdata/stories260k", "--ids", "1,x"}, `"x" is not a token id`},
		{[]string{"probe", "../../testdata/stories260k", "--ids", "1,512"}, "outside the vocabulary"},
		{[]string{"probe", "../../testdata/stories260k", "--ids", "1", "--precision", "f16"}, "want f32 or f64"},
		{[]string{"probe", "../../testdata/bert-random-realtok", "--ids", "101", "--greedy", "2"}, "causal"},
		{[]string{"probe", "../../testdata/no-such-model", "--ids", "1"}, "no-such-model"},
	}
	for _, c := range cases {
		_, _, err := growExec(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}
