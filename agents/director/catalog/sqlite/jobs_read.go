package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

const jobColumns = `id, name, kind, level, client, storage, fileset,
	status, reason, created, started, ended, files, bytes, warnings,
	initiator, dial_from, dial_to, restore_of, target`

// Job implements catalog.Catalog.
func (c *Catalog) Job(ctx context.Context, id int64) (catalog.Job, error) {
	row := c.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id)
	j, err := scanJob(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = catalog.ErrNotFound
	}
	if err != nil {
		return catalog.Job{}, fmt.Errorf("catalog: job %d: %w", id, err)
	}
	return j, nil
}

// Jobs implements catalog.Catalog.
func (c *Catalog) Jobs(ctx context.Context, f catalog.JobFilter) ([]catalog.Job, error) {
	query, args := jobsQuery(f)
	jobs, err := c.queryJobs(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: list jobs: %w", err)
	}
	return jobs, nil
}

// jobsQuery builds the SELECT for a filter.
func jobsQuery(f catalog.JobFilter) (string, []any) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Client != "" {
		where, args = append(where, "client = ?"), append(args, f.Client)
	}
	q := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = catalog.DefaultJobLimit
	}
	return q + ` ORDER BY id DESC LIMIT ?`, append(args, limit)
}

// Unfinished implements catalog.Catalog.
func (c *Catalog) Unfinished(ctx context.Context) ([]catalog.Job, error) {
	jobs, err := c.queryJobs(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE status IN (?, ?) ORDER BY id`,
		string(catalog.StatusCreated), string(catalog.StatusRunning))
	if err != nil {
		return nil, fmt.Errorf("catalog: unfinished jobs: %w", err)
	}
	return jobs, nil
}

func (c *Catalog) queryJobs(ctx context.Context, query string, args ...any) ([]catalog.Job, error) {
	rows, err := c.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []catalog.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanJob(s scanner) (catalog.Job, error) {
	var j catalog.Job
	var created, started, ended int64
	err := s.Scan(&j.ID, &j.Name, &j.Kind, &j.Level, &j.Client, &j.Storage, &j.FileSet,
		&j.Status, &j.Reason, &created, &started, &ended, &j.Files, &j.Bytes, &j.Warnings,
		&j.Initiator, &j.DialFrom, &j.DialTo, &j.RestoreOf, &j.Target)
	j.Created, j.Started, j.Ended = fromNanos(created), fromNanos(started), fromNanos(ended)
	return j, err
}
