package catalogtest

import (
	"slices"
	"testing"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

func testStageIdempotent(t *testing.T, c catalog.Catalog) {
	id := create(t, c, backupJob("idem"))
	chunk0, chunk1 := makeFiles("c0", 3), makeFiles("c1", 2)
	stage(t, c, id, 0, chunk0)
	stage(t, c, id, 0, chunk0) // resent
	stage(t, c, id, 1, chunk1)
	stage(t, c, id, 0, chunk0) // resent late
	stage(t, c, id, 1, chunk1)
	must(t, c.CommitJob(t.Context(), id, okResult(5), 2))
	checkFiles(t, id, jobFiles(t, c, id), slices.Concat(chunk0, chunk1))
}

func testStageOrder(t *testing.T, c catalog.Catalog) {
	id := create(t, c, backupJob("order"))
	chunks := [][]catalog.File{makeFiles("a", 4), makeFiles("b", 1), makeFiles("c", 3)}
	for _, seq := range []int{2, 0, 1} {
		stage(t, c, id, seq, chunks[seq])
	}
	must(t, c.CommitJob(t.Context(), id, okResult(8), 3))
	checkFiles(t, id, jobFiles(t, c, id), slices.Concat(chunks...))
}

// testStageLarge crosses every batch and page size a backend is likely to
// use, staging an empty chunk on the way, and calls the catalog from
// inside the JobFiles callback.
func testStageLarge(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("large"))
	chunks := [][]catalog.File{makeFiles("a", 1234), nil, makeFiles("b", 501), makeFiles("c", 1000)}
	for seq, files := range chunks {
		stage(t, c, id, seq, files)
	}
	must(t, c.CommitJob(ctx, id, okResult(2735), len(chunks)))

	var got []catalog.File
	err := c.JobFiles(ctx, id, func(f catalog.File) error {
		if len(got)%700 == 0 {
			if _, err := c.Job(ctx, id); err != nil {
				return err
			}
			must(t, c.AppendLog(ctx, []catalog.LogEntry{{JobID: id, Level: catalog.LevelInfo, Message: "reading"}}))
		}
		got = append(got, f)
		return nil
	})
	must(t, err)
	checkFiles(t, id, got, slices.Concat(chunks...))
}

func testStageAfterEnd(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	id := create(t, c, backupJob("late"))
	must(t, c.CommitJob(ctx, id, okResult(0), 0))
	err := c.StageFiles(ctx, id, 0, makeFiles("late", 2))
	wantErr(t, "StageFiles after commit", err, catalog.ErrTerminal)
	if got := jobFiles(t, c, id); len(got) != 0 {
		t.Fatalf("late chunk became %d files", len(got))
	}
}
