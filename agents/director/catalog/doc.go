// Package catalog defines the director's catalog: the durable record of
// jobs, the files each backup saved, where on which volume they went, the
// job logs and the volumes themselves.
//
// The package holds only the contract: the [Catalog] interface, its value
// types and its sentinel errors. Backends live in subpackages (sqlite now,
// PostgreSQL later) and all of them must pass the conformance suite in
// package catalogtest.
//
// # Job lifecycle
//
// A job is created with [Catalog.CreateJob] (status created), marked running
// with [Catalog.MarkRunning], and records how its data socket was dialed with
// [Catalog.SetDataChannel]. While a backup runs, the file list arrives in
// numbered chunks (seq 0, 1, 2, ...) that are staged with
// [Catalog.StageFiles]; staging is idempotent per (job, seq), so a chunk that
// is sent twice is stored once. The job then ends exactly once, either with
// [Catalog.CommitJob], which in one transaction checks that every chunk is
// present, moves the staged rows into the file list, records the media and
// the result, or with [Catalog.EndJob], which records the result and throws
// the staged rows away. Once a job has a terminal status every further
// attempt to end it, stage into it or mark it fails with [ErrTerminal].
//
// # Values
//
// Times are stored as UTC nanoseconds since the Unix epoch; the zero
// [time.Time] is stored as 0 and read back as the zero time. Times are read
// back in UTC. Paths, link targets and checksums are stored as raw bytes and
// read back exactly; an empty byte slice reads back as nil.
//
// Where a method documents it, a zero time passed in is replaced with the
// current time.
//
// # Ordering
//
// [Catalog.Jobs] lists newest first (by ID), [Catalog.Unfinished] oldest
// first, [Catalog.JobFiles] in staging order (seq, then index within the
// chunk), [Catalog.JobMedia] and [Catalog.JobLog] in insertion order and
// [Catalog.Volumes] by name.
package catalog
