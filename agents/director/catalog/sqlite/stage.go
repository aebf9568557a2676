package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// stageBatch is the number of rows per multi-row INSERT.
const stageBatch = 500

// stageColumnCount is the number of bound values per staged row.
const stageColumnCount = 3 + fileColumnCount

// StageFiles implements catalog.Catalog.
func (c *Catalog) StageFiles(ctx context.Context, jobID int64, seq int, files []catalog.File) error {
	err := c.stageFiles(ctx, jobID, seq, files)
	if err != nil {
		return fmt.Errorf("catalog: stage job %d chunk %d: %w", jobID, seq, err)
	}
	return nil
}

func (c *Catalog) stageFiles(ctx context.Context, jobID int64, seq int, files []catalog.File) error {
	if seq < 0 {
		return fmt.Errorf("%w: negative chunk number", catalog.ErrInvalid)
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		if err := requireLive(ctx, tx, jobID); err != nil {
			return err
		}
		fresh, err := addChunk(ctx, tx, jobID, seq, len(files))
		if err != nil || !fresh {
			return err
		}
		return c.insertStaged(ctx, tx, jobID, seq, files)
	})
}

// addChunk records chunk seq and reports whether it is new.
func addChunk(ctx context.Context, tx *sql.Tx, jobID int64, seq, rows int) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO staged_chunks (job_id, seq, rows)
		VALUES (?, ?, ?)`, jobID, seq, rows)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// insertStaged inserts files in batches of stageBatch rows.
func (c *Catalog) insertStaged(ctx context.Context, tx *sql.Tx, jobID int64, seq int, files []catalog.File) error {
	full := tx.StmtContext(ctx, c.stage)
	defer full.Close()
	args := make([]any, 0, stageBatch*stageColumnCount)
	for start := 0; start < len(files); start += stageBatch {
		batch := files[start:min(start+stageBatch, len(files))]
		args = appendStageArgs(args[:0], jobID, seq, start, batch)
		var err error
		if len(batch) == stageBatch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, stageSQL(len(batch)), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// appendStageArgs appends the bound values of batch, whose first file has
// index first within the chunk.
func appendStageArgs(args []any, jobID int64, seq, first int, batch []catalog.File) []any {
	for i, f := range batch {
		args = append(args, jobID, seq, first+i,
			blob(f.Path), f.Type, f.Mode, f.UID, f.GID, f.Mtime, f.Size, blob(f.LinkTarget),
			f.ChecksumAlgo, blob(f.Checksum), f.Volume, f.BlockOffset, f.Flags)
	}
	return args
}

// stageSQL is the INSERT of n staged rows.
func stageSQL(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", stageColumnCount), ",") + ")"
	var b strings.Builder
	b.WriteString(`INSERT OR IGNORE INTO staged_files (job_id, seq, idx, ` + fileColumns + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}
