package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ferrybackup/ferry/agents/config"
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
	bw      string
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
	f.StringVar(&o.bw, "bandwidth", "", "cap the data socket, bytes per second (e.g. 10MiB)")
	_ = cmd.MarkFlagRequired("job")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func runRestore(ctx context.Context, g *globalOptions, o *restoreOptions) error {
	if !filepath.IsAbs(o.to) {
		return &usageError{msg: fmt.Sprintf("--to %q: give an absolute folder on the client", o.to)}
	}
	bw, err := parseBandwidth(o.bw)
	if err != nil {
		return err
	}
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	req := schemas.RestoreRequest{BackupJob: o.job, Client: o.client, Target: []byte(o.to), Replace: o.replace, BandwidthBps: bw}
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

func parseBandwidth(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := config.ParseSize(s)
	if err != nil || n < 0 {
		return 0, &usageError{msg: fmt.Sprintf("--bandwidth %q: give bytes per second such as 10MiB", s)}
	}
	return n, nil
}
