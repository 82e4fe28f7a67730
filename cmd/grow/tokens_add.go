package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/grow-ml/grow/claim"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/tokens"
	"github.com/grow-ml/grow/transform"
	"github.com/spf13/cobra"
)

type tokensAddFlags struct {
	outputFlags
	tokensFile, recipe    string
	tokenList             []string
	mode                  string
	special               bool
	initInput, initOutput string
	pad                   int
	seed                  int64
	dryRun, untie         bool
	// the check of the output, as grow expand's
	noCheck, keepFailed bool
	probes, seqLen      int
}

func newTokensAddCmd() *cobra.Command {
	var f tokensAddFlags
	cmd := &cobra.Command{
		Use:   "add SRC -o OUT (--tokens-file FILE | --token TEXT ... | --recipe RECIPE) [flags]",
		Short: "Add tokens to a model's vocabulary and initialize their rows",
		Long: `add writes a copy of SRC whose tokenizer has new tokens and whose embedding (and
untied output head, and output bias where there is one) has a row for each, initialized
by the method asked for. Old rows are copied bit for bit, so the logits of old tokens do
not change (grow check SRC OUT passes EXACT).

Tokens come from --tokens-file (one token per line, taken as written: " word" with its
leading space is a word after a space in a byte-level BPE such as GPT-2's; SentencePiece
tokenizers mark the start of a word themselves), --token (repeatable), or a recipe
(--recipe, YAML or JSON: per-token modes, methods, special tokens and roles; see
docs/tokens.md).

Modes (--mode): auto (the default) puts a token that is one pre-token into the model
vocabulary, with BPE merges synthesized for it (and the intermediate tokens they need,
which get rows too) and its reachability proven (encoding its text gives its id), and
makes anything else an added token; vocab and added force one. Special tokens (--special)
are always added tokens. New ids follow the largest existing id.

Methods (--init-input, --init-output; a tied model uses --init-input for both unless
--untie writes its head as a tensor of its own):
zero, random (per-dimension N(mean, std) of the old rows, seeded), mean, mvn
(transformers' mean_resizing: N(mean, 1e-9·covariance), sampled without a covariance
matrix), fvt[:mean|first|last|linear-first|linear-last] (the mean of the rows of the
token's pieces under the old tokenizer), copy:TOKEN, mean-of:TOKEN,TOKEN,...,
from-text:TEXT (fvt of a description); with external vectors of strings from a JSON file
(docs/tokens.md): tokenadapt:FILE (TokenAdapt's local + global hybrid), knn:FILE (OFA's and
WECHSEL's softmax over the 10 nearest old tokens), sparsemax:FILE (FOCUS), omp:FILE (a donor
model's embedding rows of the same strings, fitted by mergekit tokensurgeon's orthogonal matching
pursuit). Statistics leave out padding rows beyond the tokenizer and reserved or unused tokens.

--pad-to-multiple-of N rounds the row count up; padding rows are never produced by the
tokenizer and are initialized to the mean (output) or zero (an untied input).
config.json's vocab_size, tokenizer.json, tokenizer_config.json, special_tokens_map.json,
generation_config.json and the slow vocabulary files are kept consistent; a SentencePiece
model file that cannot hold the new tokens is left out (and said so).
embedding_changes.json records, per new row, the token, the method, the constituents
with their weights, the seed and any fallback taken.`,
		Example: `  grow tokens add testdata/stories260k -o /tmp/ext --token went --token Sara
  grow tokens add MODEL -o OUT --tokens-file words.txt --init-input fvt --init-output mean
  grow tokens add MODEL -o OUT --recipe recipe.yaml --pad-to-multiple-of 64`,
		Args: exactArgs("SRC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokensAdd(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f, cmd.Flags().Changed("seed"))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "output directory (required)")
	fl.StringVar(&f.tokensFile, "tokens-file", "", "a file of tokens, one per line")
	fl.StringArrayVar(&f.tokenList, "token", nil, "a token to add (repeatable)")
	fl.StringVar(&f.recipe, "recipe", "", "a recipe (YAML or JSON)")
	fl.StringVar(&f.mode, "mode", "", "auto, vocab or added (default auto)")
	fl.BoolVar(&f.special, "special", false, "the tokens of --token and --tokens-file are special tokens")
	fl.StringVar(&f.initInput, "init-input", "", "method of the input embedding rows (default fvt)")
	fl.StringVar(&f.initOutput, "init-output", "", "method of the output head rows (default mean)")
	fl.IntVar(&f.pad, "pad-to-multiple-of", 0, "round the row count up to a multiple of N")
	fl.Int64Var(&f.seed, "seed", 0, "seed of the random methods")
	fl.BoolVar(&f.untie, "untie", false, "write a tied output head as its own tensor, so that --init-output applies to it")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan only")
	fl.BoolVar(&f.force, "force", false, "replace an existing output directory")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only errors and the check verdict")
	fl.StringVar(&f.maxShardSize, "max-shard-size", "5GB", "largest shard (e.g. 5GB, 500MB)")
	fl.BoolVar(&f.noCheck, "no-check", false, "do not check the result (that the old tokens' logits are unchanged)")
	fl.BoolVar(&f.keepFailed, "keep-failed", false, "keep an output that failed its check, as OUT.failed-check")
	fl.IntVar(&f.probes, "probes", 8, "check: number of random probe sequences (old token ids)")
	fl.IntVar(&f.seqLen, "seq-len", 32, "check: probe sequence length")
	return cmd
}

// readTokensFile reads one token per line, taken as written but for the
// line ending; an empty line is an error.
func readTokensFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSuffix(string(b), "\n")
	var out []string
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("--tokens-file %s: line %d is empty (an empty token)", path, i+1)
		}
		out = append(out, line)
	}
	return out, nil
}

func runTokensAdd(w, stderr io.Writer, src string, f tokensAddFlags, seedSet bool) error {
	if err := probeFlags(f.noCheck || f.dryRun, f.probes, f.seqLen); err != nil {
		return err
	}
	opt := tokens.Options{Mode: f.mode, Input: tokens.Method{Name: tokens.MethodFVT}, Output: tokens.Method{Name: tokens.MethodMean},
		PadToMultipleOf: f.pad, Seed: f.seed}
	switch f.mode {
	case "", tokens.ModeAuto, tokens.ModeVocab, tokens.ModeAdded:
	default:
		return usagef("--mode %q: want auto, vocab or added", f.mode)
	}
	if f.pad < 0 {
		return usagef("--pad-to-multiple-of %d: must not be negative", f.pad)
	}
	var reqs []tokens.Request
	if f.recipe != "" {
		if f.tokensFile != "" || len(f.tokenList) > 0 || f.special {
			return usagef("--recipe lists the tokens: give it without --tokens-file, --token or --special")
		}
		b, err := os.ReadFile(f.recipe)
		if err != nil {
			return err
		}
		r, err := tokens.ParseRecipe(b, f.recipe)
		if err != nil {
			return err
		}
		r.Apply(&opt)
		reqs = r.Requests()
	} else {
		texts := slices.Clone(f.tokenList)
		if f.tokensFile != "" {
			t, err := readTokensFile(f.tokensFile)
			if err != nil {
				return err
			}
			texts = append(texts, t...)
		}
		if len(texts) == 0 {
			return usagef("no tokens: give --tokens-file FILE, --token TEXT or --recipe RECIPE")
		}
		for _, t := range texts {
			reqs = append(reqs, tokens.Request{Text: t, Special: f.special})
		}
	}
	// Flags override a recipe's defaults.
	if f.mode != "" {
		opt.Mode = f.mode
	}
	if f.pad > 0 {
		opt.PadToMultipleOf = f.pad
	}
	if seedSet {
		opt.Seed = f.seed
	}
	for _, m := range []struct {
		flag, val string
		dst       *tokens.Method
	}{{"--init-input", f.initInput, &opt.Input}, {"--init-output", f.initOutput, &opt.Output}} {
		if m.val == "" {
			continue
		}
		meth, err := tokens.ParseMethod(m.val)
		if err != nil {
			return usagef("%s: %w", m.flag, err)
		}
		*m.dst = meth
	}
	if !f.dryRun {
		if err := f.prepare(src); err != nil {
			return err
		}
	}
	ck, g, err := openGraph(src)
	if err != nil {
		return err
	}
	defer ck.Close()
	if g.Embed == nil {
		return fmt.Errorf("%s has no token embedding to extend", src)
	}
	opt.Rows, opt.Tied = g.Vocab, g.Tied || g.Head == nil
	if f.untie {
		if !g.Tied {
			return usagef("--untie: %s's output head is not tied", src)
		}
		opt.Tied = false
	}
	x, err := tokens.Extend(ck.Dir, reqs, opt)
	if err != nil {
		return err
	}
	if !f.quiet || f.dryRun {
		printExtension(w, x, opt)
	}
	if f.dryRun {
		return nil
	}
	d := g.Dims
	d.Vocab = x.Rows
	vocab := transform.NewMap(g.Vocab, x.RowMap(), transform.FillMean, transform.FillZero).
		WithNewRows(func(role string, src transform.RowSource) ([][]float64, error) { return x.NewRows(role, src) })
	plan := &transform.Plan{Operator: "tokens-add", Class: claim.Exact, Dims: d, Untie: f.untie,
		Maps:       map[graph.Axis]*transform.Map{graph.Vocab: vocab},
		Hidden:     claim.HiddenMap{Kind: "tile", Src: g.Hidden, Dst: g.Hidden},
		HiddenText: "identity"}
	res, err := transform.Apply(g, plan)
	if err != nil {
		return err
	}
	entries, err := res.Graph.Entries("")
	if err != nil {
		return err
	}
	entries = transform.Pipeline(res.Graph, entries)
	mapping := claim.Mapping{Operator: plan.Operator, Class: plan.Class, Hidden: plan.Hidden}
	mj, err := json.Marshal(mapping)
	if err != nil {
		return err
	}
	params, err := json.Marshal(map[string]any{"tokens": len(x.Tokens), "rows": x.Rows, "input": opt.Input.String(), "output": opt.Output.String(), "seed": opt.Seed})
	if err != nil {
		return err
	}
	meta := map[string]string{"grow.version": version, "grow.operator": plan.Operator, "grow.params": string(params), claim.MetadataKey: string(mj)}
	cfg := res.Graph.OutputConfig()
	for k, id := range x.ConfigIDs {
		cfg.Set(k, id)
	}
	extra := map[string][]byte{}
	for name, b := range x.Files {
		extra[name] = b
	}
	if extra[tokens.ChangesFile], err = x.Changes(opt.Seed); err != nil {
		return err
	}
	var side []string
	for _, s := range ck.SideFiles {
		if _, ok := extra[s]; !ok && !slices.Contains(x.Drop, s) {
			side = append(side, s)
		}
	}
	ck.SideFiles = side
	staged, err := stageModel(stderr, "tokens add", ck, entries, cfg, "", meta, f.outputFlags, nil, extra)
	if err != nil {
		return err
	}
	if !f.noCheck {
		// The old tokens' logits, on probes of old ids, are the source's.
		ef := expandFlags{outputFlags: f.outputFlags, keepFailed: f.keepFailed, probes: f.probes, seqLen: f.seqLen}
		co := probe.CheckOptions{Probes: f.probes, SeqLen: min(f.seqLen, maxSeq(g)), Seed: 1, Precision: probe.F64}
		interruptNote(fmt.Sprintf("grow tokens add: interrupted during the check; nothing was written to %s", f.out))
		if err := checkExpanded(w, src, g, staged.Path(), ef, co); err != nil {
			return discardFailed(w, staged, ef, err)
		}
	}
	if err := commitModel(stderr, staged, f.outputFlags); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(w, "wrote %s\n", f.out)
	}
	return nil
}

// printExtension prints the plan of an extension: rows, the new tokens with
// their modes and methods, and the notes.
func printExtension(w io.Writer, x *tokens.Extension, opt tokens.Options) {
	vocab, added, inter := 0, 0, 0
	for _, t := range x.Tokens {
		switch {
		case t.Intermediate:
			inter++
		case t.Mode == tokens.ModeVocab:
			vocab++
		default:
			added++
		}
	}
	fmt.Fprintf(w, "rows       %d -> %d (%d vocabulary tokens, %d intermediates, %d added tokens, %d padding rows)\n",
		x.OldRows, x.Rows, vocab, inter, added, len(x.Padding))
	if x.Tied {
		fmt.Fprintf(w, "init       %s (tied: input and output)\n", opt.Input)
	} else {
		fmt.Fprintf(w, "init       input %s, output %s\n", opt.Input, opt.Output)
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "id\ttoken\tmode\tinput\toutput\t")
	for k, id := range x.RowIDs {
		tok, mode := "(padding)", ""
		if len(x.Padding) > 0 && id == x.Padding[0] {
			out := "(tied)"
			if !x.Tied {
				out = rowText(x.Output[k])
			}
			fmt.Fprintf(tw, "%d..%d	(padding)		%s	%s	\n", id, x.Padding[len(x.Padding)-1], rowText(x.Input[k]), out)
			break
		}
		if t, ok := x.Token(id); ok {
			tok, mode = strconv.Quote(t.Form), t.Mode
			if t.Intermediate {
				mode += " (for " + strconv.Quote(t.Of) + ")"
			}
			if t.Special {
				mode += ", special"
			}
		}
		out := "(tied)"
		if !x.Tied {
			out = rowText(x.Output[k])
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", id, tok, mode, rowText(x.Input[k]), out)
	}
	tw.Flush()
	for _, n := range x.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// rowText says how a row is made: the method and its pieces.
func rowText(r tokens.RowInit) string {
	s := r.Method
	if len(r.Tokens) > 0 {
		q := make([]string, len(r.Tokens))
		for i, t := range r.Tokens {
			q[i] = strconv.Quote(t)
		}
		s += " [" + strings.Join(q, " ") + "]"
	}
	if r.Fallback != "" {
		s += " (" + r.Fallback + ")"
	}
	return s
}
