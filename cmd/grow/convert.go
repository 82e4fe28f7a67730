package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO: placeholder; the implementation replaces this file.
func newConvertCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "convert",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("convert: not implemented yet") },
	}
}
