package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/agents/director/catalog/catalogtest"
	"github.com/ferrybackup/ferry/agents/director/catalog/sqlite"
)

func openTemp(t testing.TB) *sqlite.Catalog {
	t.Helper()
	c, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog { return openTemp(t) })
}
