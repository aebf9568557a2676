package sqlite

import (
	"context"
	"fmt"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// filesPage is how many files JobFiles reads per query. Each page is read
// completely before fn sees it, so no read is open while fn runs.
const filesPage = 1000

// JobFiles implements catalog.Catalog.
func (c *Catalog) JobFiles(ctx context.Context, id int64, fn func(catalog.File) error) error {
	if err := requireJob(ctx, c.r, id); err != nil {
		return fmt.Errorf("catalog: files of job %d: %w", id, err)
	}
	for after := int64(0); ; {
		page, last, err := c.filesPage(ctx, id, after)
		if err != nil {
			return fmt.Errorf("catalog: files of job %d: %w", id, err)
		}
		for _, f := range page {
			if err := fn(f); err != nil {
				return err
			}
		}
		if len(page) < filesPage {
			return nil
		}
		after = last
	}
}

// filesPage returns the next files of job id after rowid after, and the
// rowid of the last one.
func (c *Catalog) filesPage(ctx context.Context, id, after int64) ([]catalog.File, int64, error) {
	rows, err := c.r.QueryContext(ctx, `SELECT id, `+fileColumns+` FROM files
		WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?`, id, after, filesPage)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	page := make([]catalog.File, 0, filesPage)
	for rows.Next() {
		f, rowid, err := scanFile(rows)
		if err != nil {
			return nil, 0, err
		}
		f.JobID, after = id, rowid
		page = append(page, f)
	}
	return page, after, rows.Err()
}

func scanFile(s scanner) (catalog.File, int64, error) {
	var f catalog.File
	var rowid, typ, mode, uid, gid, algo, flags int64
	err := s.Scan(&rowid, &f.Path, &typ, &mode, &uid, &gid, &f.Mtime, &f.Size, &f.LinkTarget,
		&algo, &f.Checksum, &f.Volume, &f.BlockOffset, &flags)
	f.Type, f.Mode, f.UID, f.GID = uint8(typ), uint32(mode), uint32(uid), uint32(gid)
	f.ChecksumAlgo, f.Flags = uint8(algo), uint32(flags)
	f.Path, f.LinkTarget, f.Checksum = unblob(f.Path), unblob(f.LinkTarget), unblob(f.Checksum)
	return f, rowid, err
}
