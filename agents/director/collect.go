package director

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/schemas"
)

// afterAbortWait bounds how long the director waits for the agents'
// reports after it aborted a job, so the job ends only once they stopped.
const afterAbortWait = 10 * time.Second

// collect waits for the sd's and the fd's end-of-job reports and cross-checks
// their totals: a mismatch fails the job. Meanwhile it watches the job's
// context (cancel, max run time, director stop) and its progress.
func (d *Director) collect(rj *runningJob) (catalog.Result, int) {
	var sd, fd *schemas.AgentReport
	var grace <-chan time.Time
	first := "" // role of the first failure report: its reason is the cause
	tick := time.NewTicker(checkEvery(rj.limits.noProgress))
	defer tick.Stop()
	take := func(r schemas.AgentReport) {
		if r.Role == "sd" {
			sd = &r
		} else {
			fd = &r
		}
	}
	for sd == nil || fd == nil {
		select {
		case r := <-rj.reports:
			take(r)
			if !r.OK && grace == nil {
				grace, first = time.After(peerReportGrace), r.Role
			}
		case <-grace:
			return d.abortAndWait(rj, failedResult(d, firstFailure(rj, sd, fd, first)), take, &sd, &fd)
		case <-tick.C:
			if grace != nil && d.silentGone(rj, sd, fd) {
				return d.abortAndWait(rj, failedResult(d, firstFailure(rj, sd, fd, first)+"; "+d.silence(rj, sd, fd)), take, &sd, &fd)
			}
			if msg, stuck := d.stalled(rj); stuck {
				return d.abortAndWait(rj, failedResult(d, msg), take, &sd, &fd)
			}
		case <-rj.ctx.Done():
			res, _ := d.interrupted(rj)
			return d.abortAndWait(rj, res, take, &sd, &fd)
		}
	}
	return d.judge(rj, sd, fd, first)
}

func failedResult(d *Director, reason string) catalog.Result {
	res, _ := d.fail("%s", reason)
	return res
}

func checkEvery(noProgress time.Duration) time.Duration {
	every := HeartbeatInterval
	if noProgress > 0 && noProgress/4 < every {
		every = max(noProgress/4, 100*time.Millisecond)
	}
	return every
}

// abortAndWait aborts the job on both agents and waits (bounded) for the
// reports still outstanding from agents that are alive, so "ended" means
// the agents stopped.
func (d *Director) abortAndWait(rj *runningJob, res catalog.Result, take func(schemas.AgentReport), sd, fd **schemas.AgentReport) (catalog.Result, int) {
	d.abortAgents(rj.job, res.Reason, abortStatus(res))
	deadline := time.After(afterAbortWait)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for (*sd == nil && !d.agentGone(rj, "sd")) || (*fd == nil && !d.agentGone(rj, "fd")) {
		select {
		case r := <-rj.reports:
			take(r)
		case <-tick.C:
		case <-deadline:
			d.note(rj.job.ID, catalog.LevelWarning, "%s did not confirm the abort within %s", d.silence(rj, *sd, *fd), afterAbortWait)
			return res, 0
		}
	}
	return res, 0
}

// silentGone: an agent whose report is outstanding is gone, so waiting
// longer for it is pointless.
func (d *Director) silentGone(rj *runningJob, sd, fd *schemas.AgentReport) bool {
	return sd == nil && d.agentGone(rj, "sd") || fd == nil && d.agentGone(rj, "fd")
}

// agentGone: the job's agent in role stopped heartbeating (it died or lost
// the bus), or it heartbeats as a process started after the job began (it
// restarted and lost the job). An agent never heard from is not judged.
func (d *Director) agentGone(rj *runningJob, role string) bool {
	name := rj.client.Name
	if role == "sd" {
		name = rj.storage.Name
	}
	s, online := d.presence.lookup(role, name, d.now())
	if s.at.IsZero() {
		return false
	}
	return !online || s.hb.Started > rj.started.UnixNano()
}

// silence names the agents whose reports are outstanding.
func (d *Director) silence(rj *runningJob, sd, fd *schemas.AgentReport) string {
	var who []string
	if sd == nil {
		who = append(who, "storage daemon "+rj.storage.Name)
	}
	if fd == nil {
		who = append(who, "client "+rj.client.Name)
	}
	if len(who) == 0 {
		return "no agent"
	}
	return strings.Join(who, " and ") + " stopped answering (no report, no heartbeat)"
}

// firstFailure names the agents' failures, the one that came first (the
// cause; the other side's error is usually its consequence, such as a
// broken pipe) before the other.
func firstFailure(rj *runningJob, sd, fd *schemas.AgentReport, first string) string {
	var parts []string
	fdMsg := func() {
		if fd != nil && !fd.OK {
			parts = append(parts, fmt.Sprintf("client %s: %s", rj.client.Name, fd.Reason))
		}
	}
	sdMsg := func() {
		if sd != nil && !sd.OK {
			parts = append(parts, fmt.Sprintf("storage daemon %s: %s", rj.storage.Name, sd.Reason))
		}
	}
	if first == "sd" {
		sdMsg()
		fdMsg()
	} else {
		fdMsg()
		sdMsg()
	}
	if len(parts) == 0 {
		return "an agent failed"
	}
	return strings.Join(parts, "; then ")
}

// judge turns two reports into the job's result.
func (d *Director) judge(rj *runningJob, sd, fd *schemas.AgentReport, first string) (catalog.Result, int) {
	if !fd.OK || !sd.OK {
		return d.fail("%s", firstFailure(rj, sd, fd, first))
	}
	if fd.Files != sd.Files || fd.Bytes != sd.Bytes {
		return d.fail("totals disagree: client %s reports %d files, %d bytes; storage daemon %s reports %d files, %d bytes",
			rj.client.Name, fd.Files, fd.Bytes, rj.storage.Name, sd.Files, sd.Bytes)
	}
	res := catalog.Result{Status: catalog.StatusOK, Ended: d.now(), Files: fd.Files, Bytes: fd.Bytes, Warnings: fd.Warnings + sd.Warnings}
	if res.Warnings > 0 {
		res.Status = catalog.StatusWarnings
	}
	for _, m := range sd.Media {
		res.Media = append(res.Media, catalog.Media{JobID: rj.job.ID, Volume: m.Volume, StartOffset: m.Start, EndOffset: m.End})
	}
	return res, sd.FileChunks
}

// finish commits or ends the job in the catalog and publishes the outcome.
func (d *Director) finish(rj *runningJob, res catalog.Result, chunks int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := rj.job.ID
	var err error
	if rj.job.Kind == catalog.KindBackup && (res.Status == catalog.StatusOK || res.Status == catalog.StatusWarnings) {
		if err = d.cat.CommitJob(ctx, id, res, chunks); err != nil {
			res = catalog.Result{Status: catalog.StatusFailed, Reason: fmt.Sprintf("catalog commit: %v", err), Ended: d.now()}
		} else {
			d.recordVolumes(ctx, rj.storage.Name, res.Media)
		}
	}
	if err != nil || rj.job.Kind != catalog.KindBackup || res.Status == catalog.StatusFailed || res.Status == catalog.StatusCanceled {
		if err := d.cat.EndJob(ctx, id, res); err != nil {
			d.log.Error("catalog: end job", "job", id, "err", err)
		}
	}
	d.mu.Lock()
	delete(d.running, id)
	d.mu.Unlock()
	event := schemas.EventFinished
	switch res.Status {
	case catalog.StatusFailed:
		event = schemas.EventFailed
	case catalog.StatusCanceled:
		event = schemas.EventCanceled
	}
	d.log.Info("job ended", "job", id, "status", res.Status, "files", res.Files, "bytes", res.Bytes, "reason", res.Reason)
	level := catalog.LevelInfo
	if res.Status == catalog.StatusFailed {
		level = catalog.LevelError
	}
	d.note(id, level, "job ended %s: %d files, %d bytes, %d warnings%s", res.Status, res.Files, res.Bytes, res.Warnings, reasonSuffix(res.Reason))
	d.publish(rj.job, event, func(ev *schemas.JobEvent) {
		ev.Status, ev.Reason, ev.Files, ev.Bytes, ev.Warnings = string(res.Status), res.Reason, res.Files, res.Bytes, res.Warnings
		ev.Initiator, ev.From, ev.To = rj.job.Initiator, rj.job.DialFrom, rj.job.DialTo
	})
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return "; " + r
}

// recordVolumes notes the volumes a job wrote to; the size is where the
// job's session ended, a lower bound of the volume's size.
func (d *Director) recordVolumes(ctx context.Context, storage string, media []catalog.Media) {
	for _, m := range media {
		v := catalog.Volume{Name: m.Volume, Storage: storage, Bytes: m.EndOffset, Status: catalog.VolumeAppend, Updated: d.now()}
		if err := d.cat.PutVolume(ctx, v); err != nil {
			d.log.Warn("catalog: volume not recorded", "volume", m.Volume, "err", err)
		}
	}
}
