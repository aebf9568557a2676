package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// waitJob follows a job's events until it ends and prints one summary
// line. On a terminal a live progress line runs meanwhile.
func waitJob(ctx context.Context, conn *bus.Conn, id int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	filter, err := schemas.JobEvents.Filter(strconv.FormatInt(id, 10), "*")
	if err != nil {
		return err
	}
	events, err := bus.WatchEvents(ctx, conn, filter, true)
	if err != nil {
		return err
	}
	stopBar := liveProgress(conn, id)
	defer stopBar()
	for ev := range events {
		switch ev.Event {
		case schemas.EventFinished, schemas.EventFailed, schemas.EventCanceled:
			stopBar()
			fmt.Println(jobLine(ev))
			if ev.Status != "ok" && ev.Status != "ok_warnings" {
				return &jobFailedError{id: id, status: ev.Status, reason: ev.Reason}
			}
			return nil
		}
	}
	return fmt.Errorf("job %d: stopped waiting: %w", id, ctx.Err())
}

// jobLine is the one-line outcome of a job, direction written sd→fd or fd→sd.
func jobLine(ev schemas.JobEvent) string {
	s := fmt.Sprintf("job %d %s %s client=%s storage=%s: %s, %d files, %s", ev.JobID, ev.Kind, ev.Name, ev.Client,
		ev.Storage, ev.Status, ev.Files, humanBytes(ev.Bytes))
	if ev.Warnings > 0 {
		s += fmt.Sprintf(", %d warnings", ev.Warnings)
	}
	if ev.Initiator != "" {
		s += ", data " + direction(ev.Initiator) + " " + ev.From + " → " + ev.To
	}
	if ev.Reason != "" {
		s += ", reason: " + ev.Reason
	}
	return s
}

func direction(initiator string) string {
	switch initiator {
	case schemas.InitiatorSD:
		return "sd→fd"
	case schemas.InitiatorFD:
		return "fd→sd"
	}
	return initiator
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// liveProgress shows the job's progress on a terminal; the returned func
// stops it (idempotent).
func liveProgress(conn *bus.Conn, id int64) func() {
	if !term.IsTerminal(int(os.Stdout.Fd())) {
		return func() {}
	}
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetDescription(fmt.Sprintf("job %d", id)),
		progressbar.OptionShowBytes(true), progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(), progressbar.OptionSetWriter(os.Stderr))
	subj, _ := schemas.JobProgress.Subject(strconv.FormatInt(id, 10))
	sub, err := bus.Subscribe(conn, schemas.JobProgress, subj, func(_ string, p schemas.Progress) {
		_ = bar.Set64(p.Bytes)
		bar.Describe(fmt.Sprintf("job %d: %d files", id, p.Files))
	})
	var stopped atomic.Bool
	return func() {
		if stopped.Swap(true) {
			return
		}
		if err == nil {
			_ = sub.Unsubscribe()
		}
		_ = bar.Finish()
	}
}

func isNoResponders(err error) bool { return errors.Is(err, bus.ErrNoResponders) }
