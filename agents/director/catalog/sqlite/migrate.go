package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (
	version INTEGER PRIMARY KEY,
	applied INTEGER NOT NULL
)`

// migrate applies the migrations the database has not seen yet, each in its
// own transaction together with its schema_version row.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, createVersionTable); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	have, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this build (%d)", have, len(migrations))
	}
	for v := have; v < len(migrations); v++ {
		if err := applyMigration(ctx, db, v+1, migrations[v]); err != nil {
			return err
		}
	}
	return nil
}

// schemaVersion returns the highest applied version, 0 for a new file.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func applyMigration(ctx context.Context, db *sql.DB, version int, stmts []string) error {
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied) VALUES (?, ?)`,
			version, time.Now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("schema: migrate to version %d: %w", version, err)
	}
	return nil
}
