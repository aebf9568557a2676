package director

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/schemas"
)

// Why a job's context ended.
var (
	errCanceled         = errors.New("canceled by operator")
	errDirectorStopping = errors.New("director shut down while the job ran")
)

// maxRunError: the job ran past its max_run_time.
type maxRunError struct{ limit time.Duration }

func (e *maxRunError) Error() string {
	return fmt.Sprintf("max run time %s exceeded", e.limit)
}

// limits are a job's time and bandwidth limits.
type limits struct {
	maxRun     time.Duration
	noProgress time.Duration
	bandwidth  int64
}

// commandTimeout bounds each command to an agent; an agent that does not
// answer in time fails the step with a reason.
const commandTimeout = 30 * time.Second

// jobContext derives a job's context: canceled by the operator, by the
// director stopping, or by the max run time.
func (d *Director) jobContext(rj *runningJob) {
	ctx, cancel := context.WithCancelCause(context.Background())
	rj.ctx, rj.cancel = ctx, cancel
	if rj.limits.maxRun > 0 {
		t := time.AfterFunc(rj.limits.maxRun, func() { cancel(&maxRunError{limit: rj.limits.maxRun}) })
		context.AfterFunc(ctx, func() { t.Stop() })
	}
	context.AfterFunc(d.ctx, func() { cancel(errDirectorStopping) })
}

// interrupted turns an ended job context into the job's result.
func (d *Director) interrupted(rj *runningJob) (catalog.Result, bool) {
	if rj.ctx.Err() == nil {
		return catalog.Result{}, false
	}
	cause := context.Cause(rj.ctx)
	res := catalog.Result{Status: catalog.StatusFailed, Reason: cause.Error(), Ended: d.now()}
	if errors.Is(cause, errCanceled) {
		res.Status = catalog.StatusCanceled
	}
	var mr *maxRunError
	if errors.As(cause, &mr) {
		res.Reason = fmt.Sprintf("max run time %s exceeded (max_run_time of job %s); the session was closed", mr.limit, rj.job.Name)
	}
	return res, true
}

// abortStatus is how agents record an aborted job.
func abortStatus(res catalog.Result) string {
	if res.Status == catalog.StatusCanceled {
		return "canceled"
	}
	return "failed"
}

// progressState is the last data movement the director heard of.
type progressState struct {
	files, bytes int64
	path         []byte
	changed      time.Time
}

// onProgress notes a running job's progress (core NATS, may be lost: only
// used to see that data still moves).
func (d *Director) onProgress(_ string, p schemas.Progress) {
	d.mu.Lock()
	rj := d.running[p.JobID]
	d.mu.Unlock()
	if rj == nil {
		return
	}
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if p.Files != rj.progress.files || p.Bytes != rj.progress.bytes || rj.progress.changed.IsZero() {
		rj.progress = progressState{files: p.Files, bytes: p.Bytes, path: append([]byte(nil), p.Path...), changed: d.now()}
	}
}

// stalled reports a job whose data has not moved for its no-progress
// timeout, naming the file in flight.
func (d *Director) stalled(rj *runningJob) (string, bool) {
	if rj.limits.noProgress <= 0 {
		return "", false
	}
	rj.mu.Lock()
	p := rj.progress
	rj.mu.Unlock()
	idle := d.now().Sub(p.changed)
	if p.changed.IsZero() || idle < rj.limits.noProgress {
		return "", false
	}
	where := "before the first file"
	if len(p.path) > 0 {
		where = fmt.Sprintf("file in flight: %q", p.path)
	}
	msg := fmt.Sprintf("no progress for %s (no_progress_timeout of job %s), after %d files and %d bytes; %s; check the client's file system (a hung network mount?) and the link between client %s and storage %s",
		idle.Round(time.Second), rj.job.Name, p.files, p.bytes, where, rj.client.Name, rj.storage.Name)
	return msg, true
}
