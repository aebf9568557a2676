package fd

import (
	"context"
	"errors"
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

// Config of a file daemon.
type Config struct {
	Name           string
	DataListen     string // passive only: where the sd dials in
	Passive        bool
	ConnectTimeout time.Duration // active only: dialing the sd
	Version        string
	// Identity is this fd's key: its data sockets run TLS with this
	// certificate. Without one, only plain-text jobs can run.
	Identity *identity.Identity
	// Insecure allows plain-text data sockets, for jobs the director
	// marks plain; otherwise such jobs are refused.
	Insecure bool
}

func (c Config) security() datapath.Security {
	return datapath.Security{Identity: c.Identity, Insecure: c.Insecure}
}

// Agent is a running file daemon.
type Agent struct {
	cfg     Config
	bus     *bus.Conn
	log     *slog.Logger
	ln      *datapath.Listener // nil when no data_listen is configured
	started time.Time

	mu   sync.Mutex
	jobs map[int64]*job
}

// New returns an fd; a passive one opens its data listener.
func New(cfg Config, conn *bus.Conn, log *slog.Logger) (*Agent, error) {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	a := &Agent{cfg: cfg, bus: conn, log: log, jobs: map[int64]*job{}, started: time.Now()}
	// A passive fd must listen; an active one listens too when it has a
	// data_listen, so a director that wrongly calls it passive still gets
	// through where the network allows (and the mismatch is reported).
	if cfg.Passive || cfg.DataListen != "" {
		ln, err := datapath.Listen(cfg.DataListen, datapath.RoleFD, cfg.security(), log)
		if err != nil {
			return nil, err
		}
		a.ln = ln
	}
	return a, nil
}

// DataAddr is the bound data address of a passive fd, nil for an active one.
func (a *Agent) DataAddr() net.Addr {
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// Run serves until ctx ends; running jobs are aborted then.
func (a *Agent) Run(ctx context.Context) error {
	subs, err := a.subscribe(ctx)
	if err != nil {
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
	a.log.Info("file daemon ready", "name", a.cfg.Name, "passive", a.cfg.Passive, "data", addrString(a.DataAddr()))
	if a.ln != nil {
		err = a.ln.Serve(ctx)
	} else {
		<-ctx.Done()
	}
	a.abortAll("file daemon shutting down")
	return err
}

func addrString(a net.Addr) string {
	if a == nil {
		return "(active: no listener)"
	}
	return a.String()
}

func (a *Agent) subscribe(ctx context.Context) ([]*nats.Subscription, error) {
	name := a.cfg.Name
	prep, _ := schemas.FDPrepare.Subject(name)
	conn, _ := schemas.FDConnect.Subject(name)
	start, _ := schemas.FDStart.Subject(name)
	abort, _ := schemas.FDAbort.Subject(name)
	return bus.Serve(ctx, a.bus,
		bus.On(schemas.FDPrepare, prep, a.onPrepare),
		bus.On(schemas.FDConnect, conn, a.onConnect),
		bus.On(schemas.FDStart, start, a.onStart),
		bus.On(schemas.FDAbort, abort, a.onAbort),
	)
}

func (a *Agent) heartbeat() schemas.Heartbeat {
	a.mu.Lock()
	n := len(a.jobs)
	a.mu.Unlock()
	addr := ""
	if a.ln != nil {
		addr = a.ln.Addr().String()
	}
	return schemas.Heartbeat{Name: a.cfg.Name, Role: "fd", Version: a.cfg.Version, DataAddr: addr, Passive: a.cfg.Passive,
		Started: a.started.UnixNano(), Jobs: n}
}

func (a *Agent) abortAll(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range a.jobs {
		j.ch.Abort(errors.New(reason))
	}
}
