package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/nats-io/nats.go"

	"github.com/ferrybackup/ferry/agents/fd"
	"github.com/ferrybackup/ferry/agents/sd"
	"github.com/ferrybackup/ferry/bus"
	"go.uber.org/fx"
)

// StorageDaemon runs an sd that dials the bus at the BusURL in the graph.
func StorageDaemon(cfg sd.Config) fx.Option {
	return fx.Module("sd-"+cfg.Name, fx.Invoke(func(lc fx.Lifecycle, sh fx.Shutdowner, box *urlBox, log *slog.Logger) {
		log = log.With("agent", "sd", "name", cfg.Name)
		var conn *bus.Conn
		launch(lc, sh, log, "storage daemon", func(context.Context) (runner, error) {
			var err error
			if conn, err = bus.Connect(box.url, bus.Options{Name: "sd " + cfg.Name, Retry: true}, log); err != nil {
				return nil, err
			}
			return sd.New(cfg, conn, log)
		}, func() { conn.Close() })
	}))
}

// FDLink is how a file daemon reaches the bus: an active one dials the
// BusURL in the graph; a passive one dials nothing and runs its own NATS
// server with a leafnode listener that the NATS side dials.
type FDLink struct {
	LeafListen   string // passive: leafnode host:port
	LeafPassword string // passive: the password the NATS side must present
}

// FileDaemon runs an fd.
func FileDaemon(cfg fd.Config, link FDLink) fx.Option {
	return fx.Module("fd-"+cfg.Name, fx.Invoke(func(lc fx.Lifecycle, sh fx.Shutdowner, box *urlBox, log *slog.Logger) {
		log = log.With("agent", "fd", "name", cfg.Name)
		var conn *bus.Conn
		var leaf *embedded.Server
		done := make(chan struct{})
		launch(lc, sh, log, "file daemon", func(context.Context) (runner, error) {
			var err error
			if cfg.Passive {
				leaf, conn, err = passiveBus(cfg.Name, link, done, log)
			} else {
				conn, err = bus.Connect(box.url, bus.Options{Name: "fd " + cfg.Name, Retry: true}, log)
			}
			if err != nil {
				return nil, err
			}
			return fd.New(cfg, conn, log)
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
func passiveBus(name string, link FDLink, done <-chan struct{}, log *slog.Logger) (*embedded.Server, *bus.Conn, error) {
	leaf, err := embedded.StartLeaf(embedded.LeafConfig{Name: "fd-" + name, Listen: link.LeafListen, User: name, Password: link.LeafPassword}, log)
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
