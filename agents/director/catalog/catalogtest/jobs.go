package catalogtest

import (
	"slices"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

func testCreateAndGet(t *testing.T, c catalog.Catalog) {
	created := time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC)
	in := backupJob("nightly")
	in.Created = created
	in.Initiator, in.DialFrom, in.DialTo = catalog.InitiatorSD, "10.0.0.1:40000", "10.0.0.2:9103"
	in.Status, in.Reason, in.Files = catalog.StatusOK, "ignored", 99 // ignored by CreateJob
	id := create(t, c, in)

	want := in
	want.ID, want.Status, want.Reason, want.Files = id, catalog.StatusCreated, "", 0
	checkJob(t, getJob(t, c, id), want)

	before := time.Now()
	id2 := create(t, c, backupJob("defaulted"))
	got := getJob(t, c, id2)
	if got.Created.Before(before.Add(-time.Second)) || got.Created.After(time.Now().Add(time.Second)) {
		t.Fatalf("Created defaulted to %v, want about %v", got.Created, before)
	}
	if id2 == id {
		t.Fatalf("two jobs got ID %d", id)
	}
}

func testCreateInvalid(t *testing.T, c catalog.Catalog) {
	bad := backupJob("bad")
	bad.Kind = "archive"
	_, err := c.CreateJob(t.Context(), bad)
	wantErr(t, "CreateJob with unknown kind", err, catalog.ErrInvalid)

	bad = backupJob("bad")
	bad.Initiator = "director"
	_, err = c.CreateJob(t.Context(), bad)
	wantErr(t, "CreateJob with unknown initiator", err, catalog.ErrInvalid)

	jobs, err := c.Jobs(t.Context(), catalog.JobFilter{})
	must(t, err)
	if len(jobs) != 0 {
		t.Fatalf("rejected jobs were stored: %+v", jobs)
	}
}

func testListAndFilter(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	var all []int64
	for i, client := range []string{"a", "b", "a", "c", "a"} {
		j := backupJob("job")
		j.Client = client
		id := create(t, c, j)
		all = append(all, id)
		if i%2 == 1 {
			must(t, c.EndJob(ctx, id, catalog.Result{Status: catalog.StatusFailed}))
		}
	}
	slices.Reverse(all) // newest first

	check := func(f catalog.JobFilter, want []int64) {
		t.Helper()
		jobs, err := c.Jobs(ctx, f)
		must(t, err)
		if got := ids(jobs); !slices.Equal(got, want) {
			t.Fatalf("Jobs(%+v) = %v, want %v", f, got, want)
		}
	}
	check(catalog.JobFilter{}, all)
	check(catalog.JobFilter{Limit: 2}, all[:2])
	check(catalog.JobFilter{Client: "a"}, []int64{all[0], all[2], all[4]})
	check(catalog.JobFilter{Status: catalog.StatusFailed}, []int64{all[1], all[3]})
	check(catalog.JobFilter{Status: catalog.StatusCreated, Client: "a", Limit: 1}, []int64{all[0]})
	check(catalog.JobFilter{Client: "nobody"}, nil)
}

func testDefaultLimit(t *testing.T, c catalog.Catalog) {
	n := catalog.DefaultJobLimit + 5
	for range n {
		create(t, c, backupJob("many"))
	}
	jobs, err := c.Jobs(t.Context(), catalog.JobFilter{})
	must(t, err)
	if len(jobs) != catalog.DefaultJobLimit {
		t.Fatalf("Jobs with no limit returned %d jobs, want %d", len(jobs), catalog.DefaultJobLimit)
	}
	jobs, err = c.Jobs(t.Context(), catalog.JobFilter{Limit: n})
	must(t, err)
	if len(jobs) != n {
		t.Fatalf("Jobs with limit %d returned %d jobs", n, len(jobs))
	}
}

func testRunningAndDataChannel(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("run"))
	started := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	must(t, c.MarkRunning(ctx, id, started))
	must(t, c.SetDataChannel(ctx, id, catalog.InitiatorFD, "[::1]:50000", "[::1]:9103"))

	j := getJob(t, c, id)
	if j.Status != catalog.StatusRunning || j.Initiator != catalog.InitiatorFD ||
		j.DialFrom != "[::1]:50000" || j.DialTo != "[::1]:9103" {
		t.Fatalf("after MarkRunning and SetDataChannel: %+v", j)
	}
	checkTime(t, "Started", j.Started, started)

	err := c.SetDataChannel(ctx, id, "bogus", "", "")
	wantErr(t, "SetDataChannel with unknown initiator", err, catalog.ErrInvalid)

	must(t, c.EndJob(ctx, id, catalog.Result{Status: catalog.StatusCanceled}))
	wantErr(t, "MarkRunning after end", c.MarkRunning(ctx, id, time.Now()), catalog.ErrTerminal)
	err = c.SetDataChannel(ctx, id, catalog.InitiatorSD, "a:1", "b:2")
	wantErr(t, "SetDataChannel after end", err, catalog.ErrTerminal)
	if got := getJob(t, c, id); got.Status != catalog.StatusCanceled || got.Initiator != catalog.InitiatorFD {
		t.Fatalf("job changed after end: %+v", got)
	}
}

func testUnfinished(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	created := create(t, c, backupJob("created"))
	running := create(t, c, backupJob("running"))
	must(t, c.MarkRunning(ctx, running, time.Time{}))
	failed := create(t, c, backupJob("failed"))
	must(t, c.EndJob(ctx, failed, catalog.Result{Status: catalog.StatusFailed, Reason: "fd gone"}))
	done := create(t, c, backupJob("done"))
	must(t, c.CommitJob(ctx, done, okResult(0), 0))

	jobs, err := c.Unfinished(ctx)
	must(t, err)
	if got := ids(jobs); !slices.Equal(got, []int64{created, running}) {
		t.Fatalf("Unfinished = %v, want %v", got, []int64{created, running})
	}
	if jobs[1].Status != catalog.StatusRunning || jobs[1].Started.IsZero() {
		t.Fatalf("running job: %+v", jobs[1])
	}
}

func testNotFound(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	const id = 4242
	_, err := c.Job(ctx, id)
	wantErr(t, "Job", err, catalog.ErrNotFound)
	wantErr(t, "MarkRunning", c.MarkRunning(ctx, id, time.Now()), catalog.ErrNotFound)
	wantErr(t, "SetDataChannel", c.SetDataChannel(ctx, id, catalog.InitiatorSD, "a:1", "b:2"), catalog.ErrNotFound)
	wantErr(t, "StageFiles", c.StageFiles(ctx, id, 0, makeFiles("x", 1)), catalog.ErrNotFound)
	wantErr(t, "CommitJob", c.CommitJob(ctx, id, okResult(0), 0), catalog.ErrNotFound)
	wantErr(t, "EndJob", c.EndJob(ctx, id, catalog.Result{Status: catalog.StatusFailed}), catalog.ErrNotFound)
	wantErr(t, "JobFiles", c.JobFiles(ctx, id, func(catalog.File) error { return nil }), catalog.ErrNotFound)
	_, err = c.JobMedia(ctx, id)
	wantErr(t, "JobMedia", err, catalog.ErrNotFound)
	_, err = c.JobLog(ctx, id)
	wantErr(t, "JobLog", err, catalog.ErrNotFound)
	err = c.AppendLog(ctx, []catalog.LogEntry{{JobID: id, Level: catalog.LevelInfo, Message: "x"}})
	wantErr(t, "AppendLog", err, catalog.ErrNotFound)
}
