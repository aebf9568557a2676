package sd

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ferrybackup/ferry/agents/heartbeat"
	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
)

// Config of a storage daemon.
type Config struct {
	Name           string
	DataListen     string
	VolumeDir      string
	VolumeMaxBytes int64
	ConnectTimeout time.Duration // dialing a passive client
	Version        string
	// Identity is this sd's key: its data sockets run TLS with this
	// certificate. Without one, only plain-text jobs can run.
	Identity *identity.Identity
	// Insecure allows plain-text data sockets, for jobs the director
	// marks plain; otherwise such jobs are refused.
	Insecure bool
}

// Agent is a running storage daemon.
type Agent struct {
	cfg     Config
	bus     *bus.Conn
	log     *slog.Logger
	ln      *datapath.Listener
	vols    *volumes
	started time.Time

	mu       sync.Mutex
	sessions map[int64]*session
}

// New opens the data listener and the volume folder.
func New(cfg Config, conn *bus.Conn, log *slog.Logger) (*Agent, error) {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	vols, err := openVolumes(cfg.VolumeDir, cfg.Name, cfg.VolumeMaxBytes, log)
	if err != nil {
		return nil, err
	}
	ln, err := datapath.Listen(cfg.DataListen, datapath.RoleSD, cfg.security(), log)
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, bus: conn, log: log, ln: ln, vols: vols, sessions: map[int64]*session{}, started: time.Now()}, nil
}

func (c Config) security() datapath.Security {
	return datapath.Security{Identity: c.Identity, Insecure: c.Insecure}
}

// DataAddr is the bound data listen address.
func (a *Agent) DataAddr() net.Addr { return a.ln.Addr() }

// Run serves until ctx ends; running sessions are aborted then.
func (a *Agent) Run(ctx context.Context) error {
	subs, err := a.subscribe(ctx)
	if err != nil {
		a.ln.Close()
		return err
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	if err := a.bus.Ready(ctx); err != nil {
		if a.ln != nil {
			a.ln.Close()
		}
		return err
	}
	go heartbeat.Run(ctx, a.bus, a.heartbeat, a.log)
	a.log.Info("storage daemon ready", "name", a.cfg.Name, "data", a.ln.Addr().String(), "volumes", a.cfg.VolumeDir)
	err = a.ln.Serve(ctx)
	a.abortAll("storage daemon shutting down")
	a.vols.closeIdle()
	return err
}

func (a *Agent) subscribe(ctx context.Context) ([]*nats.Subscription, error) {
	name := a.cfg.Name
	open, _ := schemas.SDOpen.Subject(name)
	conn, _ := schemas.SDConnect.Subject(name)
	start, _ := schemas.SDStart.Subject(name)
	abort, _ := schemas.SDAbort.Subject(name)
	return bus.Serve(ctx, a.bus,
		bus.On(schemas.SDOpen, open, a.onOpen),
		bus.On(schemas.SDConnect, conn, a.onConnect),
		bus.On(schemas.SDStart, start, a.onStart),
		bus.On(schemas.SDAbort, abort, a.onAbort),
	)
}

func (a *Agent) heartbeat() schemas.Heartbeat {
	a.mu.Lock()
	n := len(a.sessions)
	a.mu.Unlock()
	return schemas.Heartbeat{Name: a.cfg.Name, Role: "sd", Version: a.cfg.Version, DataAddr: a.ln.Addr().String(),
		Started: a.started.UnixNano(), Jobs: n}
}

func (a *Agent) abortAll(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.sessions {
		s.abort(reason)
	}
}
