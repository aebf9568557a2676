package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

type jobsOptions struct {
	limit  int
	status string
}

func newJobsCommand(g *globalOptions) *cobra.Command {
	o := &jobsOptions{}
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List recent jobs, newest first",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runJobs(cmd.Context(), g, o) },
	}
	cmd.Flags().IntVar(&o.limit, "limit", 50, "at most this many")
	cmd.Flags().StringVar(&o.status, "status", "", "only jobs in this status")
	return cmd
}

func runJobs(ctx context.Context, g *globalOptions, o *jobsOptions) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	reply, err := bus.Request(rctx, conn, schemas.APIJobs, schemas.JobsRequest{Limit: o.limit, Status: o.status})
	if err != nil {
		return directorErr(err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tCLIENT\tSTORAGE\tSTATUS\tFILES\tBYTES\tDATA\tSTARTED")
	for _, j := range reply.Jobs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.Name, j.Kind, j.Client, j.Storage, j.Status,
			j.Files, humanBytes(j.Bytes), direction(j.Initiator), when(j.Started))
	}
	return tw.Flush()
}

func when(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).Local().Format("2006-01-02 15:04:05")
}

func newJobCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "job ID",
		Short: "Show one job: details, who dialed whom, and its log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return &usageError{msg: fmt.Sprintf("job id %q is not a number", args[0])}
			}
			return runJob(cmd.Context(), g, id)
		},
	}
}

func runJob(ctx context.Context, g *globalOptions, id int64) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var first = true
	for from := 0; ; {
		rctx, cancel := g.requestCtx(ctx)
		reply, err := bus.Request(rctx, conn, schemas.APIJob, schemas.JobRequest{JobID: id, LogFrom: from})
		cancel()
		if err != nil {
			return directorErr(err)
		}
		if first {
			printJob(reply.Job)
			first = false
		}
		for _, l := range reply.Log {
			fmt.Printf("  %s %-7s %-12s %s\n", time.Unix(0, l.Time).Local().Format("15:04:05.000"), l.Level, l.Agent, l.Msg)
		}
		if !reply.LogMore {
			return nil
		}
		from += len(reply.Log)
	}
}

func printJob(j schemas.JobSummary) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Job", fmt.Sprintf("%d %s (%s, level %s)", j.ID, j.Name, j.Kind, j.Level))
	row("Client", j.Client)
	row("Storage", j.Storage)
	if j.FileSet != "" {
		row("FileSet", j.FileSet)
	}
	if j.RestoreOf != 0 {
		row("Restore of", fmt.Sprintf("job %d into %q", j.RestoreOf, j.Target))
	}
	row("Status", j.Status)
	if j.Reason != "" {
		row("Reason", j.Reason)
	}
	row("Created", when(j.Created))
	row("Started", when(j.Started))
	row("Ended", when(j.Ended))
	row("Files", strconv.FormatInt(j.Files, 10))
	row("Bytes", fmt.Sprintf("%d (%s)", j.Bytes, humanBytes(j.Bytes)))
	row("Warnings", strconv.FormatInt(j.Warnings, 10))
	if j.Initiator != "" {
		row("Data channel", fmt.Sprintf("%s: %s dialed, from %s to %s", direction(j.Initiator), j.Initiator, j.DialFrom, j.DialTo))
	}
	_ = tw.Flush()
	fmt.Println("Log:")
}
