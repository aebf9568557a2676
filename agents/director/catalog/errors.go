package catalog

import "errors"

// Sentinel errors. Backends wrap them with context; test with [errors.Is].
var (
	// ErrNotFound means the job named by ID does not exist.
	ErrNotFound = errors.New("catalog: not found")
	// ErrIncomplete means CommitJob found a different set of staged chunks
	// than 0..chunks-1; nothing was changed.
	ErrIncomplete = errors.New("catalog: file list incomplete")
	// ErrTerminal means the job has already ended.
	ErrTerminal = errors.New("catalog: job already ended")
	// ErrInvalid means an argument was rejected before touching the
	// catalog (unknown kind, non-terminal result status, ...).
	ErrInvalid = errors.New("catalog: invalid argument")
)
