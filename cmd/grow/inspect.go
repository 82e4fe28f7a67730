package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO: placeholder; the implementation replaces this file.
func newInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "inspect",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("inspect: not implemented yet") },
	}
}
