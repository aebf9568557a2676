package director

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/schemas"
)

func (d *Director) apiJobs(ctx context.Context, _ string, req schemas.JobsRequest) (schemas.JobsReply, error) {
	jobs, err := d.cat.Jobs(ctx, catalog.JobFilter{Limit: req.Limit, Status: catalog.JobStatus(req.Status)})
	if err != nil {
		return schemas.JobsReply{}, err
	}
	out := schemas.JobsReply{Jobs: make([]schemas.JobSummary, len(jobs))}
	for i, j := range jobs {
		out.Jobs[i] = summary(j)
	}
	return out, nil
}

func (d *Director) apiJob(ctx context.Context, _ string, req schemas.JobRequest) (schemas.JobReply, error) {
	j, err := d.cat.Job(ctx, req.JobID)
	if errors.Is(err, catalog.ErrNotFound) {
		return schemas.JobReply{}, fmt.Errorf("no job %d in the catalog", req.JobID)
	} else if err != nil {
		return schemas.JobReply{}, err
	}
	lines, err := d.cat.JobLog(ctx, req.JobID)
	if err != nil {
		return schemas.JobReply{}, err
	}
	out := schemas.JobReply{Job: summary(j)}
	budget := d.bus.MaxPayload()/2 - 4096
	for i := max(req.LogFrom, 0); i < len(lines); i++ {
		l := lines[i]
		budget -= len(l.Message) + len(l.Agent) + 48
		if budget < 0 {
			out.LogMore = true
			break
		}
		out.Log = append(out.Log, schemas.LogLine{Time: l.Time.UnixNano(), Level: l.Level, Agent: l.Agent, Msg: l.Message})
	}
	return out, nil
}

func summary(j catalog.Job) schemas.JobSummary {
	ns := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixNano()
	}
	return schemas.JobSummary{
		ID: j.ID, Name: j.Name, Kind: string(j.Kind), Level: j.Level, Client: j.Client, Storage: j.Storage,
		FileSet: j.FileSet, Status: string(j.Status), Reason: j.Reason,
		Created: ns(j.Created), Started: ns(j.Started), Ended: ns(j.Ended),
		Files: j.Files, Bytes: j.Bytes, Warnings: j.Warnings, Initiator: j.Initiator, DialFrom: j.DialFrom, DialTo: j.DialTo,
		RestoreOf: j.RestoreOf, Target: []byte(j.Target),
	}
}

func (d *Director) apiStatus(_ context.Context, _ string, req schemas.StatusRequest) (schemas.StatusReply, error) {
	now := d.now()
	d.mu.Lock()
	running := len(d.running)
	d.mu.Unlock()
	out := schemas.StatusReply{Director: d.cfg.Name, Started: d.started.UnixNano(), NATS: d.bus.URL(), Running: running}
	known := map[string]bool{}
	agent := func(role, name string, passive bool, addr string) schemas.AgentStatus {
		known[role+"/"+name] = true
		s, online := d.presence.lookup(role, name, now)
		st := schemas.AgentStatus{Name: name, Role: role, Configured: true, Online: online, Passive: passive, Address: addr, Version: s.hb.Version}
		if !s.at.IsZero() {
			st.LastSeen = s.at.UnixNano()
			if role == "fd" && s.hb.Passive != passive {
				st.Mismatch = fmt.Sprintf("the director says passive = %t, the file daemon's own configuration says passive = %t", passive, s.hb.Passive)
			}
		}
		if role == "fd" && passive {
			d.fillLink(&st)
		}
		return st
	}
	for _, s := range d.cfg.Storages {
		out.Agents = append(out.Agents, agent("sd", s.Name, false, s.DataAddress()))
	}
	for _, c := range d.cfg.Clients {
		out.Agents = append(out.Agents, agent("fd", c.Name, c.Passive, c.DataAddress()))
	}
	if req.Verbose {
		out.Agents = append(out.Agents, d.strangers(known, now)...)
	}
	d.fillSecurity(&out)
	return out, nil
}

// strangers lists agents that heartbeat but are not configured.
func (d *Director) strangers(known map[string]bool, now time.Time) []schemas.AgentStatus {
	var out []schemas.AgentStatus
	for key, s := range d.presence.all() {
		if known[key] {
			continue
		}
		out = append(out, schemas.AgentStatus{
			Name: s.hb.Name, Role: s.hb.Role, Online: now.Sub(s.at) < 3*HeartbeatInterval, LastSeen: s.at.UnixNano(),
			Passive: s.hb.Passive, Address: s.hb.DataAddr, Version: s.hb.Version,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role+out[i].Name < out[j].Role+out[j].Name })
	return out
}

// fillLink adds a passive client's bus link state.
func (d *Director) fillLink(st *schemas.AgentStatus) {
	l, ok := d.linkOf(st.Name)
	if !ok {
		st.Link = "unknown"
		return
	}
	st.Link, st.LinkError = "down", l.LastError
	if l.Up {
		st.Link, st.LinkError = "up", ""
	}
	if !l.Since.IsZero() {
		st.LinkSince = l.Since.UnixNano()
	}
}
