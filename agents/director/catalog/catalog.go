package catalog

import (
	"context"
	"time"
)

// Catalog is the director's durable record. Implementations are safe for
// concurrent use. Methods taking a job ID return an error wrapping
// ErrNotFound when the job does not exist.
type Catalog interface {
	// CreateJob stores a new job with status created and returns its ID.
	// Created defaults to now; ID, Status, Reason, Started, Ended, Files,
	// Bytes and Warnings are ignored. Kind must be valid and Initiator
	// "", InitiatorSD or InitiatorFD.
	CreateJob(ctx context.Context, j Job) (int64, error)
	// MarkRunning sets the status to running and Started (zero means
	// now). ErrTerminal if the job has ended.
	MarkRunning(ctx context.Context, id int64, started time.Time) error
	// SetDataChannel records who dialed the data socket (InitiatorSD or
	// InitiatorFD), from which local address and to which address.
	// ErrTerminal if the job has ended.
	SetDataChannel(ctx context.Context, id int64, initiator, from, to string) error

	// StageFiles stores chunk seq (>= 0) of a job's file list. It is
	// idempotent per (jobID, seq): a chunk sent again is ignored. An
	// empty chunk counts as staged. ErrTerminal if the job has ended.
	StageFiles(ctx context.Context, jobID int64, seq int, files []File) error
	// CommitJob ends a job in one transaction: unless exactly the chunks
	// 0..chunks-1 are staged it fails with ErrIncomplete and changes
	// nothing; otherwise it moves the staged rows into the file list,
	// stores r.Media, records r on the job and drops the staging rows.
	// r.Status must be terminal. ErrTerminal if the job has ended. The
	// commit is durable when CommitJob returns.
	CommitJob(ctx context.Context, id int64, r Result, chunks int) error
	// EndJob ends a job without a file list (failed, canceled, or ok for
	// jobs that have no files such as restores): it records r, stores
	// r.Media and drops any staged rows. r.Status must be terminal.
	// ErrTerminal if the job has ended.
	EndJob(ctx context.Context, id int64, r Result) error

	// AppendLog stores log entries, which may belong to several jobs.
	// A zero Time means now.
	AppendLog(ctx context.Context, entries []LogEntry) error

	// Job returns one job.
	Job(ctx context.Context, id int64) (Job, error)
	// Jobs lists jobs newest first.
	Jobs(ctx context.Context, f JobFilter) ([]Job, error)
	// Unfinished lists the jobs still created or running, oldest first.
	Unfinished(ctx context.Context) ([]Job, error)
	// JobFiles calls fn for each committed file of a job in staging order
	// (seq, then index within the chunk) and stops at fn's first error,
	// which it returns. fn may call the catalog.
	JobFiles(ctx context.Context, id int64, fn func(File) error) error
	// JobMedia returns a job's volume sessions in order.
	JobMedia(ctx context.Context, id int64) ([]Media, error)
	// JobLog returns a job's log in insertion order.
	JobLog(ctx context.Context, id int64) ([]LogEntry, error)

	// PutVolume inserts or replaces the volume named v.Name. A zero
	// Updated means now.
	PutVolume(ctx context.Context, v Volume) error
	// Volumes lists all volumes by name.
	Volumes(ctx context.Context) ([]Volume, error)

	// Close releases the catalog.
	Close() error
}
