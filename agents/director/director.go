package director

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
)

// Director runs jobs against one configuration and catalog.
type Director struct {
	cfg      *config.Director
	cat      catalog.Catalog
	bus      *bus.Conn
	log      *slog.Logger
	now      func() time.Time
	presence *presence
	started  time.Time
	links    Links
	sec      Security

	ctx     context.Context // jobs run under it; set by Run
	mu      sync.Mutex
	running map[int64]*runningJob
	wg      sync.WaitGroup
}

// New returns a Director. Run starts it.
func New(cfg *config.Director, cat catalog.Catalog, conn *bus.Conn, log *slog.Logger) *Director {
	return &Director{
		cfg: cfg, cat: cat, bus: conn, log: log, now: func() time.Time { return time.Now().UTC() },
		presence: newPresence(), running: map[int64]*runningJob{},
	}
}

// Run serves the console and agents until ctx ends, then fails the jobs
// still running ("director shutting down") and returns.
func (d *Director) Run(ctx context.Context) error {
	d.ctx, d.started = ctx, d.now()
	if err := d.ensureEventStream(ctx); err != nil {
		return err
	}
	if err := d.failLeftovers(ctx); err != nil {
		return err
	}
	subs, err := d.subscribe(ctx)
	if err != nil {
		return err
	}
	if err := d.bus.Flush(ctx); err != nil {
		return err
	}
	d.log.Info("director ready", "name", d.cfg.Name, "nats", d.bus.URL(),
		"clients", len(d.cfg.Clients), "storages", len(d.cfg.Storages), "jobs", len(d.cfg.Jobs))
	<-ctx.Done()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	d.wg.Wait()
	return nil
}

func (d *Director) subscribe(ctx context.Context) ([]*nats.Subscription, error) {
	return bus.Serve(ctx, d.bus,
		bus.On(schemas.APIRun, schemas.APIRun.Wildcard(), d.apiRun),
		bus.On(schemas.APIRestore, schemas.APIRestore.Wildcard(), d.apiRestore),
		bus.On(schemas.APICancel, schemas.APICancel.Wildcard(), d.apiCancel),
		bus.On(schemas.APIJobs, schemas.APIJobs.Wildcard(), d.apiJobs),
		bus.On(schemas.APIJob, schemas.APIJob.Wildcard(), d.apiJob),
		bus.On(schemas.APIStatus, schemas.APIStatus.Wildcard(), d.apiStatus),
		bus.On(schemas.APIAgents, schemas.APIAgents.Wildcard(), d.apiAgents),
		bus.On(schemas.APIDecide, schemas.APIDecide.Wildcard(), d.apiDecide),
		bus.On(schemas.Enrol, schemas.Enrol.Wildcard(), d.onEnrol),
		bus.On(schemas.DirReport, schemas.DirReport.Wildcard(), d.onReport),
		bus.On(schemas.DirFiles, schemas.DirFiles.Wildcard(), d.onFiles),
		bus.On(schemas.DirLog, schemas.DirLog.Wildcard(), d.onLog),
		bus.Listen(schemas.JobProgress, schemas.JobProgress.Wildcard(), d.onProgress),
		bus.Listen(schemas.Presence, schemas.Presence.Wildcard(), func(_ string, hb schemas.Heartbeat) {
			d.presence.saw(hb, d.now())
		}),
	)
}

// failLeftovers ends jobs a previous director process left unfinished.
func (d *Director) failLeftovers(ctx context.Context) error {
	jobs, err := d.cat.Unfinished(ctx)
	if err != nil {
		return fmt.Errorf("catalog: unfinished jobs: %w", err)
	}
	for _, j := range jobs {
		if d.resume(j) {
			continue
		}
		r := catalog.Result{Status: catalog.StatusFailed, Reason: "director restarted while the job ran", Ended: d.now()}
		if err := d.cat.EndJob(ctx, j.ID, r); err != nil {
			return fmt.Errorf("catalog: end job %d: %w", j.ID, err)
		}
		d.wg.Add(1)
		go d.abortWhenSeen(j, r.Reason)
		j.Status, j.Reason = r.Status, r.Reason
		d.publish(j, schemas.EventFailed, func(ev *schemas.JobEvent) { ev.Status, ev.Reason = string(r.Status), r.Reason })
		d.log.Warn("job left running by a previous director failed", "job", j.ID)
	}
	return nil
}

// abortWhenSeen tells the agents of a job left by a previous director
// process to abort it, once each is back on the bus (they reconnect on
// their own after a restart of the embedded server), for up to a minute.
func (d *Director) abortWhenSeen(j catalog.Job, reason string) {
	defer d.wg.Done()
	pending := map[string]string{"sd": j.Storage, "fd": j.Client}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(time.Minute)
	for len(pending) > 0 {
		for role, name := range pending {
			if _, online := d.presence.lookup(role, name, d.now()); online && d.abortOne(j.ID, role, name, reason) {
				delete(pending, role)
			}
		}
		select {
		case <-t.C:
		case <-deadline:
			d.log.Warn("could not tell agents to abort a job left running", "job", j.ID, "agents", fmt.Sprint(pending))
			return
		case <-d.ctx.Done():
			return
		}
	}
}

// abortOne sends one abort; true when the agent answered.
func (d *Director) abortOne(job int64, role, name, reason string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := schemas.AbortJob{JobID: job, Reason: reason, Status: "failed"}
	var err error
	if role == "sd" {
		_, err = bus.Request(ctx, d.bus, schemas.SDAbort, msg, name)
	} else {
		_, err = bus.Request(ctx, d.bus, schemas.FDAbort, msg, name)
	}
	if err == nil {
		d.log.Info("agent told to abort a job left running", "job", job, "role", role, "agent", name)
	}
	return err == nil
}

// ensureEventStream creates the event stream, retrying for a minute: a
// freshly started NATS cluster answers JetStream requests only once it has
// elected its leader.
func (d *Director) ensureEventStream(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := bus.EnsureEventStream(ctx, d.bus, d.cfg.EventsMaxAge, d.cfg.EventsMaxBytes)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		d.log.Warn("event stream not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
