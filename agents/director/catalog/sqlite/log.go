package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// AppendLog implements catalog.Catalog.
func (c *Catalog) AppendLog(ctx context.Context, entries []catalog.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		if err := requireJobsOf(ctx, tx, entries); err != nil {
			return err
		}
		return insertLog(ctx, tx, entries)
	})
	if err != nil {
		return fmt.Errorf("catalog: append log: %w", err)
	}
	return nil
}

// requireJobsOf fails with ErrNotFound unless every entry's job exists.
func requireJobsOf(ctx context.Context, tx *sql.Tx, entries []catalog.LogEntry) error {
	seen := map[int64]bool{}
	for _, e := range entries {
		if seen[e.JobID] {
			continue
		}
		if err := requireJob(ctx, tx, e.JobID); err != nil {
			return fmt.Errorf("job %d: %w", e.JobID, err)
		}
		seen[e.JobID] = true
	}
	return nil
}

func insertLog(ctx context.Context, tx *sql.Tx, entries []catalog.LogEntry) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO log (job_id, time, level, agent, message)
		VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, e.JobID, nanosOrNow(e.Time), e.Level, e.Agent, e.Message); err != nil {
			return err
		}
	}
	return nil
}

// JobLog implements catalog.Catalog.
func (c *Catalog) JobLog(ctx context.Context, id int64) ([]catalog.LogEntry, error) {
	entries, err := c.jobLog(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("catalog: log of job %d: %w", id, err)
	}
	return entries, nil
}

func (c *Catalog) jobLog(ctx context.Context, id int64) ([]catalog.LogEntry, error) {
	if err := requireJob(ctx, c.r, id); err != nil {
		return nil, err
	}
	rows, err := c.r.QueryContext(ctx, `SELECT time, level, agent, message
		FROM log WHERE job_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var entries []catalog.LogEntry
	for rows.Next() {
		e := catalog.LogEntry{JobID: id}
		var t int64
		if err := rows.Scan(&t, &e.Level, &e.Agent, &e.Message); err != nil {
			return nil, err
		}
		e.Time = fromNanos(t)
		entries = append(entries, e)
	}
	return entries, rows.Err()
}
