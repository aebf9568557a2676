package harness

import (
	"context"
	"path/filepath"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/agents/director/catalog/sqlite"
)

// JobFiles reads a job's file rows straight from the director's catalog
// (SQLite in WAL mode takes a second reader while the director runs).
func (c *Cluster) JobFiles(id int64) []catalog.File {
	c.t.Helper()
	cat, err := sqlite.Open(filepath.Join(c.Dir, "director", "catalog.db"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cat.Close()
	var out []catalog.File
	if err := cat.JobFiles(context.Background(), id, func(f catalog.File) error {
		out = append(out, f)
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
	return out
}
