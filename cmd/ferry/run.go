package main

import (
	"context"
	"fmt"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

type runOptions struct {
	wait  bool
	level string
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Run a configured backup job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for the job to end; exit non-zero unless it ended ok")
	cmd.Flags().StringVar(&o.level, "level", "", "override the job's level")
	return cmd
}

func runRun(ctx context.Context, g *globalOptions, o *runOptions, job string) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	reply, err := bus.Request(rctx, conn, schemas.APIRun, schemas.RunRequest{Job: job, Level: o.level})
	if err != nil {
		return directorErr(err)
	}
	if !o.wait {
		fmt.Printf("job %d started\n", reply.JobID)
		return nil
	}
	return waitJob(ctx, conn, reply.JobID)
}

// directorErr explains a failed console request.
func directorErr(err error) error {
	if isNoResponders(err) {
		return fmt.Errorf("no director answers on the bus: %w", err)
	}
	return err
}
