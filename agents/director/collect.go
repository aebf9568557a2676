package director

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/schemas"
)

// collect waits for the sd's and the fd's end-of-job reports and cross-checks
// their totals: a mismatch fails the job.
func (d *Director) collect(ctx context.Context, rj *runningJob) (catalog.Result, int) {
	var sd, fd *schemas.AgentReport
	var grace <-chan time.Time
	tick := time.NewTicker(HeartbeatInterval)
	defer tick.Stop()
	for sd == nil || fd == nil {
		select {
		case r := <-rj.reports:
			if r.Role == "sd" {
				sd = &r
			} else {
				fd = &r
			}
			if !r.OK && grace == nil {
				grace = time.After(peerReportGrace)
			}
		case <-grace:
			d.abortAgents(rj.job, "peer failed")
			return d.fail("%s", firstFailure(rj, sd, fd))
		case <-tick.C:
			if who := d.goneAgent(rj, sd, fd); who != "" {
				d.abortAgents(rj.job, who+" went offline")
				return d.fail("%s went offline during the job (no heartbeat for %s)", who, 3*HeartbeatInterval)
			}
		case <-ctx.Done():
			d.abortAgents(rj.job, "director shutting down")
			return d.fail("director shut down while the job ran")
		}
	}
	return d.judge(rj, sd, fd)
}

// goneAgent names an agent whose report is outstanding and whose heartbeats
// stopped (an agent this director has not heard from yet is not judged).
func (d *Director) goneAgent(rj *runningJob, sd, fd *schemas.AgentReport) string {
	now := d.now()
	if sd == nil {
		if s, ok := d.presence.lookup("sd", rj.storage.Name, now); !ok && !s.at.IsZero() {
			return "storage daemon " + rj.storage.Name
		}
	}
	if fd == nil {
		if s, ok := d.presence.lookup("fd", rj.client.Name, now); !ok && !s.at.IsZero() {
			return "client " + rj.client.Name
		}
	}
	return ""
}

func firstFailure(rj *runningJob, sd, fd *schemas.AgentReport) string {
	switch {
	case fd != nil && !fd.OK:
		return fmt.Sprintf("client %s: %s", rj.client.Name, fd.Reason)
	case sd != nil && !sd.OK:
		return fmt.Sprintf("storage daemon %s: %s", rj.storage.Name, sd.Reason)
	}
	return "an agent failed"
}

// judge turns two reports into the job's result.
func (d *Director) judge(rj *runningJob, sd, fd *schemas.AgentReport) (catalog.Result, int) {
	if !fd.OK || !sd.OK {
		return d.fail("%s", firstFailure(rj, sd, fd))
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
