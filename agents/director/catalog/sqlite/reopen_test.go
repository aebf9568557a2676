package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/agents/director/catalog/sqlite"
)

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "odd ?name#1.db")
	c, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateJob(ctx, catalog.Job{Name: "keep", Kind: catalog.KindBackup})
	if err != nil {
		t.Fatal(err)
	}
	files := []catalog.File{{Path: []byte("/a\xff")}, {Path: []byte("/b")}}
	mustDo(t, c.StageFiles(ctx, id, 0, files))
	mustDo(t, c.CommitJob(ctx, id, catalog.Result{Status: catalog.StatusOK, Files: 2}, 1))
	live, err := c.CreateJob(ctx, catalog.Job{Name: "live", Kind: catalog.KindBackup})
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, c.StageFiles(ctx, live, 0, files))
	mustDo(t, c.Close())

	c, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if j, err := c.Job(ctx, id); err != nil || j.Status != catalog.StatusOK || j.Files != 2 {
		t.Fatalf("reopened job: %+v, %v", j, err)
	}
	n := 0
	mustDo(t, c.JobFiles(ctx, id, func(catalog.File) error { n++; return nil }))
	if n != 2 {
		t.Fatalf("reopened job has %d files, want 2", n)
	}
	// Staged chunks survive a restart, so the live job can still commit.
	mustDo(t, c.CommitJob(ctx, live, catalog.Result{Status: catalog.StatusOK}, 1))
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Fatalf("catalog file mode %v, want 0600", mode)
	}
}

func TestOpenMissingDir(t *testing.T) {
	if _, err := sqlite.Open(filepath.Join(t.TempDir(), "missing", "catalog.db")); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
