package main

import (
	"fmt"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/spf13/cobra"
)

func newConfigCommand(_ *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with configuration files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Validate configuration files; every problem is listed with file:line:col and key",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var all config.Problems
			for _, path := range args {
				kind, err := config.Check(path)
				if err != nil {
					if ps, ok := err.(config.Problems); ok {
						all = append(all, ps...)
						continue
					}
					return err
				}
				fmt.Printf("%s: ok (%s)\n", path, kind)
			}
			if len(all) > 0 {
				return all
			}
			return nil
		},
	})
	return cmd
}
