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
	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/ferrybackup/ferry/bus/natsconf"
	"go.uber.org/fx"
)

// Director runs the embedded NATS server (unless the configuration names an
// external one) and the director. It provides BusURL for agents started in
// the same process (ferry dev).
func Director(cfg *config.Director) fx.Option {
	return fx.Module("director",
		fx.Supply(cfg),
		fx.Provide(loadDirectorSecurity),
		fx.Provide(natsServer),
		fx.Invoke(runDirector),
	)
}

// natsServer starts the embedded server in a start hook and yields its URL.
func natsServer(lc fx.Lifecycle, cfg *config.Director, sec *directorSecurity, log *slog.Logger) (BusURL, *urlBox) {
	box := &urlBox{}
	if cfg.NATSURL != "" {
		box.url = cfg.NATSURL
		return BusURL(cfg.NATSURL), box
	}
	var srv *embedded.Server
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			conf, err := hubConfig(cfg, sec)
			if err != nil {
				return err
			}
			ec := embedded.Config{
				Listen: cfg.NATSListen, DataDir: filepath.Join(cfg.DataDir, "nats"), JetStream: true, Name: cfg.Name, ConfText: conf,
			}
			if !sec.insecure {
				ec.Authorize, ec.LeafPin, ec.KeyOf = authorizer(sec.ring), leafPinner(sec.ring), certKey
				passive := map[string]bool{}
				for _, c := range cfg.Clients {
					passive[c.Name] = c.Passive
				}
				cutOnChange(sec.ring, func() *embedded.Server { return srv }, passive, log)
			}
			srv, err = embedded.Start(ec, log)
			if err != nil {
				return err
			}
			box.url, box.links, box.hub = srv.ClientURL(), linksOf(srv), srv
			if sec.serverTLS != nil {
				box.url = strings.Replace(box.url, "nats://", "tls://", 1)
			}
			log.Info("embedded NATS server started", "url", box.url, "passive_links", len(srv.Links()), "tls", sec.serverTLS != nil)
			return nil
		},
		OnStop: func(context.Context) error { srv.Shutdown(); return nil },
	})
	return BusURL("nats://" + cfg.NATSListen), box
}

// hubConfig is the embedded server's configuration: accounts, TLS, and a
// leafnode remote for every passive client.
func hubConfig(cfg *config.Director, sec *directorSecurity) (string, error) {
	srv := natsconf.Server{Name: cfg.Name, Listen: cfg.NATSListen, StoreDir: filepath.Join(cfg.DataDir, "nats"),
		CustomAuth: !sec.insecure, TLS: sec.serverTLS}
	for _, c := range cfg.Clients {
		if !c.Passive {
			continue
		}
		pw, err := config.ReadSecret(c.LeafPasswordFile)
		if err != nil {
			return "", fmt.Errorf("client %s: leaf_password_file: %w", c.Name, err)
		}
		srv.Passive = append(srv.Passive, natsconf.Passive{Name: c.Name, Address: c.Address, LeafPort: c.LeafPort, Password: pw})
	}
	return natsconf.Config(srv)
}

// linksOf adapts the hub's leafnode links to the director's view, by
// client name.
func linksOf(srv *embedded.Server) director.Links {
	return func() []director.LinkStatus {
		var out []director.LinkStatus
		for _, l := range srv.Links() {
			out = append(out, director.LinkStatus{
				Client: strings.TrimPrefix(l.Account, natsconf.PassiveAccount("")), Up: l.Up, Since: l.Since, LastError: l.LastError,
			})
		}
		return out
	}
}

// urlBox carries the embedded server's real URL (its port may be chosen at
// start) and its link reporter to hooks that run after it.
type urlBox struct {
	url   string
	links director.Links
	hub   *embedded.Server // nil with an external server
}

func runDirector(lc fx.Lifecycle, sh fx.Shutdowner, cfg *config.Director, sec *directorSecurity, box *urlBox, log *slog.Logger) {
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
		opts := bus.Options{Name: "director " + cfg.Name, Retry: true}
		if !sec.insecure {
			caFile := cfg.CAFile
			if caFile == "" && box.hub != nil {
				caFile = cfg.TLSCertFile // its own hub's certificate, trusted as is
			}
			t, err := pki.ClientTLS(caFile)
			if err != nil {
				return nil, err
			}
			opts.Key, opts.Sign, opts.TLS = sec.id.PublicKey(), sec.id.Sign, t
		}
		if conn, err = bus.Connect(box.url, opts, log); err != nil {
			return nil, err
		}
		d := director.New(cfg, cat, conn, log.With("agent", "director"))
		d.SetLinks(box.links)
		if !sec.insecure {
			ds := director.Security{Ring: sec.ring}
			if box.hub != nil {
				ds.Audit = box.hub.Audit
			}
			d.SetSecurity(ds)
		}
		return d, nil
	}, func() {
		conn.Close()
		cat.Close()
	})
}
