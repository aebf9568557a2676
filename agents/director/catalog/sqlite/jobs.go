package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

const insertJob = `INSERT INTO jobs (name, kind, level, client, storage, fileset,
	status, reason, created, started, ended, files, bytes, warnings,
	initiator, dial_from, dial_to, restore_of, target)
	VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, 0, 0, 0, 0, 0, ?, ?, ?, ?, ?)`

// CreateJob implements catalog.Catalog.
func (c *Catalog) CreateJob(ctx context.Context, j catalog.Job) (int64, error) {
	if err := checkNewJob(j); err != nil {
		return 0, fmt.Errorf("catalog: create job: %w", err)
	}
	res, err := c.w.ExecContext(ctx, insertJob,
		j.Name, string(j.Kind), j.Level, j.Client, j.Storage, j.FileSet,
		string(catalog.StatusCreated), nanosOrNow(j.Created),
		j.Initiator, j.DialFrom, j.DialTo, j.RestoreOf, j.Target)
	if err != nil {
		return 0, fmt.Errorf("catalog: create job: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("catalog: create job: %w", err)
	}
	return id, nil
}

func checkNewJob(j catalog.Job) error {
	if !j.Kind.Valid() {
		return fmt.Errorf("%w: job kind %q", catalog.ErrInvalid, j.Kind)
	}
	if j.Initiator != "" {
		return checkInitiator(j.Initiator)
	}
	return nil
}

func checkInitiator(s string) error {
	if s != catalog.InitiatorSD && s != catalog.InitiatorFD {
		return fmt.Errorf("%w: initiator %q", catalog.ErrInvalid, s)
	}
	return nil
}

// MarkRunning implements catalog.Catalog.
func (c *Catalog) MarkRunning(ctx context.Context, id int64, started time.Time) error {
	err := c.updateLive(ctx, id, `UPDATE jobs SET status = ?, started = ? WHERE id = ?`,
		string(catalog.StatusRunning), nanosOrNow(started), id)
	if err != nil {
		return fmt.Errorf("catalog: mark job %d running: %w", id, err)
	}
	return nil
}

// SetDataChannel implements catalog.Catalog.
func (c *Catalog) SetDataChannel(ctx context.Context, id int64, initiator, from, to string) error {
	err := checkInitiator(initiator)
	if err == nil {
		err = c.updateLive(ctx, id, `UPDATE jobs SET initiator = ?, dial_from = ?, dial_to = ? WHERE id = ?`,
			initiator, from, to, id)
	}
	if err != nil {
		return fmt.Errorf("catalog: set data channel of job %d: %w", id, err)
	}
	return nil
}

// updateLive runs one statement on a job that must exist and not have
// ended.
func (c *Catalog) updateLive(ctx context.Context, id int64, query string, args ...any) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		if err := requireLive(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}
