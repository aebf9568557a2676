package sqlite

import (
	"context"
	"fmt"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// PutVolume implements catalog.Catalog.
func (c *Catalog) PutVolume(ctx context.Context, v catalog.Volume) error {
	if v.Name == "" {
		return fmt.Errorf("catalog: put volume: %w: empty name", catalog.ErrInvalid)
	}
	_, err := c.w.ExecContext(ctx, `INSERT INTO volumes (name, storage, bytes, status, updated)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET storage = excluded.storage, bytes = excluded.bytes,
			status = excluded.status, updated = excluded.updated`,
		v.Name, v.Storage, v.Bytes, v.Status, nanosOrNow(v.Updated))
	if err != nil {
		return fmt.Errorf("catalog: put volume %s: %w", v.Name, err)
	}
	return nil
}

// Volumes implements catalog.Catalog.
func (c *Catalog) Volumes(ctx context.Context) ([]catalog.Volume, error) {
	vols, err := c.volumes(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: volumes: %w", err)
	}
	return vols, nil
}

func (c *Catalog) volumes(ctx context.Context) ([]catalog.Volume, error) {
	rows, err := c.r.QueryContext(ctx, `SELECT name, storage, bytes, status, updated
		FROM volumes ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vols []catalog.Volume
	for rows.Next() {
		var v catalog.Volume
		var t int64
		if err := rows.Scan(&v.Name, &v.Storage, &v.Bytes, &v.Status, &t); err != nil {
			return nil, err
		}
		v.Updated = fromNanos(t)
		vols = append(vols, v)
	}
	return vols, rows.Err()
}
