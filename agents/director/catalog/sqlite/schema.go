package sqlite

// migrations is the schema history: migrations[i] takes the schema from
// version i to version i+1. Append new versions; never edit old ones.
var migrations = [][]string{v1}

// v1 is the first schema.
var v1 = []string{
	`CREATE TABLE jobs (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT    NOT NULL,
		kind       TEXT    NOT NULL,
		level      TEXT    NOT NULL,
		client     TEXT    NOT NULL,
		storage    TEXT    NOT NULL,
		fileset    TEXT    NOT NULL,
		status     TEXT    NOT NULL,
		reason     TEXT    NOT NULL,
		created    INTEGER NOT NULL,
		started    INTEGER NOT NULL,
		ended      INTEGER NOT NULL,
		files      INTEGER NOT NULL,
		bytes      INTEGER NOT NULL,
		warnings   INTEGER NOT NULL,
		initiator  TEXT    NOT NULL,
		dial_from  TEXT    NOT NULL,
		dial_to    TEXT    NOT NULL,
		restore_of INTEGER NOT NULL,
		target     TEXT    NOT NULL
	)`,
	`CREATE INDEX jobs_status ON jobs(status)`,
	`CREATE TABLE staged_chunks (
		job_id INTEGER NOT NULL REFERENCES jobs(id),
		seq    INTEGER NOT NULL,
		rows   INTEGER NOT NULL,
		PRIMARY KEY (job_id, seq)
	) WITHOUT ROWID`,
	`CREATE TABLE staged_files (
		job_id INTEGER NOT NULL,
		seq    INTEGER NOT NULL,
		idx    INTEGER NOT NULL,` + fileColumnsDDL + `,
		PRIMARY KEY (job_id, seq, idx)
	) WITHOUT ROWID`,
	`CREATE TABLE files (
		id     INTEGER PRIMARY KEY,
		job_id INTEGER NOT NULL,` + fileColumnsDDL + `,
		FOREIGN KEY (job_id) REFERENCES jobs(id)
	)`,
	`CREATE INDEX files_job ON files(job_id)`,
	`CREATE TABLE media (
		job_id       INTEGER NOT NULL REFERENCES jobs(id),
		ord          INTEGER NOT NULL,
		volume       TEXT    NOT NULL,
		start_offset INTEGER NOT NULL,
		end_offset   INTEGER NOT NULL,
		PRIMARY KEY (job_id, ord)
	) WITHOUT ROWID`,
	`CREATE TABLE log (
		id      INTEGER PRIMARY KEY,
		job_id  INTEGER NOT NULL REFERENCES jobs(id),
		time    INTEGER NOT NULL,
		level   TEXT    NOT NULL,
		agent   TEXT    NOT NULL,
		message TEXT    NOT NULL
	)`,
	`CREATE INDEX log_job ON log(job_id)`,
	`CREATE TABLE volumes (
		name    TEXT    PRIMARY KEY,
		storage TEXT    NOT NULL,
		bytes   INTEGER NOT NULL,
		status  TEXT    NOT NULL,
		updated INTEGER NOT NULL
	)`,
}

// fileColumnsDDL declares the File columns shared by staged_files and
// files; the order matches fileColumns.
const fileColumnsDDL = `
		path          BLOB    NOT NULL,
		type          INTEGER NOT NULL,
		mode          INTEGER NOT NULL,
		uid           INTEGER NOT NULL,
		gid           INTEGER NOT NULL,
		mtime         INTEGER NOT NULL,
		size          INTEGER NOT NULL,
		link_target   BLOB    NOT NULL,
		checksum_algo INTEGER NOT NULL,
		checksum      BLOB    NOT NULL,
		volume        TEXT    NOT NULL,
		block_offset  INTEGER NOT NULL,
		flags         INTEGER NOT NULL`

// fileColumns lists the File columns in the order of fileColumnsDDL.
const fileColumns = `path, type, mode, uid, gid, mtime, size, link_target,
	checksum_algo, checksum, volume, block_offset, flags`

// fileColumnCount is the number of columns in fileColumns.
const fileColumnCount = 13
