package director

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
)

// How long the director waits for the second agent's report once the first
// reported a failure, before it aborts the silent one.
const peerReportGrace = 15 * time.Second

// runningJob is a job the director is driving.
type runningJob struct {
	job     catalog.Job
	client  config.Client
	storage config.Storage
	open    schemas.SessionOpen
	prepare schemas.PrepareJob
	reports chan schemas.AgentReport

	limits  limits
	started time.Time       // when the agents were told to prepare
	ctx     context.Context // ends on cancel, max run time, director stop
	cancel  context.CancelCauseFunc

	mu       sync.Mutex
	got      map[string]bool // role → report received
	logSeen  map[string]bool // role/seq → log chunk stored
	progress progressState
}

func newRunningJob(j catalog.Job, c config.Client, s config.Storage) *runningJob {
	return &runningJob{job: j, client: c, storage: s, reports: make(chan schemas.AgentReport, 2),
		got: map[string]bool{}, logSeen: map[string]bool{}}
}

// launch records j in the catalog, publishes "created" and runs it.
func (d *Director) launch(ctx context.Context, rj *runningJob) (int64, error) {
	id, err := d.cat.CreateJob(ctx, rj.job)
	if err != nil {
		return 0, fmt.Errorf("catalog: create job: %w", err)
	}
	rj.job.Created = d.now()
	d.publish(rj.job, schemas.EventCreated, func(ev *schemas.JobEvent) { ev.JobID = id })
	d.note(id, catalog.LevelInfo, "%s job created: client %s, storage %s", rj.job.Kind, rj.client.Name, rj.storage.Name)
	d.start(id, rj)
	return id, nil
}

// start runs a job that has its catalog row.
func (d *Director) start(id int64, rj *runningJob) {
	rj.job.ID, rj.open.JobID, rj.prepare.JobID = id, id, id
	d.mu.Lock()
	d.running[id] = rj
	d.mu.Unlock()
	d.jobContext(rj)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer rj.cancel(nil)
		res, chunks := d.execute(rj)
		d.finish(rj, res, chunks)
	}()
}

func (d *Director) fail(format string, args ...any) (catalog.Result, int) {
	return catalog.Result{Status: catalog.StatusFailed, Reason: fmt.Sprintf(format, args...), Ended: d.now()}, 0
}

// execute drives one job through DESIGN.md §3 in order; no step is timed by
// a sleep, each waits for the previous one's reply.
func (d *Director) execute(rj *runningJob) (catalog.Result, int) {
	plan := planData(rj.client, rj.storage)
	rj.open.Initiator, rj.prepare.Initiator = plan.Initiator, plan.Initiator
	// Each end of the data socket pins the other's identity.
	fdKey, sdKey, plain, err := d.peerKeys(rj.client.Name, rj.storage.Name)
	if err != nil {
		return d.stepFailed(rj, "%v", err)
	}
	rj.open.PeerKey, rj.prepare.PeerKey = fdKey, sdKey
	rj.open.Plain, rj.prepare.Plain = plain, plain
	if res, failed := d.openAndPrepare(rj); failed {
		return res, 0
	}
	rj.started = d.now()
	if err := d.cat.MarkRunning(rj.ctx, rj.job.ID, rj.started); err != nil {
		return d.stepFailed(rj, "catalog: %v", err)
	}
	d.publish(rj.job, schemas.EventStarted, nil)
	if res, failed := d.connect(rj, plan); failed {
		return res, 0
	}
	rj.mu.Lock()
	rj.progress.changed = d.now() // the no-progress clock starts with the stream
	rj.mu.Unlock()
	if err := d.startSender(rj); err != nil {
		return d.stepFailed(rj, "%v", err)
	}
	return d.collect(rj)
}

// openAndPrepare waits for the agents (max_wait), has the sd open a session
// (minting the key) and the fd prepare. An agent that looked online but
// does not answer sends the job back to waiting while its max_wait lasts.
func (d *Director) openAndPrepare(rj *runningJob) (catalog.Result, bool) {
	for {
		if err := d.waitAgents(rj); err != nil {
			res, _ := d.stepFailed(rj, "%v", err)
			return res, true
		}
		opened, err := request(rj.ctx, d, schemas.SDOpen, rj.open, rj.storage.Name)
		if d.mayWaitAgain(rj, "sd", rj.storage.Name, err) {
			continue
		}
		if err != nil {
			res, _ := d.stepFailed(rj, "%s", agentErr("storage daemon", rj.storage.Name, "open a session", err))
			return res, true
		}
		rj.prepare.Key = opened.Key
		ack, err := request(rj.ctx, d, schemas.FDPrepare, rj.prepare, rj.client.Name)
		if d.mayWaitAgain(rj, "fd", rj.client.Name, err) {
			d.abortAgents(catalog.Job{ID: rj.job.ID, Storage: rj.storage.Name}, "client went away before the job started", "failed")
			continue
		}
		if err != nil {
			res, _ := d.stepFailed(rj, "%s", agentErr("client", rj.client.Name, "prepare the job", err))
			return res, true
		}
		if ack.Note != "" {
			d.note(rj.job.ID, catalog.LevelWarning, "client %s: %s", rj.client.Name, ack.Note)
		}
		return catalog.Result{}, false
	}
}

// stepFailed ends a job whose step failed: an ended job context explains
// why better than the step's error does. Both agents are told to abort.
func (d *Director) stepFailed(rj *runningJob, format string, args ...any) (catalog.Result, int) {
	res, ok := d.interrupted(rj)
	if !ok {
		res, _ = d.fail(format, args...)
	}
	d.abortAgents(rj.job, res.Reason, abortStatus(res))
	return res, 0
}

// request sends one command with the command timeout.
func request[Req, Resp any](ctx context.Context, d *Director, r schemas.Request[Req, Resp], req Req, token string) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	return bus.Request(ctx, d.bus, r, req, token)
}

// connect has the initiator dial the data socket and records who dialed whom.
func (d *Director) connect(rj *runningJob, plan dataPlan) (catalog.Result, bool) {
	cctx, cancel := context.WithTimeout(rj.ctx, d.cfg.ConnectTimeout+5*time.Second)
	defer cancel()
	dc := schemas.DataConnect{JobID: rj.job.ID, Addr: plan.Addr, Peer: plan.Peer}
	var got schemas.DataConnected
	var err error
	if plan.Initiator == schemas.InitiatorSD {
		got, err = bus.Request(cctx, d.bus, schemas.SDConnect, dc, rj.storage.Name)
	} else {
		got, err = bus.Request(cctx, d.bus, schemas.FDConnect, dc, rj.client.Name)
	}
	if err != nil {
		res, _ := d.stepFailed(rj, "%s", connectErr(rj, plan, err))
		return res, true
	}
	if err := d.cat.SetDataChannel(rj.ctx, rj.job.ID, plan.Initiator, got.From, got.To); err != nil {
		res, _ := d.stepFailed(rj, "catalog: %v", err)
		return res, true
	}
	rj.job.Initiator, rj.job.DialFrom, rj.job.DialTo = plan.Initiator, got.From, got.To
	d.log.Info("data channel open", "job", rj.job.ID, "initiator", plan.Initiator, "from", got.From, "to", got.To)
	d.note(rj.job.ID, catalog.LevelInfo, "data channel open: %s dialed %s at %s from %s", plan.Initiator, plan.Peer, got.To, got.From)
	d.publish(rj.job, schemas.EventDataOpen, func(ev *schemas.JobEvent) {
		ev.Initiator, ev.From, ev.To = plan.Initiator, got.From, got.To
	})
	return catalog.Result{}, false
}

// startSender tells the sending side to stream: the fd on backup, the sd on
// restore.
func (d *Director) startSender(rj *runningJob) error {
	start := schemas.DataStart{JobID: rj.job.ID}
	if rj.job.Kind == catalog.KindBackup {
		_, err := request(rj.ctx, d, schemas.FDStart, start, rj.client.Name)
		return wrapAgent("client", rj.client.Name, "start sending", err)
	}
	_, err := request(rj.ctx, d, schemas.SDStart, start, rj.storage.Name)
	return wrapAgent("storage daemon", rj.storage.Name, "start sending", err)
}

func wrapAgent(kind, name, what string, err error) error {
	if err == nil {
		return nil
	}
	return errors.New(agentErr(kind, name, what, err))
}

// agentErr names the agent and says what to check.
func agentErr(kind, name, what string, err error) string {
	if errors.Is(err, bus.ErrNoResponders) {
		return fmt.Sprintf("%s %s is offline: nothing answered on the bus when asked to %s; check that it runs and is connected to NATS", kind, name, what)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s %s did not answer in time when asked to %s", kind, name, what)
	}
	return fmt.Sprintf("%s %s could not %s: %v", kind, name, what, err)
}

// connectErr says who dialed whom at which address and hints at `passive`.
func connectErr(rj *runningJob, plan dataPlan, err error) string {
	if plan.Initiator == schemas.InitiatorSD {
		return fmt.Sprintf("sd %s dialed fd %s at %s for the data socket and failed: %v; check that client %s listens there and is reachable from the storage, or set passive = false on client %s if it can dial out",
			rj.storage.Name, rj.client.Name, plan.Addr, unwrapRemote(err), rj.client.Name, rj.client.Name)
	}
	return fmt.Sprintf("fd %s dialed sd %s at %s for the data socket and failed: %v; check the storage's address and data_port, or set passive = true on client %s if it cannot reach the storage",
		rj.client.Name, rj.storage.Name, plan.Addr, unwrapRemote(err), rj.client.Name)
}

func unwrapRemote(err error) error {
	var re *schemas.RemoteError
	if errors.As(err, &re) {
		return re
	}
	return err
}

// abortAgents tells both agents of j to stop; absent agents are ignored.
// status is how the job ends for the sd's session record: failed or canceled.
func (d *Director) abortAgents(j catalog.Job, reason, status string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := schemas.AbortJob{JobID: j.ID, Reason: reason, Status: status}
	if j.Storage != "" {
		_, _ = bus.Request(ctx, d.bus, schemas.SDAbort, msg, j.Storage)
	}
	if j.Client != "" {
		_, _ = bus.Request(ctx, d.bus, schemas.FDAbort, msg, j.Client)
	}
}

func jobToken(id int64) string { return strconv.FormatInt(id, 10) }
