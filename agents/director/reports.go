package director

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/schemas"
)

// sender returns the running job and checks that the agent named by the
// subject is the one this job uses, so one agent cannot report for another's
// job.
func (d *Director) sender(info schemas.SubjectInfo, subject string, job int64, role string) (*runningJob, string, error) {
	if role == "" {
		role, _ = schemas.Token(info, subject, "role")
	}
	agent, _ := schemas.Token(info, subject, "agent")
	if agent == "" {
		agent, _ = schemas.Token(info, subject, "storage")
	}
	d.mu.Lock()
	rj := d.running[job]
	d.mu.Unlock()
	if rj == nil {
		return nil, agent, fmt.Errorf("job %d is not running on this director", job)
	}
	want := rj.client.Name
	if role == "sd" {
		want = rj.storage.Name
	} else if role != "fd" {
		return nil, agent, fmt.Errorf("unknown role %q", role)
	}
	if agent != want {
		return nil, agent, fmt.Errorf("job %d belongs to %s %s, not %s", job, role, want, agent)
	}
	return rj, agent, nil
}

func (d *Director) onReport(_ context.Context, subject string, r schemas.AgentReport) (schemas.Ack, error) {
	role, _ := schemas.Token(schemas.DirReport.Info(), subject, "role")
	rj, agent, err := d.sender(schemas.DirReport.Info(), subject, r.JobID, role)
	if err != nil {
		d.log.Warn("agent report refused", "subject", subject, "job", r.JobID, "err", err)
		return schemas.Ack{Note: "ignored: " + err.Error()}, nil // acknowledged so the agent stops retrying
	}
	r.Role, r.Agent = role, agent
	rj.mu.Lock()
	dup := rj.got[role]
	rj.got[role] = true
	rj.mu.Unlock()
	if !dup {
		d.noteFirstData(rj, r)
		rj.reports <- r
	}
	return schemas.Ack{}, nil
}

// noteFirstData puts on the job's record when the sd saw the first data
// frame, and how long after the job was created: the job's setup time as
// the sd timestamped it.
func (d *Director) noteFirstData(rj *runningJob, r schemas.AgentReport) {
	if r.Role != "sd" || r.FirstData <= 0 {
		return
	}
	first := time.Unix(0, r.FirstData).UTC()
	setup := first.Sub(rj.job.Created)
	d.log.Info("first data frame", "job", r.JobID, "at", first.Format(time.RFC3339Nano), "setup_ms", setup.Milliseconds())
	d.note(r.JobID, catalog.LevelInfo, "first data frame at the sd %s, %s after the job was created", first.Format("15:04:05.000"), setup.Round(time.Millisecond))
}

func (d *Director) onFiles(ctx context.Context, subject string, c schemas.FileChunk) (schemas.Ack, error) {
	if _, _, err := d.sender(schemas.DirFiles.Info(), subject, c.JobID, "sd"); err != nil {
		d.log.Warn("file chunk refused", "subject", subject, "job", c.JobID, "err", err)
		return schemas.Ack{}, err
	}
	files := make([]catalog.File, len(c.Files))
	for i, f := range c.Files {
		files[i] = catalog.File{
			JobID: c.JobID, Path: f.Path, Type: f.Type, Mode: f.Mode, UID: f.UID, GID: f.GID, Mtime: f.Mtime,
			Size: f.Size, LinkTarget: f.LinkTarget, ChecksumAlgo: f.Algo, Checksum: f.Sum,
			Volume: f.Volume, BlockOffset: f.Block, Flags: f.Flags,
		}
	}
	if err := d.cat.StageFiles(ctx, c.JobID, c.Seq, files); err != nil {
		return schemas.Ack{}, fmt.Errorf("stage file chunk %d of job %d: %w", c.Seq, c.JobID, err)
	}
	return schemas.Ack{}, nil
}

func (d *Director) onLog(ctx context.Context, subject string, c schemas.LogChunk) (schemas.Ack, error) {
	role, _ := schemas.Token(schemas.DirLog.Info(), subject, "role")
	rj, agent, err := d.sender(schemas.DirLog.Info(), subject, c.JobID, role)
	if err != nil {
		d.log.Warn("log chunk refused", "subject", subject, "job", c.JobID, "err", err)
		return schemas.Ack{Note: "ignored: " + err.Error()}, nil
	}
	key := role + "/" + strconv.Itoa(c.Seq)
	rj.mu.Lock()
	dup := rj.logSeen[key]
	rj.mu.Unlock()
	if dup {
		return schemas.Ack{}, nil
	}
	entries := make([]catalog.LogEntry, len(c.Lines))
	for i, l := range c.Lines {
		msg := l.Msg
		if len(l.Path) > 0 {
			msg = fmt.Sprintf("%s: %q", msg, l.Path)
		}
		entries[i] = catalog.LogEntry{JobID: c.JobID, Time: time.Unix(0, l.Time).UTC(), Level: l.Level, Agent: agent, Message: msg}
	}
	if err := d.cat.AppendLog(ctx, entries); err != nil {
		return schemas.Ack{}, fmt.Errorf("store log of job %d: %w", c.JobID, err)
	}
	rj.mu.Lock()
	rj.logSeen[key] = true
	rj.mu.Unlock()
	return schemas.Ack{}, nil
}
