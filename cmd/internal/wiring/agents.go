package wiring

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/nats-io/nats.go"

	"github.com/ferrybackup/ferry/agents/enrol"
	"github.com/ferrybackup/ferry/agents/fd"
	"github.com/ferrybackup/ferry/agents/sd"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"go.uber.org/fx"
)

// StorageDaemon runs an sd that dials the bus at the BusURL in the graph.
func StorageDaemon(cfg sd.Config, sec AgentSecurity) fx.Option {
	cfg.Identity, cfg.Insecure = sec.Identity, sec.Insecure
	return fx.Module("sd-"+cfg.Name, fx.Invoke(func(lc fx.Lifecycle, sh fx.Shutdowner, box *urlBox, log *slog.Logger) {
		log = log.With("agent", "sd", "name", cfg.Name)
		var conn *bus.Conn
		launch(lc, sh, log, "storage daemon", func(context.Context) (runner, error) {
			opts, err := busOptions("sd "+cfg.Name, sec)
			if err != nil {
				return nil, err
			}
			if conn, err = bus.Connect(box.url, opts, log); err != nil {
				return nil, err
			}
			a, err := sd.New(cfg, conn, log)
			if err != nil {
				return nil, err
			}
			return enrolled(conn, schemas.EnrolRequest{Role: "sd", Name: cfg.Name, Version: cfg.Version, DataAddr: cfg.DataListen}, sec, a, log), nil
		}, func() { conn.Close() })
	}))
}

// enrolled runs r once the director lets the agent's key onto the bus.
func enrolled(conn *bus.Conn, req schemas.EnrolRequest, sec AgentSecurity, r runner, log *slog.Logger) runner {
	if sec.Insecure {
		return r
	}
	req.Host, _ = os.Hostname()
	return runFunc(func(ctx context.Context) error {
		if err := enrol.Wait(ctx, conn, req, log); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		return r.Run(ctx)
	})
}

type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// FDLink is how a file daemon reaches the bus: an active one dials the
// BusURL in the graph; a passive one dials nothing and runs its own NATS
// server with a leafnode listener that the NATS side dials.
type FDLink struct {
	LeafListen   string // passive: leafnode host:port
	LeafPassword string // passive: the password the NATS side must present
}

// FileDaemon runs an fd.
func FileDaemon(cfg fd.Config, link FDLink, sec AgentSecurity) fx.Option {
	cfg.Identity, cfg.Insecure = sec.Identity, sec.Insecure
	return fx.Module("fd-"+cfg.Name, fx.Invoke(func(lc fx.Lifecycle, sh fx.Shutdowner, box *urlBox, log *slog.Logger) {
		log = log.With("agent", "fd", "name", cfg.Name)
		var conn *bus.Conn
		var leaf *embedded.Server
		done := make(chan struct{})
		launch(lc, sh, log, "file daemon", func(context.Context) (runner, error) {
			var err error
			if cfg.Passive {
				leaf, conn, err = passiveBus(cfg.Name, link, sec, done, log)
				if err != nil {
					return nil, err
				}
				// Known by the hub that dials it: no enrolment on the bus.
				return fd.New(cfg, conn, log)
			}
			opts, err := busOptions("fd "+cfg.Name, sec)
			if err != nil {
				return nil, err
			}
			if conn, err = bus.Connect(box.url, opts, log); err != nil {
				return nil, err
			}
			a, err := fd.New(cfg, conn, log)
			if err != nil {
				return nil, err
			}
			return enrolled(conn, schemas.EnrolRequest{Role: "fd", Name: cfg.Name, Version: cfg.Version, DataAddr: cfg.DataListen}, sec, a, log), nil
		}, func() {
			close(done)
			conn.Close()
			if leaf != nil {
				leaf.Shutdown()
			}
		})
	}))
}

// passiveBus starts a passive client's own server (no client port, one
// authenticated leafnode listener) and connects to it in process.
func passiveBus(name string, link FDLink, sec AgentSecurity, done <-chan struct{}, log *slog.Logger) (*embedded.Server, *bus.Conn, error) {
	lc := embedded.LeafConfig{Name: "fd-" + name, Listen: link.LeafListen, User: name, Password: link.LeafPassword}
	switch {
	case sec.Insecure:
	case sec.LeafTLS != nil:
		lc.TLS = sec.LeafTLS
	default:
		cert, err := sec.Identity.Certificate()
		if err != nil {
			return nil, nil, err
		}
		lc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	}
	leaf, err := embedded.StartLeaf(lc, log)
	if err != nil {
		return nil, nil, fmt.Errorf("passive bus link: %w", err)
	}
	conn, err := bus.Connect("", bus.Options{Name: "fd " + name, Extra: []nats.Option{leaf.InProcess()}}, log)
	if err != nil {
		leaf.Shutdown()
		return nil, nil, err
	}
	go watchLeaf(leaf, done, log)
	log.Info("passive: waiting for the NATS side to dial the leafnode listener", "leaf_listen", link.LeafListen)
	return leaf, conn, nil
}

// watchLeaf logs when the hub's link comes and goes (while no hub is linked
// the in-process connection still looks connected).
func watchLeaf(leaf *embedded.Server, done <-chan struct{}, log *slog.Logger) {
	up := false
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		now := leaf.LeafLinks() > 0
		if now != up {
			up = now
			if up {
				log.Info("bus link up: the NATS side dialed in")
			} else {
				log.Warn("bus link down: waiting for the NATS side to dial again")
			}
		}
	}
}

// External supplies the bus URL for a daemon that runs without a director
// in its process.
func External(url string) fx.Option {
	return fx.Supply(&urlBox{url: url})
}
