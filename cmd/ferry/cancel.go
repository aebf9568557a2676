package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

func newCancelCommand(g *globalOptions) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a running job on every daemon; it ends canceled",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return &usageError{msg: fmt.Sprintf("job id %q is not a number", args[0])}
			}
			return runCancel(cmd.Context(), g, id, wait)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the job has ended")
	return cmd
}

func runCancel(ctx context.Context, g *globalOptions, id int64, wait bool) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	if _, err := bus.Request(rctx, conn, schemas.APICancel, schemas.CancelRequest{JobID: id}); err != nil {
		return directorErr(err)
	}
	if !wait {
		fmt.Printf("job %d: cancel requested\n", id)
		return nil
	}
	err = waitJob(ctx, conn, id)
	if jf, ok := err.(*jobFailedError); ok && jf.status == "canceled" {
		return nil // the outcome asked for
	}
	return err
}
