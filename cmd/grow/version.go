package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is grow's version, recorded in every checkpoint grow writes. A
// release build sets it with -ldflags "-X main.version=v1.2.3".
var version = "0.1.0-dev"

// versionText is what grow version and grow --version print: grow's version,
// the commit it was built from (when the build recorded one) and the Go
// toolchain.
func versionText() string {
	commit := "unknown (built without version control information)"
	if info, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (with uncommitted changes)"
				}
			}
		}
		if rev != "" {
			commit = rev + modified
		}
	}
	return fmt.Sprintf("grow %s\ncommit %s\n%s %s/%s", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print grow's version, the commit it was built from and the Go version",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionText())
			return err
		},
	}
}
