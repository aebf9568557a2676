package fd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// connectWait bounds how long a prepared job waits for its data socket.
const connectWait = 2 * time.Minute

// job is one job prepared on this fd.
type job struct {
	prep schemas.PrepareJob
	peer string // the sd's identity, "" for a plain-text job
	ch   *datapath.Channel
}

func (a *Agent) onPrepare(_ context.Context, _ string, req schemas.PrepareJob) (schemas.Ack, error) {
	note, err := a.checkMode(req.Initiator)
	if err != nil {
		return schemas.Ack{}, err
	}
	if req.Kind != schemas.KindBackup && req.Kind != schemas.KindRestore {
		return schemas.Ack{}, fmt.Errorf("unknown job kind %q", req.Kind)
	}
	if len(req.Key) != datapath.KeyLen {
		return schemas.Ack{}, fmt.Errorf("job %d: session key has %d bytes, want %d", req.JobID, len(req.Key), datapath.KeyLen)
	}
	peer, err := a.cfg.security().JobPeer(req.Plain, req.PeerKey)
	if err != nil {
		return schemas.Ack{}, fmt.Errorf("job %d: %w", req.JobID, err)
	}
	j := &job{prep: req, peer: peer, ch: datapath.NewChannel()}
	if req.Initiator == schemas.InitiatorSD {
		j.ch.ExpectOn(a.ln, uint64(req.JobID), datapath.RoleSD, req.Key, peer)
	}
	a.mu.Lock()
	_, dup := a.jobs[req.JobID]
	if !dup {
		a.jobs[req.JobID] = j
	}
	a.mu.Unlock()
	if dup {
		j.ch.Close()
		return schemas.Ack{}, fmt.Errorf("job %d is already prepared on client %s", req.JobID, a.cfg.Name)
	}
	go a.run(j)
	return schemas.Ack{Note: note}, nil
}

// checkMode checks the director's Client resource against this fd's own
// `passive` setting. A passive fd never dials: asked to, it refuses. An
// active fd told to expect the sd accepts if it listens, with a note that
// the two configurations disagree.
func (a *Agent) checkMode(initiator string) (note string, err error) {
	switch {
	case initiator == schemas.InitiatorSD && !a.cfg.Passive:
		if a.ln == nil {
			return "", fmt.Errorf("client %s: the director's configuration says passive = true, but this file daemon's own configuration says passive = false and it has no data_listen; make the two agree", a.cfg.Name)
		}
		a.log.Warn("configuration mismatch: the director says passive, this file daemon is active", "client", a.cfg.Name)
		return fmt.Sprintf("configuration mismatch: the director says client %s is passive, its file daemon says passive = false; the sd will dial it at the configured address", a.cfg.Name), nil
	case initiator == schemas.InitiatorFD && a.cfg.Passive:
		return "", fmt.Errorf("client %s: this file daemon is passive and never dials out, but the director's configuration says passive = false; make the two agree", a.cfg.Name)
	case initiator != schemas.InitiatorSD && initiator != schemas.InitiatorFD:
		return "", fmt.Errorf("unknown initiator %q", initiator)
	}
	return "", nil
}

func (a *Agent) lookup(id int64) (*job, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	j := a.jobs[id]
	if j == nil {
		return nil, fmt.Errorf("no job %d prepared on client %s", id, a.cfg.Name)
	}
	return j, nil
}

// onConnect dials the sd (active client only).
func (a *Agent) onConnect(_ context.Context, _ string, req schemas.DataConnect) (schemas.DataConnected, error) {
	j, err := a.lookup(req.JobID)
	if err != nil {
		return schemas.DataConnected{}, err
	}
	if j.prep.Initiator != schemas.InitiatorFD {
		return schemas.DataConnected{}, fmt.Errorf("job %d: the sd dials this client, it does not dial out", req.JobID)
	}
	c, err := j.ch.Dial(req.Addr, datapath.RoleFD, uint64(req.JobID), j.prep.Key, j.peer, a.cfg.ConnectTimeout, a.cfg.security())
	if err != nil {
		return schemas.DataConnected{}, fmt.Errorf("dial %s: %w", req.Addr, err)
	}
	return schemas.DataConnected{JobID: req.JobID, From: c.LocalAddr().String(), To: req.Addr}, nil
}

func (a *Agent) onStart(_ context.Context, _ string, req schemas.DataStart) (schemas.Ack, error) {
	j, err := a.lookup(req.JobID)
	if err != nil {
		return schemas.Ack{}, err
	}
	j.ch.Start()
	return schemas.Ack{}, nil
}

func (a *Agent) onAbort(_ context.Context, _ string, req schemas.AbortJob) (schemas.Ack, error) {
	j, err := a.lookup(req.JobID)
	if err != nil {
		return schemas.Ack{Note: "no such job"}, nil
	}
	a.log.Warn("job aborted by the director", "job", req.JobID, "reason", req.Reason)
	j.ch.Abort(errors.New("aborted by the director: " + req.Reason))
	return schemas.Ack{}, nil
}

func (a *Agent) waitConn(j *job) (net.Conn, error) {
	c, err := j.ch.Wait(connectWait)
	if err != nil {
		if j.prep.Initiator == schemas.InitiatorSD {
			return nil, fmt.Errorf("storage daemon %s never connected: %w", j.prep.Storage, err)
		}
		return nil, fmt.Errorf("no data connection to storage daemon %s: %w", j.prep.Storage, err)
	}
	if version, suite, ok := datapath.TLSInfo(c); ok {
		a.log.Info("data socket up", "job", j.prep.JobID, "storage", j.prep.Storage, "tls", version, "cipher", suite)
	} else {
		a.log.Warn("data socket up without TLS (insecure)", "job", j.prep.JobID, "storage", j.prep.Storage)
	}
	return c, nil
}

// deliver sends a message that must reach the director, retrying until it
// is acknowledged.
func deliver[Req any](a *Agent, r schemas.Request[Req, schemas.Ack], msg Req) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err := bus.Deliver(ctx, a.bus, r, msg, "fd", a.cfg.Name)
	return err
}
