package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

// agentsOptions are the flags of `ferry agents accept|reject|revoke`.
type agentsOptions struct {
	role string
	key  string
}

func newAgentsCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "List identities and accept, reject or revoke agents' and consoles' keys",
		Long: `Every agent and console signs in to the bus with its own key. Keys named in the director's
configuration are let in; a new key asks to be enrolled and waits as pending until an operator
accepts or rejects it; a passive client's key is taken when the NATS side first dials it.
Revoking a key cuts its live links at once.`,
	}
	var state string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the identities the director knows",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgentsList(cmd.Context(), cmd.OutOrStdout(), g, state)
		},
	}
	list.Flags().StringVar(&state, "state", "", "only keys in this state: configured, accepted, pending, rejected, revoked")
	cmd.AddCommand(list)
	for _, action := range []struct{ name, short string }{
		{"accept", "Let a pending (or rejected, or revoked) key in"},
		{"reject", "Refuse a pending key"},
		{"revoke", "Refuse a key that was let in, and cut its live links"},
	} {
		o := &agentsOptions{}
		c := &cobra.Command{
			Use:   action.name + " NAME [--role sd|fd|console] [--key KEY]",
			Short: action.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runAgentsDecide(cmd.Context(), cmd.OutOrStdout(), g, schemas.AgentDecision{Action: action.name, Name: args[0], Role: o.role, Key: o.key})
			},
		}
		c.Flags().StringVar(&o.role, "role", "", "the role, when a name is both an sd and an fd")
		c.Flags().StringVar(&o.key, "key", "", "the key meant, when a name has several")
		cmd.AddCommand(c)
	}
	return cmd
}

func runAgentsList(ctx context.Context, w io.Writer, g *globalOptions, state string) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	rep, err := bus.Request(rctx, conn, schemas.APIAgents, schemas.AgentsRequest{State: state})
	if err != nil {
		return directorErr(err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNAME\tSTATE\tSOURCE\tKEY\tHOST\tFIRST SEEN\tCHANGED")
	for _, k := range rep.Keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Role, k.Name, k.State, k.Source, k.Key, dash(k.Host), when(k.FirstSeen), when(k.Changed))
	}
	return tw.Flush()
}

func runAgentsDecide(ctx context.Context, w io.Writer, g *globalOptions, d schemas.AgentDecision) error {
	conn, err := g.console(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rctx, cancel := g.requestCtx(ctx)
	defer cancel()
	ack, err := bus.Request(rctx, conn, schemas.APIDecide, d)
	if err != nil {
		return directorErr(err)
	}
	_, err = fmt.Fprintln(w, ack.Note)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
