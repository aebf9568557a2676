package catalog

import "time"

// JobKind says what a job does.
type JobKind string

// Job kinds.
const (
	KindBackup  JobKind = "backup"
	KindRestore JobKind = "restore"
)

// Valid reports whether k is a known kind.
func (k JobKind) Valid() bool {
	return k == KindBackup || k == KindRestore
}

// JobStatus is where a job is in its lifecycle.
type JobStatus string

// Job statuses. Created and running are live; the others are terminal.
const (
	StatusCreated  JobStatus = "created"
	StatusRunning  JobStatus = "running"
	StatusOK       JobStatus = "ok"
	StatusWarnings JobStatus = "ok_warnings"
	StatusFailed   JobStatus = "failed"
	StatusCanceled JobStatus = "canceled"
)

// Terminal reports whether s is a status a job ends with.
func (s JobStatus) Terminal() bool {
	switch s {
	case StatusOK, StatusWarnings, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s JobStatus) Valid() bool {
	return s == StatusCreated || s == StatusRunning || s.Terminal()
}

// Who dialed a job's data socket.
const (
	InitiatorSD = "sd" // the storage daemon dialed the file daemon
	InitiatorFD = "fd" // the file daemon dialed the storage daemon
)

// Job is one row of the job table.
type Job struct {
	ID    int64
	Name  string
	Kind  JobKind
	Level string

	Client, Storage, FileSet string

	Status JobStatus
	Reason string

	Created, Started, Ended time.Time

	Files, Bytes, Warnings int64

	// Initiator is who dialed the data socket: InitiatorSD or
	// InitiatorFD; "" until known.
	Initiator string
	// DialFrom is the dialer's local address and DialTo the address it
	// dialed, both "host:port".
	DialFrom, DialTo string

	// RestoreOf is, for a restore, the backup job restored.
	RestoreOf int64
	// Target is, for a restore, the folder on the client.
	Target string
}

// JobFilter selects jobs for [Catalog.Jobs]. Zero fields do not filter.
type JobFilter struct {
	Limit  int // at most this many jobs; <= 0 means DefaultJobLimit
	Status JobStatus
	Client string
}

// DefaultJobLimit is the number of jobs Jobs returns when the filter sets
// no limit.
const DefaultJobLimit = 50
