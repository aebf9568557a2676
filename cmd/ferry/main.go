// Command ferry is Ferry's one binary: the daemons (director, sd, fd), the
// all-in-one `ferry dev`, and the console commands that drive a director
// over the bus.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/bus"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes, mapped in one place.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitJobFailed = 3
	exitConfig    = 4
	exitNoBus     = 5
	exitNotLetIn  = 6 // the console's key is pending, rejected or revoked
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "ferry:", err)
	var probs config.Problems
	var jf *jobFailedError
	var ue *usageError
	switch {
	case errors.As(err, &jf):
		return exitJobFailed
	case errors.As(err, &probs):
		return exitConfig
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, errNotLetIn):
		return exitNotLetIn
	case errors.Is(err, errNoBus), errors.Is(err, bus.ErrNoResponders):
		return exitNoBus
	}
	return exitError
}

var (
	errNoBus    = errors.New("cannot reach the bus")
	errNotLetIn = errors.New("not let onto the bus")
)

// jobFailedError: a waited-for job ended other than ok.
type jobFailedError struct {
	id     int64
	status string
	reason string
}

func (e *jobFailedError) Error() string {
	return fmt.Sprintf("job %d ended %s: %s", e.id, e.status, e.reason)
}

// usageError: the command line is wrong.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
