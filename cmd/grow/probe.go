package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO: placeholder; the implementation replaces this file.
func newProbeCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "probe",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("probe: not implemented yet") },
	}
}
