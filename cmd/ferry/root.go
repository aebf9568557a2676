package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/spf13/cobra"
)

// globalOptions are the flags every command has.
type globalOptions struct {
	natsURL  string
	logLevel string
	timeout  time.Duration
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
	root.AddCommand(
		newDirectorCommand(g), newSDCommand(g), newFDCommand(g), newDevCommand(g),
		newRunCommand(g), newRestoreCommand(g), newCancelCommand(g), newJobsCommand(g), newJobCommand(g),
		newStatusCommand(g), newWatchCommand(g), newConfigCommand(g), newVolumeCommand(g),
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

// console connects a console to the bus, failing fast.
func (g *globalOptions) console(ctx context.Context) (*bus.Conn, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	c, err := bus.Connect(g.natsURL, bus.Options{Name: "console"}, log)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (is the director running? set --nats or FERRY_NATS)", errNoBus, err)
	}
	return c, nil
}

func (g *globalOptions) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, g.timeout)
}
