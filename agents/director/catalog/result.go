package catalog

import "time"

// Result is how a job ended, passed to CommitJob and EndJob.
type Result struct {
	Status JobStatus // must be terminal
	Reason string
	Ended  time.Time // zero means now

	Files, Bytes, Warnings int64

	// Media lists the job's volume sessions in order. Media[i].JobID is
	// ignored; the job's ID is used.
	Media []Media
}
