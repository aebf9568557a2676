package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
)

// Progress subscribes to every job's progress; Wait blocks until a message
// matches.
type Progress struct {
	t  testing.TB
	ch chan schemas.Progress
}

// WatchProgress starts collecting progress messages of all jobs.
func (c *Cluster) WatchProgress() *Progress {
	p := &Progress{t: c.t, ch: make(chan schemas.Progress, 1024)}
	sub, err := bus.Subscribe(c.bus, schemas.JobProgress, schemas.JobProgress.Wildcard(), func(_ string, m schemas.Progress) {
		select {
		case p.ch <- m:
		default:
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := c.bus.Flush(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// WaitFor returns the first progress message with bytes > 0 whose path ends
// with suffix, failing the test after a minute.
func (p *Progress) WaitFor(suffix string) schemas.Progress {
	p.t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case m := <-p.ch:
			if m.Bytes > 0 && bytes.HasSuffix(m.Path, []byte(suffix)) {
				return m
			}
		case <-timeout:
			p.t.Fatalf("no progress on %q within a minute", suffix)
		}
	}
}

// WaitEnd waits for job id to end and returns its final event.
func (c *Cluster) WaitEnd(id int64) schemas.JobEvent {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	filter, _ := schemas.JobEvents.Filter(strconv.FormatInt(id, 10), "*")
	events, err := bus.WatchEvents(ctx, c.bus, filter, true)
	if err != nil {
		c.t.Fatal(err)
	}
	for ev := range events {
		switch ev.Event {
		case schemas.EventFinished, schemas.EventFailed, schemas.EventCanceled:
			return ev
		}
	}
	c.t.Fatalf("job %d did not end within 2 minutes", id)
	return schemas.JobEvent{}
}

// StartJob runs a backup job without waiting and returns its id.
func (c *Cluster) StartJob(job string) int64 {
	c.t.Helper()
	r := c.Ferry("run", job)
	var id int64
	if _, err := fmt.Sscanf(r.Stdout, "job %d started", &id); err != nil || r.Code != 0 {
		c.t.Fatalf("ferry run %s: exit %d, %q %q", job, r.Code, r.Stdout, r.Stderr)
	}
	return id
}

// PeakRSS returns a process's VmHWM in bytes.
func PeakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM for pid %d", pid)
	return 0
}
