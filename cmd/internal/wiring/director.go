package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/director"
	"github.com/ferrybackup/ferry/agents/director/catalog/sqlite"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/embedded"
	"go.uber.org/fx"
)

// Director runs the embedded NATS server (unless the configuration names an
// external one) and the director. It provides BusURL for agents started in
// the same process (ferry dev).
func Director(cfg *config.Director) fx.Option {
	return fx.Module("director",
		fx.Supply(cfg),
		fx.Provide(natsServer),
		fx.Invoke(runDirector),
	)
}

// natsServer starts the embedded server in a start hook and yields its URL.
func natsServer(lc fx.Lifecycle, cfg *config.Director, log *slog.Logger) (BusURL, *urlBox) {
	box := &urlBox{}
	if cfg.NATSURL != "" {
		box.url = cfg.NATSURL
		return BusURL(cfg.NATSURL), box
	}
	var srv *embedded.Server
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			var err error
			srv, err = embedded.Start(embedded.Config{
				Listen: cfg.NATSListen, DataDir: filepath.Join(cfg.DataDir, "nats"), JetStream: true, Name: cfg.Name,
			}, log)
			if err != nil {
				return err
			}
			box.url = srv.ClientURL()
			log.Info("embedded NATS server started", "url", box.url)
			return nil
		},
		OnStop: func(context.Context) error { srv.Shutdown(); return nil },
	})
	return BusURL("nats://" + cfg.NATSListen), box
}

// urlBox carries the embedded server's real URL (its port may be chosen at
// start) to hooks that run after it.
type urlBox struct{ url string }

func runDirector(lc fx.Lifecycle, sh fx.Shutdowner, cfg *config.Director, box *urlBox, log *slog.Logger) {
	var conn *bus.Conn
	var cat *sqlite.Catalog
	launch(lc, sh, log, "director", func(context.Context) (runner, error) {
		if strings.HasPrefix(cfg.Catalog, "postgres") {
			return nil, fmt.Errorf("catalog %q: PostgreSQL is not built yet; use a SQLite file path", cfg.Catalog)
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("director data_dir: %w", err)
		}
		var err error
		if cat, err = sqlite.Open(cfg.Catalog); err != nil {
			return nil, fmt.Errorf("open catalog %s: %w", cfg.Catalog, err)
		}
		if conn, err = bus.Connect(box.url, bus.Options{Name: "director " + cfg.Name, Retry: true}, log); err != nil {
			return nil, err
		}
		return director.New(cfg, cat, conn, log.With("agent", "director")), nil
	}, func() {
		conn.Close()
		cat.Close()
	})
}
