package catalogtest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

func testCommitResult(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("result"))
	must(t, c.MarkRunning(ctx, id, time.Time{}))
	stage(t, c, id, 0, makeFiles("r", 2))
	ended := time.Date(2025, 6, 7, 8, 9, 10, 11, time.UTC)
	media := []catalog.Media{{Volume: "vol-2", StartOffset: 4096, EndOffset: 9000}, {Volume: "vol-1", StartOffset: 0, EndOffset: 700}}
	r := catalog.Result{Status: catalog.StatusWarnings, Reason: "2 files changed", Ended: ended,
		Files: 2, Bytes: 12345, Warnings: 2, Media: media}
	must(t, c.CommitJob(ctx, id, r, 1))

	j := getJob(t, c, id)
	if j.Status != r.Status || j.Reason != r.Reason || j.Files != 2 || j.Bytes != 12345 || j.Warnings != 2 {
		t.Fatalf("job after commit: %+v", j)
	}
	checkTime(t, "Ended", j.Ended, ended)
	checkMedia(t, c, id, media)
}

// checkMedia fails unless the job's media are want, in order.
func checkMedia(t *testing.T, c catalog.Catalog, id int64, want []catalog.Media) {
	t.Helper()
	got, err := c.JobMedia(t.Context(), id)
	must(t, err)
	want = slices.Clone(want)
	for i := range want {
		want[i].JobID = id
	}
	if !slices.Equal(got, want) {
		t.Fatalf("JobMedia = %+v, want %+v", got, want)
	}
}

func testCommitEmpty(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	none := create(t, c, backupJob("nothing staged"))
	must(t, c.CommitJob(ctx, none, okResult(0), 0))
	empty := create(t, c, backupJob("empty chunk"))
	stage(t, c, empty, 0, nil)
	err := c.CommitJob(ctx, empty, okResult(0), 0)
	wantErr(t, "CommitJob(0) with chunk 0 staged", err, catalog.ErrIncomplete)
	must(t, c.CommitJob(ctx, empty, okResult(0), 1))
	for _, id := range []int64{none, empty} {
		if got := jobFiles(t, c, id); len(got) != 0 {
			t.Fatalf("job %d has %d files", id, len(got))
		}
		if j := getJob(t, c, id); j.Status != catalog.StatusOK || j.Ended.IsZero() {
			t.Fatalf("job %d after commit: %+v", id, j)
		}
	}
}

func testCommitMissingChunk(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("gap"))
	must(t, c.MarkRunning(ctx, id, time.Time{}))
	chunks := [][]catalog.File{makeFiles("0", 2), makeFiles("1", 2), makeFiles("2", 2)}
	stage(t, c, id, 0, chunks[0])
	stage(t, c, id, 2, chunks[2])
	before := getJob(t, c, id)

	err := c.CommitJob(ctx, id, catalog.Result{Status: catalog.StatusOK, Files: 6, Media: []catalog.Media{{Volume: "v"}}}, 3)
	wantErr(t, "CommitJob with chunk 1 missing", err, catalog.ErrIncomplete)
	checkJob(t, getJob(t, c, id), before)
	if got := jobFiles(t, c, id); len(got) != 0 {
		t.Fatalf("failed commit left %d files", len(got))
	}
	checkMedia(t, c, id, nil)

	stage(t, c, id, 1, chunks[1]) // the staged chunks survived the failed commit
	must(t, c.CommitJob(ctx, id, okResult(6), 3))
	checkFiles(t, id, jobFiles(t, c, id), slices.Concat(chunks...))
}

func testCommitExtraChunk(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("extra"))
	for seq := range 3 {
		stage(t, c, id, seq, makeFiles("x", 1))
	}
	wantErr(t, "CommitJob(2) with 3 chunks", c.CommitJob(ctx, id, okResult(2), 2), catalog.ErrIncomplete)
	wantErr(t, "CommitJob(4) with 3 chunks", c.CommitJob(ctx, id, okResult(4), 4), catalog.ErrIncomplete)
	if j := getJob(t, c, id); j.Status != catalog.StatusCreated {
		t.Fatalf("job after failed commits: %+v", j)
	}
	must(t, c.CommitJob(ctx, id, okResult(3), 3))

	shifted := create(t, c, backupJob("shifted")) // chunks 1..3: right count, wrong numbers
	for seq := 1; seq <= 3; seq++ {
		stage(t, c, shifted, seq, makeFiles("y", 1))
	}
	wantErr(t, "CommitJob(3) with chunks 1..3", c.CommitJob(ctx, shifted, okResult(3), 3), catalog.ErrIncomplete)
}

func testCommitTwice(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("twice"))
	files := makeFiles("t", 3)
	stage(t, c, id, 0, files)
	must(t, c.CommitJob(ctx, id, okResult(3), 1))
	after := getJob(t, c, id)

	wantErr(t, "second CommitJob", c.CommitJob(ctx, id, okResult(3), 1), catalog.ErrTerminal)
	wantErr(t, "CommitJob(0) after commit", c.CommitJob(ctx, id, okResult(0), 0), catalog.ErrTerminal)
	err := c.EndJob(ctx, id, catalog.Result{Status: catalog.StatusFailed})
	wantErr(t, "EndJob after commit", err, catalog.ErrTerminal)
	checkJob(t, getJob(t, c, id), after)
	checkFiles(t, id, jobFiles(t, c, id), files)
}

func testCommitInvalidResult(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("invalid"))
	stage(t, c, id, 0, makeFiles("i", 1))
	for _, s := range []catalog.JobStatus{"", catalog.StatusRunning, catalog.StatusCreated, "done"} {
		err := c.CommitJob(ctx, id, catalog.Result{Status: s}, 1)
		wantErr(t, "CommitJob with status "+string(s), err, catalog.ErrInvalid)
		err = c.EndJob(ctx, id, catalog.Result{Status: s})
		wantErr(t, "EndJob with status "+string(s), err, catalog.ErrInvalid)
	}
	wantErr(t, "CommitJob with -1 chunks", c.CommitJob(ctx, id, okResult(1), -1), catalog.ErrInvalid)
	wantErr(t, "StageFiles with seq -1", c.StageFiles(ctx, id, -1, nil), catalog.ErrInvalid)
	if j := getJob(t, c, id); j.Status != catalog.StatusCreated {
		t.Fatalf("job after rejected results: %+v", j)
	}
	must(t, c.CommitJob(ctx, id, okResult(1), 1))
}

func testEndJobDropsStaged(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("fails"))
	must(t, c.MarkRunning(ctx, id, time.Time{}))
	stage(t, c, id, 0, makeFiles("f", 10))
	stage(t, c, id, 1, makeFiles("g", 10))
	media := []catalog.Media{{Volume: "vol-9", StartOffset: 10, EndOffset: 20}}
	r := catalog.Result{Status: catalog.StatusFailed, Reason: "sd lost", Files: 20, Media: media}
	must(t, c.EndJob(ctx, id, r))

	j := getJob(t, c, id)
	if j.Status != catalog.StatusFailed || j.Reason != "sd lost" || j.Ended.IsZero() {
		t.Fatalf("job after EndJob: %+v", j)
	}
	if got := jobFiles(t, c, id); len(got) != 0 {
		t.Fatalf("EndJob kept %d files", len(got))
	}
	checkMedia(t, c, id, media)
	wantErr(t, "CommitJob after EndJob", c.CommitJob(ctx, id, okResult(20), 2), catalog.ErrTerminal)
	wantErr(t, "EndJob twice", c.EndJob(ctx, id, r), catalog.ErrTerminal)
}

func testEndRestore(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	backup := create(t, c, backupJob("source"))
	must(t, c.CommitJob(ctx, backup, okResult(0), 0))
	restore := create(t, c, catalog.Job{Name: "restore", Kind: catalog.KindRestore,
		Client: "client-2", Storage: "storage-1", RestoreOf: backup, Target: "/tmp/restore"})
	must(t, c.MarkRunning(ctx, restore, time.Time{}))
	must(t, c.EndJob(ctx, restore, catalog.Result{Status: catalog.StatusOK, Files: 7, Bytes: 700}))

	j := getJob(t, c, restore)
	if j.Kind != catalog.KindRestore || j.RestoreOf != backup || j.Target != "/tmp/restore" ||
		j.Status != catalog.StatusOK || j.Files != 7 || j.Bytes != 700 {
		t.Fatalf("restore job: %+v", j)
	}
}

func testJobFilesStops(t *testing.T, c catalog.Catalog) {
	id := create(t, c, backupJob("stop"))
	stage(t, c, id, 0, makeFiles("s", 10))
	must(t, c.CommitJob(t.Context(), id, okResult(10), 1))
	stop := errors.New("stop here")
	n := 0
	err := c.JobFiles(t.Context(), id, func(catalog.File) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	wantErr(t, "JobFiles with failing callback", err, stop)
	if n != 3 {
		t.Fatalf("callback ran %d times after failing at 3", n)
	}
}
