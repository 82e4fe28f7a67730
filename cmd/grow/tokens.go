package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/grow-ml/grow/tokens"
	"github.com/spf13/cobra"
)

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens COMMAND",
		Short: "Tokenize, and extend a model's vocabulary",
		Long: `tokens works with a model directory's Hugging Face tokenizer.json in pure Go:
encode prints the ids (and pieces) of a text as Hugging Face's tokenizers give them,
decode turns ids back into text, add extends a model's vocabulary and initializes the
new rows, eval measures an extension on a text before any training.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newTokensEncodeCmd(), newTokensDecodeCmd(), newTokensAddCmd(), newTokensEvalCmd())
	return cmd
}

// loadTokenizer reads the tokenizer.json of a model directory (or the file
// itself).
func loadTokenizer(path string) (*tokens.Encoder, error) {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return tokens.ParseEncoder(b, path)
	}
	if _, err := os.Stat(filepath.Join(path, tokens.TokenizerJSON)); err != nil {
		if _, serr := os.Stat(path); serr != nil {
			return nil, fmt.Errorf("%s: %w", path, serr)
		}
		return nil, fmt.Errorf("%s: no %s: grow tokenizes with a Hugging Face tokenizer.json", path, tokens.TokenizerJSON)
	}
	return tokens.Load(path)
}

// readTextFlag returns --text, or the contents of --text-file.
func readTextFlag(text, file string, textSet bool) (string, error) {
	switch {
	case textSet && file != "":
		return "", usagef("--text and --text-file: give one")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return string(b), nil
	case !textSet:
		return "", usagef(`no text: give --text "..." or --text-file FILE`)
	}
	return text, nil
}

func newTokensEncodeCmd() *cobra.Command {
	var (
		text, textFile, textsFile string
		asJSON, noSpec            bool
	)
	cmd := &cobra.Command{
		Use:   `encode MODEL --text "..."`,
		Short: "Print the token ids (and pieces) of a text",
		Long: `encode tokenizes a text with MODEL's tokenizer.json (MODEL is the model directory or
the file) as Hugging Face's tokenizers library does, with the special tokens its
post-processor adds (BOS, [CLS] ... [SEP]) unless --no-special-tokens is given, and prints
one token per line: id and piece (the vocabulary string, quoted). --json prints
{"ids": [...]} instead. --texts-file FILE encodes every string of a JSON array and
prints one {"ids": [...]} line for each (to compare many texts with another
implementation in one run).`,
		Args: exactArgs("MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if textsFile != "" {
				if cmd.Flags().Changed("text") || textFile != "" {
					return usagef("--texts-file encodes a JSON array of texts: give it without --text or --text-file")
				}
				b, err := os.ReadFile(textsFile)
				if err != nil {
					return err
				}
				var texts []string
				if err := json.Unmarshal(b, &texts); err != nil {
					return fmt.Errorf("--texts-file %s: want a JSON array of strings: %w", textsFile, err)
				}
				e, err := loadTokenizer(args[0])
				if err != nil {
					return err
				}
				w := bufio.NewWriter(cmd.OutOrStdout())
				for _, t := range texts {
					if err := writeIDsJSON(w, e.IDs(t, !noSpec)); err != nil {
						return err
					}
				}
				return w.Flush()
			}
			s, err := readTextFlag(text, textFile, cmd.Flags().Changed("text"))
			if err != nil {
				return err
			}
			e, err := loadTokenizer(args[0])
			if err != nil {
				return err
			}
			ts := e.Encode(s, !noSpec)
			out := cmd.OutOrStdout()
			if asJSON {
				ids := make([]int, len(ts))
				for i, t := range ts {
					ids[i] = t.ID
				}
				return writeIDsJSON(out, ids)
			}
			return writeTokens(out, ts)
		},
	}
	cmd.Flags().StringVar(&text, "text", "", "the text to encode")
	cmd.Flags().StringVar(&textFile, "text-file", "", "read the text to encode from a file")
	cmd.Flags().StringVar(&textsFile, "texts-file", "", `encode every text of a JSON array, one {"ids": [...]} line each`)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"ids": [...]}`)
	cmd.Flags().BoolVar(&noSpec, "no-special-tokens", false, "add no special tokens (BOS, [CLS] ... [SEP])")
	return cmd
}

// writeIDsJSON prints {"ids": [...]} and a newline.
func writeIDsJSON(w io.Writer, ids []int) error {
	if ids == nil {
		ids = []int{}
	}
	b, err := json.Marshal(struct {
		IDs []int `json:"ids"`
	}{ids})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeTokens prints a count and then one token per line: id and quoted piece.
func writeTokens(w io.Writer, ts []tokens.Token) error {
	width := 1
	for _, t := range ts {
		width = max(width, len(strconv.Itoa(t.ID)))
	}
	if _, err := fmt.Fprintf(w, "%d tokens\n", len(ts)); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := fmt.Fprintf(w, "%*d  %s\n", width, t.ID, strconv.Quote(t.Piece)); err != nil {
			return err
		}
	}
	return nil
}

func newTokensDecodeCmd() *cobra.Command {
	var (
		idsFlag  string
		skipSpec bool
	)
	cmd := &cobra.Command{
		Use:   "decode MODEL --ids 1,403,407",
		Short: "Print the text of token ids",
		Long: `decode turns token ids back into text with MODEL's tokenizer.json decoder, as Hugging
Face's tokenizers library does; --skip-special-tokens drops special tokens.`,
		Args: exactArgs("MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(idsFlag)
			if err != nil {
				return usagef("--ids: %w", err)
			}
			e, err := loadTokenizer(args[0])
			if err != nil {
				return err
			}
			for _, id := range ids {
				if _, ok := e.TokenString(id); !ok {
					return fmt.Errorf("id %d is not in %s's vocabulary", id, args[0])
				}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), e.Decode(ids, skipSpec))
			return err
		},
	}
	cmd.Flags().StringVar(&idsFlag, "ids", "", "comma-separated token ids")
	cmd.Flags().BoolVar(&skipSpec, "skip-special-tokens", false, "drop special tokens")
	return cmd
}
