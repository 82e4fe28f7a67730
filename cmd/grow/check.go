package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO: placeholder; the implementation replaces this file.
func newCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "check",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("check: not implemented yet") },
	}
}
