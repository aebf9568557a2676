// Package sqlite is the SQLite backend of the director's catalog, built on
// the pure-Go driver modernc.org/sqlite.
//
// The database runs in WAL mode with synchronous=FULL, so a transaction is
// on disk when its commit returns. All writes go through one connection,
// which serialises them inside the process and keeps concurrent jobs from
// ever seeing SQLITE_BUSY; reads use a small pool of query-only
// connections that WAL lets run beside the writer.
//
// File lists are staged per chunk in staged_files, keyed by
// (job_id, seq, idx), with staged_chunks recording which chunks arrived;
// CommitJob copies them into files in (seq, idx) order, so the files rowid
// order is the staging order.
//
// The schema is versioned: schema_version holds one row per applied
// migration and Open applies the ones missing, in order.
package sqlite
