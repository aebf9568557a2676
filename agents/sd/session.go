package sd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// connectWait bounds how long an opened session waits for its data socket
// before it gives up by itself (the director normally aborts it sooner).
const connectWait = 2 * time.Minute

// session is one job's data session on this sd.
type session struct {
	open     schemas.SessionOpen
	key      []byte
	peer     string         // the fd's identity, "" for a plain-text job
	vol      *volume.Volume // backup: reserved volume
	ch       *datapath.Channel
	canceled atomic.Bool // aborted as canceled: the session end says so
}

func (s *session) abort(reason string) { s.ch.Abort(errors.New(reason)) }

// ctx ends when the session is aborted or over.
func (s *session) ctx() context.Context { return s.ch.Context() }

// endStatus is how an aborted session is recorded on the volume.
func (s *session) endStatus() volume.Status {
	if s.canceled.Load() {
		return volume.SessionCanceled
	}
	return volume.SessionFailed
}

func (a *Agent) onOpen(ctx context.Context, _ string, req schemas.SessionOpen) (schemas.SessionOpened, error) {
	if err := schemas.CheckToken(req.Client); err != nil {
		return schemas.SessionOpened{}, fmt.Errorf("client: %w", err)
	}
	peer, err := a.cfg.security().JobPeer(req.Plain, req.PeerKey)
	if err != nil {
		return schemas.SessionOpened{}, fmt.Errorf("job %d: %w", req.JobID, err)
	}
	s := &session{open: req, key: datapath.NewKey(), peer: peer, ch: datapath.NewChannel()}
	reply := schemas.SessionOpened{JobID: req.JobID, Key: s.key}
	switch req.Kind {
	case schemas.KindBackup:
		v, err := a.vols.reserve()
		if err != nil {
			return reply, err
		}
		s.vol, reply.Volume = v, v.Name()
	case schemas.KindRestore:
		if err := a.vols.check(req.Media); err != nil {
			return reply, err
		}
	default:
		return reply, fmt.Errorf("unknown job kind %q", req.Kind)
	}
	if req.Initiator == schemas.InitiatorFD {
		s.ch.ExpectOn(a.ln, uint64(req.JobID), datapath.RoleFD, s.key, s.peer)
	}
	if !a.register(s) {
		a.release(s)
		return reply, fmt.Errorf("job %d already has a session on this storage daemon", req.JobID)
	}
	go a.run(s)
	return reply, nil
}

func (a *Agent) register(s *session) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.sessions[s.open.JobID]; dup {
		return false
	}
	a.sessions[s.open.JobID] = s
	return true
}

func (a *Agent) lookup(job int64) (*session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[job]
	if s == nil {
		return nil, fmt.Errorf("no session for job %d on storage daemon %s", job, a.cfg.Name)
	}
	return s, nil
}

// release returns the session's resources; its socket is closed by run.
func (a *Agent) release(s *session) {
	s.ch.Close()
	if s.vol != nil {
		a.vols.release(s.vol)
	}
}

// onConnect dials a passive client's data address.
func (a *Agent) onConnect(ctx context.Context, _ string, req schemas.DataConnect) (schemas.DataConnected, error) {
	s, err := a.lookup(req.JobID)
	if err != nil {
		return schemas.DataConnected{}, err
	}
	if s.open.Initiator != schemas.InitiatorSD {
		return schemas.DataConnected{}, fmt.Errorf("job %d: the fd dials this session, the sd does not", req.JobID)
	}
	c, err := s.ch.Dial(req.Addr, datapath.RoleSD, uint64(req.JobID), s.key, s.peer, a.cfg.ConnectTimeout, a.cfg.security())
	if err != nil {
		return schemas.DataConnected{}, fmt.Errorf("dial %s: %w", req.Addr, err)
	}
	return schemas.DataConnected{JobID: req.JobID, From: c.LocalAddr().String(), To: req.Addr}, nil
}

func (a *Agent) onStart(_ context.Context, _ string, req schemas.DataStart) (schemas.Ack, error) {
	s, err := a.lookup(req.JobID)
	if err != nil {
		return schemas.Ack{}, err
	}
	s.ch.Start()
	return schemas.Ack{}, nil
}

func (a *Agent) onAbort(_ context.Context, _ string, req schemas.AbortJob) (schemas.Ack, error) {
	s, err := a.lookup(req.JobID)
	if err != nil {
		return schemas.Ack{Note: "no such session"}, nil
	}
	a.log.Warn("session aborted by the director", "job", req.JobID, "reason", req.Reason, "status", req.Status)
	s.canceled.Store(req.Status == "canceled")
	s.abort("aborted by the director: " + req.Reason)
	a.forget(s) // the job id is free at once: the director may open it again
	return schemas.Ack{}, nil
}

// run waits for the data socket, moves the data, and reports.
func (a *Agent) run(s *session) {
	defer func() {
		a.forget(s)
		a.release(s)
	}()
	rep := schemas.AgentReport{JobID: s.open.JobID, Agent: a.cfg.Name, Role: "sd"}
	conn, err := a.waitConn(s)
	if err == nil {
		if kerr := datapath.SetKeepAlive(conn, datapath.KeepAliveFromMs(s.open.KeepaliveMs)); kerr != nil {
			a.log.Warn("data socket keepalive not set", "job", s.open.JobID, "err", kerr)
		}
		stop := context.AfterFunc(s.ctx(), func() { conn.Close() })
		if s.open.Kind == schemas.KindBackup {
			err = a.store(s, conn, &rep)
		} else {
			err = a.send(s, conn, &rep)
		}
		stop()
		conn.Close()
	}
	if err != nil {
		if ctx := s.ctx(); ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
		rep.OK, rep.Reason = false, err.Error()
		a.log.Warn("session failed", "job", s.open.JobID, "err", err)
	} else {
		rep.OK = true
	}
	a.report(rep)
}

func (a *Agent) waitConn(s *session) (net.Conn, error) {
	c, err := s.ch.Wait(connectWait)
	if err != nil {
		if s.open.Initiator == schemas.InitiatorFD {
			return nil, fmt.Errorf("no data connection from client %s: %w", s.open.Client, err)
		}
		return nil, fmt.Errorf("no data connection to client %s: %w", s.open.Client, err)
	}
	if version, suite, ok := datapath.TLSInfo(c); ok {
		a.log.Info("data socket up", "job", s.open.JobID, "client", s.open.Client, "tls", version, "cipher", suite)
	} else {
		a.log.Warn("data socket up without TLS (insecure)", "job", s.open.JobID, "client", s.open.Client)
	}
	return c, nil
}

// report delivers the end-of-job report until the director acknowledges it.
func (a *Agent) report(rep schemas.AgentReport) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := bus.Deliver(ctx, a.bus, schemas.DirReport, rep, "sd", a.cfg.Name); err != nil {
		a.log.Error("job report not delivered", "job", rep.JobID, "err", err)
	}
}

// forget removes s from the sessions if it is still the job's session.
func (a *Agent) forget(s *session) {
	a.mu.Lock()
	if a.sessions[s.open.JobID] == s {
		delete(a.sessions, s.open.JobID)
	}
	a.mu.Unlock()
}
