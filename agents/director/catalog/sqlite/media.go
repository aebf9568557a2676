package sqlite

import (
	"context"
	"fmt"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// JobMedia implements catalog.Catalog.
func (c *Catalog) JobMedia(ctx context.Context, id int64) ([]catalog.Media, error) {
	media, err := c.jobMedia(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("catalog: media of job %d: %w", id, err)
	}
	return media, nil
}

func (c *Catalog) jobMedia(ctx context.Context, id int64) ([]catalog.Media, error) {
	if err := requireJob(ctx, c.r, id); err != nil {
		return nil, err
	}
	rows, err := c.r.QueryContext(ctx, `SELECT volume, start_offset, end_offset
		FROM media WHERE job_id = ? ORDER BY ord`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var media []catalog.Media
	for rows.Next() {
		m := catalog.Media{JobID: id}
		if err := rows.Scan(&m.Volume, &m.StartOffset, &m.EndOffset); err != nil {
			return nil, err
		}
		media = append(media, m)
	}
	return media, rows.Err()
}
