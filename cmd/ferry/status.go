package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

func newStatusCommand(g *globalOptions) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the director, its storages and clients: online, last seen",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), g, verbose) },
	}
	cmd.Flags().BoolVar(&verbose, "all", false, "also list agents that heartbeat but are not configured")
	return cmd
}

func runStatus(ctx context.Context, g *globalOptions, verbose bool) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	st, err := bus.Request(rctx, conn, schemas.APIStatus, schemas.StatusRequest{Verbose: verbose})
	if err != nil {
		return directorErr(err)
	}
	fmt.Printf("Director %s: up since %s, bus %s, %d jobs running\n\n", st.Director, when(st.Started), st.NATS, st.Running)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNAME\tMODE\tSTATE\tLAST SEEN\tDATA ADDRESS\tBUS LINK\tKEY\tVERSION")
	for _, a := range st.Agents {
		mode := "-"
		if a.Role == "fd" {
			mode = "active"
			if a.Passive {
				mode = "passive"
			}
		}
		state := "offline"
		if a.Online {
			state = "online"
		}
		if !a.Configured {
			state += " (not configured)"
		}
		addr := a.Address
		if mode == "active" {
			addr = "- (dials the sd)"
		}
		key := a.KeyState
		if key == "" {
			key = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Role, a.Name, mode, state, ago(a.LastSeen), addr, busLink(a), key, a.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.Security == "insecure" {
		fmt.Println("Security: INSECURE (plain text, no keys): the director's configuration says insecure = true")
	} else if st.Security != "" {
		au := st.Audit
		fmt.Printf("Security: TLS and keys; %d keys pending (ferry agents list); refused since start: %d connections, %d unknown keys, %d rejected or revoked keys, %d permission violations\n",
			st.Pending, au.RejectedConnections, au.UnknownKeys, au.RefusedKeys, au.PermissionViolations)
	}
	for _, a := range st.Agents {
		if a.LinkError != "" {
			fmt.Printf("%s %s: bus link down since %s: %s\n", a.Role, a.Name, when(a.LinkSince), a.LinkError)
		}
		if a.Mismatch != "" {
			fmt.Printf("%s %s: configuration mismatch: %s\n", a.Role, a.Name, a.Mismatch)
		}
	}
	return nil
}

func ago(ns int64) string {
	if ns == 0 {
		return "never"
	}
	return time.Since(time.Unix(0, ns)).Round(100*time.Millisecond).String() + " ago"
}

// busLink: a passive client's link is dialed by the NATS side; an active
// agent dials the bus itself.
func busLink(a schemas.AgentStatus) string {
	switch {
	case a.Link == "":
		return "dials NATS"
	case a.LinkSince != 0:
		return a.Link + " since " + when(a.LinkSince)
	}
	return a.Link
}
