package catalog

import "time"

// Log levels.
const (
	LevelInfo    = "info"
	LevelWarning = "warning"
	LevelError   = "error"
)

// LogEntry is one line of a job's log.
type LogEntry struct {
	JobID   int64
	Time    time.Time // zero means now
	Level   string    // LevelInfo, LevelWarning or LevelError
	Agent   string    // who said it: "director", "sd", "fd", ...
	Message string
}
