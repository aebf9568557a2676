package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

func openInternal(t *testing.T) (*Catalog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

func TestPragmas(t *testing.T) {
	c, _ := openInternal(t)
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": busyTimeoutMS,
	} {
		var got string
		if err := c.w.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(got, want) {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if _, err := c.r.Exec(`DELETE FROM volumes`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestSchemaVersion(t *testing.T) {
	c, path := openInternal(t)
	v, err := schemaVersion(context.Background(), c.w)
	if err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
	}
	if _, err := c.w.Exec(`INSERT INTO schema_version VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestStagingDropped(t *testing.T) {
	c, _ := openInternal(t)
	ctx := t.Context()
	files := make([]catalog.File, 1200)
	for i := range files {
		files[i].Path = []byte{byte(i), byte(i >> 8), 1}
	}
	commit := func(id int64) error {
		return c.CommitJob(ctx, id, catalog.Result{Status: catalog.StatusOK}, 2)
	}
	end := func(id int64) error {
		return c.EndJob(ctx, id, catalog.Result{Status: catalog.StatusFailed})
	}
	for name, finish := range map[string]func(int64) error{"commit": commit, "end": end} {
		id, err := c.CreateJob(ctx, catalog.Job{Kind: catalog.KindBackup})
		if err != nil {
			t.Fatal(err)
		}
		for seq := range 2 {
			if err := c.StageFiles(ctx, id, seq, files); err != nil {
				t.Fatal(err)
			}
		}
		if n := stagedRows(t, c, id); n != 2*len(files)+2 {
			t.Fatalf("%s: %d staged rows before, want %d", name, n, 2*len(files)+2)
		}
		if err := finish(id); err != nil {
			t.Fatal(err)
		}
		if n := stagedRows(t, c, id); n != 0 {
			t.Fatalf("%s: %d staged rows left", name, n)
		}
	}
}

// stagedRows counts a job's rows in both staging tables.
func stagedRows(t *testing.T, c *Catalog, id int64) int {
	t.Helper()
	var n int
	err := c.r.QueryRow(`SELECT (SELECT COUNT(*) FROM staged_files WHERE job_id = ?)
		+ (SELECT COUNT(*) FROM staged_chunks WHERE job_id = ?)`, id, id).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStageSQL(t *testing.T) {
	got := stageSQL(2)
	if n := strings.Count(got, "?"); n != 2*stageColumnCount {
		t.Fatalf("stageSQL(2) has %d placeholders, want %d", n, 2*stageColumnCount)
	}
	if cols := strings.Count(fileColumns, ",") + 1; cols != fileColumnCount {
		t.Fatalf("fileColumns lists %d columns, fileColumnCount says %d", cols, fileColumnCount)
	}
}
