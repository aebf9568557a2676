package wiring

import (
	"context"
	"log/slog"

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

// FileDaemon runs an fd that dials the bus at the BusURL in the graph.
func FileDaemon(cfg fd.Config) fx.Option {
	return fx.Module("fd-"+cfg.Name, fx.Invoke(func(lc fx.Lifecycle, sh fx.Shutdowner, box *urlBox, log *slog.Logger) {
		log = log.With("agent", "fd", "name", cfg.Name)
		var conn *bus.Conn
		launch(lc, sh, log, "file daemon", func(context.Context) (runner, error) {
			var err error
			if conn, err = bus.Connect(box.url, bus.Options{Name: "fd " + cfg.Name, Retry: true}, log); err != nil {
				return nil, err
			}
			return fd.New(cfg, conn, log)
		}, func() { conn.Close() })
	}))
}

// External supplies the bus URL for a daemon that runs without a director
// in its process.
func External(url string) fx.Option {
	return fx.Supply(&urlBox{url: url})
}
