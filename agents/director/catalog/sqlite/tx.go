package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// inTx runs fn in a transaction on db, committing if fn succeeds.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// write runs fn in a transaction on the write connection.
func (c *Catalog) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, c.w, fn)
}

// querier is what *sql.DB and *sql.Tx have in common for reads.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// jobStatus returns a job's status, or ErrNotFound.
func jobStatus(ctx context.Context, q querier, id int64) (catalog.JobStatus, error) {
	var s catalog.JobStatus
	err := q.QueryRowContext(ctx, `SELECT status FROM jobs WHERE id = ?`, id).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", catalog.ErrNotFound
	}
	return s, err
}

// requireLive fails with ErrNotFound or ErrTerminal unless the job exists
// and has not ended.
func requireLive(ctx context.Context, q querier, id int64) error {
	s, err := jobStatus(ctx, q, id)
	if err != nil {
		return err
	}
	if s.Terminal() {
		return catalog.ErrTerminal
	}
	return nil
}

// requireJob fails with ErrNotFound unless the job exists.
func requireJob(ctx context.Context, q querier, id int64) error {
	_, err := jobStatus(ctx, q, id)
	return err
}
