package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// readConns is the size of the read pool.
const readConns = 4

// busyTimeoutMS is how long a connection waits on a lock held by another
// process before failing.
const busyTimeoutMS = "10000"

// Catalog is a catalog.Catalog stored in one SQLite file.
type Catalog struct {
	w     *sql.DB   // the single write connection
	r     *sql.DB   // query-only read pool
	stage *sql.Stmt // full-batch staging insert, prepared on w
}

var _ catalog.Catalog = (*Catalog)(nil)

// Open opens the catalog at path, creating the file (mode 0600) and
// bringing the schema up to date.
func Open(path string) (*Catalog, error) {
	c, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	return c, nil
}

func open(path string) (*Catalog, error) {
	abs, err := createFile(path)
	if err != nil {
		return nil, err
	}
	c := &Catalog{}
	if c.w, err = openPool(abs, writerParams(), 1); err != nil {
		return nil, err
	}
	if err := c.init(); err != nil {
		c.w.Close()
		return nil, err
	}
	if c.r, err = openPool(abs, readerParams(), readConns); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// init migrates the schema and prepares the cached statements.
func (c *Catalog) init() error {
	ctx := context.Background()
	if err := migrate(ctx, c.w); err != nil {
		return err
	}
	var err error
	c.stage, err = c.w.PrepareContext(ctx, stageSQL(stageBatch))
	return err
}

// createFile makes sure the database file exists, so that SQLite does not
// create it (and its -wal and -shm companions) world-readable.
func createFile(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	return abs, f.Close()
}

func writerParams() url.Values {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+busyTimeoutMS+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return q
}

func readerParams() url.Values {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+busyTimeoutMS+")")
	q.Add("_pragma", "query_only(1)")
	return q
}

// openPool opens a pool of at most n connections to the file at abs.
func openPool(abs string, q url.Values, n int) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the catalog. It is safe to call more than once.
func (c *Catalog) Close() error {
	var errs []error
	if c.stage != nil {
		errs = append(errs, c.stage.Close())
	}
	if c.r != nil {
		errs = append(errs, c.r.Close())
	}
	errs = append(errs, c.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("catalog: close: %w", err)
	}
	return nil
}
