package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// CommitJob implements catalog.Catalog.
func (c *Catalog) CommitJob(ctx context.Context, id int64, r catalog.Result, chunks int) error {
	err := checkResult(r)
	if err == nil && chunks < 0 {
		err = fmt.Errorf("%w: negative chunk count %d", catalog.ErrInvalid, chunks)
	}
	if err == nil {
		err = c.write(ctx, func(tx *sql.Tx) error {
			if err := requireLive(ctx, tx, id); err != nil {
				return err
			}
			if err := requireChunks(ctx, tx, id, chunks); err != nil {
				return err
			}
			if err := moveStaged(ctx, tx, id); err != nil {
				return err
			}
			return finish(ctx, tx, id, r)
		})
	}
	if err != nil {
		return fmt.Errorf("catalog: commit job %d: %w", id, err)
	}
	return nil
}

// EndJob implements catalog.Catalog.
func (c *Catalog) EndJob(ctx context.Context, id int64, r catalog.Result) error {
	err := checkResult(r)
	if err == nil {
		err = c.write(ctx, func(tx *sql.Tx) error {
			if err := requireLive(ctx, tx, id); err != nil {
				return err
			}
			if err := dropStaged(ctx, tx, id); err != nil {
				return err
			}
			return finish(ctx, tx, id, r)
		})
	}
	if err != nil {
		return fmt.Errorf("catalog: end job %d: %w", id, err)
	}
	return nil
}

func checkResult(r catalog.Result) error {
	if !r.Status.Terminal() {
		return fmt.Errorf("%w: result status %q is not terminal", catalog.ErrInvalid, r.Status)
	}
	return nil
}

// requireChunks fails with ErrIncomplete unless the staged chunks of the
// job are exactly 0..chunks-1. Chunk numbers are unique per job, so count,
// minimum and maximum settle it.
func requireChunks(ctx context.Context, tx *sql.Tx, id int64, chunks int) error {
	var n, lo, hi int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), -1)
		FROM staged_chunks WHERE job_id = ?`, id).Scan(&n, &lo, &hi)
	if err != nil {
		return err
	}
	if n != chunks || lo != 0 || hi != chunks-1 {
		return fmt.Errorf("%w: want chunks 0..%d, have %d chunks in %d..%d",
			catalog.ErrIncomplete, chunks-1, n, lo, hi)
	}
	return nil
}

// moveStaged copies the staged rows into files in staging order and drops
// them.
func moveStaged(ctx context.Context, tx *sql.Tx, id int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO files (job_id, `+fileColumns+`)
		SELECT job_id, `+fileColumns+` FROM staged_files
		WHERE job_id = ? ORDER BY seq, idx`, id)
	if err != nil {
		return err
	}
	return dropStaged(ctx, tx, id)
}

func dropStaged(ctx context.Context, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM staged_files WHERE job_id = ?`, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM staged_chunks WHERE job_id = ?`, id)
	return err
}

// finish stores the media and the result of a job.
func finish(ctx context.Context, tx *sql.Tx, id int64, r catalog.Result) error {
	for i, m := range r.Media {
		_, err := tx.ExecContext(ctx, `INSERT INTO media (job_id, ord, volume, start_offset, end_offset)
			VALUES (?, ?, ?, ?, ?)`, id, i, m.Volume, m.StartOffset, m.EndOffset)
		if err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET status = ?, reason = ?, ended = ?,
		files = ?, bytes = ?, warnings = ? WHERE id = ?`,
		string(r.Status), r.Reason, nanosOrNow(r.Ended), r.Files, r.Bytes, r.Warnings, id)
	return err
}
