package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

type restoreOptions struct {
	job     int64
	to      string
	client  string
	paths   []string
	replace string
	wait    bool
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore --job ID --to DIR",
		Short: "Restore a backup job (or selected paths) to a folder on a client",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRestore(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.job, "job", 0, "id of the backup job to restore (required)")
	f.StringVar(&o.to, "to", "", "absolute folder on the client that receives the files (required)")
	f.StringVar(&o.client, "client", "", "client that receives the files (default: the one backed up)")
	f.StringArrayVar(&o.paths, "path", nil, "restore only this stored path and what lies below it (repeatable)")
	f.StringVar(&o.replace, "replace", "never", "existing files: never, ifnewer or always")
	f.BoolVar(&o.wait, "wait", false, "wait for the job to end; exit non-zero unless it ended ok")
	_ = cmd.MarkFlagRequired("job")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func runRestore(ctx context.Context, g *globalOptions, o *restoreOptions) error {
	if !filepath.IsAbs(o.to) {
		return &usageError{msg: fmt.Sprintf("--to %q: give an absolute folder on the client", o.to)}
	}
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	req := schemas.RestoreRequest{BackupJob: o.job, Client: o.client, Target: []byte(o.to), Replace: o.replace}
	for _, p := range o.paths {
		req.Paths = append(req.Paths, []byte(p))
	}
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	reply, err := bus.Request(rctx, conn, schemas.APIRestore, req)
	if err != nil {
		return directorErr(err)
	}
	if !o.wait {
		fmt.Printf("job %d started\n", reply.JobID)
		return nil
	}
	return waitJob(ctx, conn, reply.JobID)
}
