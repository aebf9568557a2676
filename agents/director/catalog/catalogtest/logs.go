package catalogtest

import (
	"slices"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

func testLogs(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	a, b := create(t, c, backupJob("a")), create(t, c, backupJob("b"))
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 1, time.UTC)
	entries := []catalog.LogEntry{
		{JobID: a, Time: t0, Level: catalog.LevelInfo, Agent: "director", Message: "start"},
		{JobID: b, Time: t0, Level: catalog.LevelInfo, Agent: "director", Message: "start b"},
		{JobID: a, Time: t0.Add(time.Second), Level: catalog.LevelWarning, Agent: "fd", Message: "cannot stat /x\n"},
		{JobID: a, Time: t0, Level: catalog.LevelError, Agent: "sd", Message: "same time, later entry"},
	}
	must(t, c.AppendLog(ctx, entries[:2]))
	must(t, c.AppendLog(ctx, entries[2:]))
	must(t, c.AppendLog(ctx, nil))

	checkLog(t, c, a, []catalog.LogEntry{entries[0], entries[2], entries[3]})
	checkLog(t, c, b, entries[1:2])

	// A batch with an unknown job stores nothing.
	err := c.AppendLog(ctx, []catalog.LogEntry{{JobID: b, Message: "lost"}, {JobID: 999999, Message: "x"}})
	wantErr(t, "AppendLog with unknown job", err, catalog.ErrNotFound)
	checkLog(t, c, b, entries[1:2])

	before := time.Now()
	must(t, c.AppendLog(ctx, []catalog.LogEntry{{JobID: b, Level: catalog.LevelInfo, Message: "now"}}))
	got, err := c.JobLog(ctx, b)
	must(t, err)
	if last := got[len(got)-1].Time; last.Before(before.Add(-time.Second)) {
		t.Fatalf("zero log time stored as %v, want about %v", last, before)
	}
}

// checkLog fails unless the job's log is want, in order.
func checkLog(t *testing.T, c catalog.Catalog, id int64, want []catalog.LogEntry) {
	t.Helper()
	got, err := c.JobLog(t.Context(), id)
	must(t, err)
	eq := func(x, y catalog.LogEntry) bool {
		return x.JobID == y.JobID && x.Time.Equal(y.Time) && x.Level == y.Level &&
			x.Agent == y.Agent && x.Message == y.Message
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Fatalf("JobLog(%d) = %+v, want %+v", id, got, want)
	}
}
