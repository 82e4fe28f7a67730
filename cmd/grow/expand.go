package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO: placeholder; the implementation replaces this file.
func newExpandCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "expand",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("expand: not implemented yet") },
	}
}
