package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/fd"
	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/ferrybackup/ferry/agents/sd"
	"github.com/ferrybackup/ferry/cmd/internal/wiring"
	"github.com/spf13/cobra"
	"go.uber.org/fx"
)

// stopGrace is how long a daemon drains after SIGTERM; a second signal
// exits at once.
const stopGrace = 30 * time.Second

type daemonOptions struct{ configPath string }

func (o *daemonOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.configPath, "config", "c", "", "configuration file (required)")
	_ = cmd.MarkFlagRequired("config")
}

func newDirectorCommand(g *globalOptions) *cobra.Command {
	o := &daemonOptions{}
	cmd := &cobra.Command{
		Use:   "director --config FILE",
		Short: "Run the director: configuration, catalog, jobs, and (by default) the embedded NATS server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadDirector(o.configPath)
			if err != nil {
				return err
			}
			return runApp(wiring.App(g.logger(), wiring.Director(cfg)))
		},
	}
	o.addFlags(cmd)
	return cmd
}

func newSDCommand(g *globalOptions) *cobra.Command {
	o := &daemonOptions{}
	cmd := &cobra.Command{
		Use:   "sd --config FILE",
		Short: "Run a storage daemon: writes and reads backup volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadStorageDaemon(o.configPath)
			if err != nil {
				return err
			}
			log := g.logger()
			sec, err := wiring.LoadAgentSecurity(config.KindStorageDaemon, cfg.Name, cfg.Security, log)
			if err != nil {
				return err
			}
			return runApp(wiring.App(log, wiring.External(cfg.NATSURL), wiring.StorageDaemon(sdConfig(cfg), sec)))
		},
	}
	o.addFlags(cmd)
	return cmd
}

func newFDCommand(g *globalOptions) *cobra.Command {
	o := &daemonOptions{}
	cmd := &cobra.Command{
		Use:   "fd --config FILE",
		Short: "Run a file daemon on a client: reads files for backups, writes them on restores",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadFileDaemon(o.configPath)
			if err != nil {
				return err
			}
			link := wiring.FDLink{LeafListen: cfg.LeafListen}
			if cfg.Passive {
				if link.LeafPassword, err = config.ReadSecret(cfg.LeafPasswordFile); err != nil {
					return fmt.Errorf("file_daemon %q: leaf_password_file: %w", cfg.Name, err)
				}
			}
			log := g.logger()
			sec, err := wiring.LoadAgentSecurity(config.KindFileDaemon, cfg.Name, cfg.Security, log)
			if err != nil {
				return err
			}
			if cfg.LeafCertFile != "" && !sec.Insecure {
				if sec.LeafTLS, err = pki.ServerTLS(cfg.LeafCertFile, cfg.LeafKeyFile); err != nil {
					return fmt.Errorf("file_daemon %q: %w", cfg.Name, err)
				}
			}
			return runApp(wiring.App(log, wiring.External(cfg.NATSURL), wiring.FileDaemon(fdConfig(cfg), link, sec)))
		},
	}
	o.addFlags(cmd)
	return cmd
}

func sdConfig(c *config.StorageDaemon) sd.Config {
	return sd.Config{Name: c.Name, DataListen: c.DataListen, VolumeDir: c.VolumeDir, VolumeMaxBytes: c.VolumeMaxBytes, Version: version}
}

func fdConfig(c *config.FileDaemon) fd.Config {
	return fd.Config{Name: c.Name, DataListen: c.DataListen, Passive: c.Passive, Version: version}
}

// runApp starts app, waits for SIGINT/SIGTERM (or a daemon's failure),
// then stops it within stopGrace; a second signal exits at once.
func runApp(app *fx.App) error {
	startCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
	sig := <-app.Wait()
	force := make(chan os.Signal, 1)
	signal.Notify(force, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-force; fmt.Fprintln(os.Stderr, "ferry: second signal, exiting now"); os.Exit(exitError) }()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), stopGrace)
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if sig.ExitCode != 0 {
		return fmt.Errorf("daemon stopped after an error (see the log)")
	}
	return nil
}
