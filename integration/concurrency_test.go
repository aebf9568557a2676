package integration

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/schemas"
)

var startedRE = regexp.MustCompile(`^job (\d+) started`)

// TestTwoJobsAtOnce runs a passive and an active client's backups into the
// same sd at the same time. The relays hold each data stream after its
// handshake, so both data channels are open before either job can finish:
// the overlap is observed, not hoped for.
func TestTwoJobsAtOnce(t *testing.T) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{
		{Name: "p1", Passive: true, Include: []string{src}},
		{Name: "a1", Include: []string{src}},
	}})
	c.FDs["p1"].Relay.Hold()
	c.SDRelay.Hold()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	events, err := bus.WatchEvents(ctx, c.Bus(), schemas.JobEvents.Wildcard(), true)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]string{}
	for _, job := range []string{"backup-p1", "backup-a1"} {
		r := c.Ferry("run", job)
		mustOK(t, r, job)
		m := startedRE.FindStringSubmatch(r.Stdout)
		if m == nil {
			t.Fatalf("no job id in %q", r.Stdout)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids[id] = job
	}
	open, ended := map[int64]schemas.JobEvent{}, map[int64]schemas.JobEvent{}
	for len(ended) < 2 {
		var ev schemas.JobEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatalf("jobs did not end; open=%v ended=%v", open, ended)
		}
		switch ev.Event {
		case schemas.EventDataOpen:
			open[ev.JobID] = ev
			if len(open) == 2 {
				if len(ended) != 0 {
					t.Fatalf("a job ended before both data channels were open: %v", ended)
				}
				c.FDs["p1"].Relay.Open()
				c.SDRelay.Open()
			}
		case schemas.EventFinished, schemas.EventFailed, schemas.EventCanceled:
			if len(open) < 2 {
				t.Fatalf("job %d ended (%s: %s) before both data channels were open", ev.JobID, ev.Status, ev.Reason)
			}
			ended[ev.JobID] = ev
		}
	}
	for id, ev := range ended {
		if ev.Status != "ok" {
			t.Errorf("job %d (%s) ended %s: %s", id, ids[id], ev.Status, ev.Reason)
		}
	}
	checkSeparateSessions(t, c, ids)
}

// checkSeparateSessions: each job's data went into a session of its own.
func checkSeparateSessions(t *testing.T, c *harness.Cluster, ids map[int64]string) {
	t.Helper()
	for id := range ids {
		r := c.Ferry("job", strconv.FormatInt(id, 10))
		mustOK(t, r, "ferry job")
		if !regexp.MustCompile(`Status:\s+ok`).MatchString(r.Stdout) {
			t.Errorf("job %d not ok in the catalog:\n%s", id, r.Stdout)
		}
	}
}
