package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ferrybackup/ferry/agents/enrol"
	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/spf13/cobra"
)

// globalOptions are the flags every command has.
type globalOptions struct {
	natsURL  string
	logLevel string
	timeout  time.Duration
	// The console's identity on the bus.
	identity    string
	caFile      string
	insecure    bool
	consoleName string
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Ferry network backup: daemons and console",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })
	f := root.PersistentFlags()
	f.StringVar(&g.natsURL, "nats", envOr("FERRY_NATS", "nats://127.0.0.1:4222"), "NATS URL of the director's bus (env FERRY_NATS)")
	f.StringVar(&g.logLevel, "log-level", envOr("FERRY_LOG_LEVEL", "info"), "daemon log level: debug, info, warn, error")
	f.DurationVar(&g.timeout, "timeout", 10*time.Second, "console: how long to wait for the director's reply")
	f.StringVar(&g.identity, "identity", os.Getenv("FERRY_IDENTITY"), "console: the key file this console signs in with (env FERRY_IDENTITY)")
	f.StringVar(&g.caFile, "ca", os.Getenv("FERRY_CA"), "console: CA certificate that signed the NATS server's (env FERRY_CA; default: the system's roots)")
	f.BoolVar(&g.insecure, "insecure", os.Getenv("FERRY_INSECURE") == "1", "console: plain text without a key, for a director that runs insecure (env FERRY_INSECURE=1)")
	f.StringVar(&g.consoleName, "name", envOr("FERRY_CONSOLE_NAME", os.Getenv("USER")), "console: the name a new key enrols with (env FERRY_CONSOLE_NAME)")
	root.AddCommand(
		newDirectorCommand(g), newSDCommand(g), newFDCommand(g), newDevCommand(g),
		newRunCommand(g), newRestoreCommand(g), newCancelCommand(g), newJobsCommand(g), newJobCommand(g),
		newStatusCommand(g), newWatchCommand(g), newConfigCommand(g), newVolumeCommand(g), newAgentsCommand(g),
	)
	root.AddCommand(newNATSCommand(g))
	root.AddCommand(newKeyCommand(g))
	root.AddCommand(newCACommand(g), newCertCommand(g))
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (g *globalOptions) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(g.logLevel))); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// console connects a console to the bus, failing fast, and checks that
// the director lets its key in.
func (g *globalOptions) console(ctx context.Context) (*bus.Conn, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	opts := bus.Options{Name: "console"}
	if !g.insecure {
		if g.identity == "" {
			return nil, &usageError{msg: "the console needs its key: --identity FILE or FERRY_IDENTITY (make one with `ferry key new`), or --insecure for a director that runs insecure"}
		}
		id, err := identity.Load(g.identity)
		if err != nil {
			return nil, err
		}
		t, err := pki.ClientTLS(g.caFile)
		if err != nil {
			return nil, err
		}
		opts.Key, opts.Sign, opts.TLS = id.PublicKey(), id.Sign, t
		opts.Name = "console " + g.consoleName
	}
	c, err := bus.Connect(g.natsURL, opts, log)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (is the director running? set --nats or FERRY_NATS; is this console's key accepted?)", errNoBus, err)
	}
	if !g.insecure {
		name := g.consoleName
		if schemas.CheckToken(name) != nil {
			name = "console"
		}
		if err := enrol.Check(ctx, c, schemas.EnrolRequest{Role: "console", Name: name, Version: version}); err != nil {
			c.Close()
			if errors.Is(err, enrol.ErrPending) {
				return nil, fmt.Errorf("%w: this console's key %s is new to the director and waits for an operator: ferry agents accept %s", errNotLetIn, opts.Key, name)
			}
			return nil, fmt.Errorf("%w: %v", errNotLetIn, err)
		}
	}
	return c, nil
}

func (g *globalOptions) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, g.timeout)
}
