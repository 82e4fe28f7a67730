package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/grow-ml/grow/tokens/tokeneval"
)

func newTokensEvalCmd() *cobra.Command {
	var (
		textFile, precision string
		asJSON              bool
	)
	cmd := &cobra.Command{
		Use:   "eval SRC EXTENDED --text corpus.txt",
		Short: "Measure a vocabulary extension on a text before any training",
		Long: `eval runs SRC with its own tokenizer and EXTENDED (SRC after grow tokens add) with its
tokenizer on the same text, document by document (documents are separated by blank
lines; each starts with the model's start token, BOS), and reports:

  bits per byte      sum of next-token negative log-likelihoods / (ln 2 · UTF-8 bytes),
                     of each model on its own tokenization, and their ratio
  bytes per token    compression of each tokenizer; how often the new tokens fire
  KL on old tokens   on the text without new tokens (its tokenization by SRC's tokenizer,
                     run through both models): the mean over positions of KL(p_src ‖ p_ext)
                     on the old tokens (log(Z_ext/Z_src) when the old logits are
                     unchanged), and the mean probability mass the new rows take
  unreachable        new vocabulary tokens the extended tokenizer cannot produce

Only causal language models are evaluated.`,
		Args: exactArgs("SRC", "EXTENDED"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if textFile == "" {
				return usagef("no text: give --text corpus.txt")
			}
			prec, err := parsePrecision(precision)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(textFile)
			if err != nil {
				return err
			}
			var sides [2]tokeneval.Model
			for i, path := range args {
				ck, g, err := openGraph(path)
				if err != nil {
					return err
				}
				defer ck.Close()
				sides[i] = tokeneval.Model{Path: path, Graph: g, Dir: ck.Dir}
			}
			rep, err := tokeneval.Extension(sides[0], sides[1], string(b), prec)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			rep.Print(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&textFile, "text", "", "the text (documents separated by blank lines)")
	cmd.Flags().StringVar(&precision, "precision", "f32", "arithmetic of the forward passes: f32 or f64")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
