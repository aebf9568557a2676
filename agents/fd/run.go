package fd

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// run waits for the data socket, moves the data, then delivers the job log
// and the report.
func (a *Agent) run(j *job) {
	defer func() {
		a.mu.Lock()
		delete(a.jobs, j.prep.JobID)
		a.mu.Unlock()
		j.ch.Close()
	}()
	rep := schemas.AgentReport{JobID: j.prep.JobID, Agent: a.cfg.Name, Role: "fd"}
	log := newJobLog(a, j.prep.JobID)
	conn, err := a.waitConn(j)
	if err == nil {
		if kerr := datapath.SetKeepAlive(conn, datapath.KeepAliveFromMs(j.prep.KeepaliveMs)); kerr != nil {
			a.log.Warn("data socket keepalive not set", "job", j.prep.JobID, "err", kerr)
		}
		stop := context.AfterFunc(j.ch.Context(), func() { conn.Close() })
		err = a.transfer(j, conn, log, &rep)
		stop()
		conn.Close()
	}
	if err != nil {
		if ctx := j.ch.Context(); ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
		rep.Reason = err.Error()
		a.log.Warn("job failed", "job", j.prep.JobID, "err", err)
	}
	rep.OK = err == nil
	if lerr := log.flush(); lerr != nil {
		a.log.Error("job log not delivered", "job", j.prep.JobID, "err", lerr)
	}
	rep.Warnings, rep.LogChunks = log.warnings(), log.batch.Chunks()
	if err := deliver(a, schemas.DirReport, rep); err != nil {
		a.log.Error("job report not delivered", "job", j.prep.JobID, "err", err)
	}
}

func (a *Agent) transfer(j *job, conn net.Conn, log *jobLog, rep *schemas.AgentReport) error {
	pctx, stop := context.WithCancel(j.ch.Context())
	defer stop()
	prog := a.progress(pctx, j.prep.JobID)
	if j.prep.Kind == schemas.KindRestore {
		opt := restore.Options{Replace: j.prep.Replace, Owner: isRoot()}
		t, _, err := restore.Receive(j.ch.Context(), datapath.NewReader(conn), string(j.prep.Target), opt, log, prog)
		rep.Files, rep.Bytes = t.Received, t.ReceivedBytes
		if err == nil && (t.Files != t.Received || t.Bytes != t.ReceivedBytes) {
			log.Info(fmt.Sprintf("restored %d of %d entries and %d of %d bytes (the rest was kept by the replace policy or skipped with a warning)",
				t.Files, t.Received, t.Bytes, t.ReceivedBytes))
		}
		return err
	}
	if err := j.ch.WaitStart(); err != nil {
		return err
	}
	spec := fileset.Spec{Exclude: j.prep.Exclude, OneFileSystem: j.prep.OneFileSystem}
	for _, p := range j.prep.Include {
		spec.Include = append(spec.Include, string(p))
	}
	w := datapath.NewWriter(datapath.LimitWriter(j.ch.Context(), conn, j.prep.BandwidthBps))
	stopBeats := w.StartHeartbeats(j.ch.Context(), datapath.KeepAliveFromMs(j.prep.KeepaliveMs))
	opt := backup.Options{Compression: j.prep.Compression}
	t, err := backup.SendWith(j.ch.Context(), w, spec, opt, log, prog)
	stopBeats()
	rep.Files, rep.Bytes = t.Files, t.Bytes
	if err != nil {
		return err
	}
	return waitPeerClose(conn)
}

// waitPeerClose half-closes and waits until the sd closes, so the stream
// end reaches it before the socket goes away.
func waitPeerClose(conn net.Conn) error {
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	var b [1]byte
	_, _ = conn.Read(b[:])
	return nil
}

// progressPublisher publishes a job's latest progress every 500 ms while it
// changes (core NATS: lost if nobody watches, which is fine). The data path
// only records the latest figures; a blocked socket therefore does not stop
// the reports, and watchers see where the job stands.
type progressPublisher struct {
	mu      sync.Mutex
	cur     schemas.Progress
	changed bool
}

func (a *Agent) progress(ctx context.Context, job int64) func(files, bytes int64, path []byte) {
	p := &progressPublisher{cur: schemas.Progress{JobID: job, Agent: a.cfg.Name}}
	tok := strconv.FormatInt(job, 10)
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			p.mu.Lock()
			if p.changed {
				p.changed = false
				p.cur.Time = time.Now().UnixNano()
				_ = bus.Publish(a.bus, schemas.JobProgress, p.cur, tok) // encodes before returning
			}
			p.mu.Unlock()
		}
	}()
	return func(files, bytes int64, path []byte) {
		p.mu.Lock()
		p.cur.Files, p.cur.Bytes, p.cur.Path = files, bytes, append(p.cur.Path[:0], path...)
		p.changed = true
		p.mu.Unlock()
	}
}

// jobLog batches per-file warnings into numbered log chunks.
type jobLog struct {
	mu    sync.Mutex
	batch *bus.Batcher[schemas.LogLine]
	count int64
	err   error
}

func newJobLog(a *Agent, job int64) *jobLog {
	l := &jobLog{}
	l.batch = bus.NewBatcher(a.bus, func(x schemas.LogLine) int { return len(x.Msg) + len(x.Path) + len(x.Agent) + 48 },
		func(seq int, lines []schemas.LogLine) error {
			return deliver(a, schemas.DirLog, schemas.LogChunk{JobID: job, Seq: seq, Lines: lines})
		})
	return l
}

// Warn records a per-file problem; the job goes on.
func (l *jobLog) Warn(path []byte, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	l.add(schemas.LogLine{Time: time.Now().UnixNano(), Level: "warning", Msg: msg, Path: append([]byte(nil), path...)})
}

// Note records a line about a path that is not a problem.
func (l *jobLog) Note(path []byte, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(schemas.LogLine{Time: time.Now().UnixNano(), Level: "info", Msg: msg, Path: append([]byte(nil), path...)})
}

// Info records a line that is not a problem.
func (l *jobLog) Info(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(schemas.LogLine{Time: time.Now().UnixNano(), Level: "info", Msg: msg})
}

func (l *jobLog) add(line schemas.LogLine) {
	if err := l.batch.Add(line); err != nil && l.err == nil {
		l.err = err
	}
}

func (l *jobLog) warnings() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

func (l *jobLog) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.batch.Flush(); err != nil {
		return err
	}
	return l.err
}
