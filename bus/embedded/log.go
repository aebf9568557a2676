package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// slogAdapter routes the server's log to slog and feeds leafnode errors to
// the link tracker. Routine notices are debug level. A warning or error that
// repeats (a passive client that is off, retried every second) is logged
// once a minute with the count of repeats: one offline laptop must not
// flood the log.
type slogAdapter struct {
	log   *slog.Logger
	links *linkLog
	audit *Audit

	mu   sync.Mutex
	seen map[string]repeat
}

type repeat struct {
	at    time.Time
	count int
}

const repeatEvery = time.Minute

var volatileRE = regexp.MustCompile(`lid:\d+|cid:\d+|attempt \d+|127\.0\.0\.1:\d+|:\d{4,5}\b`)

func (a *slogAdapter) line(format string, v []any) string {
	msg := fmt.Sprintf(format, v...)
	a.links.note(msg)
	if a.audit != nil {
		switch {
		case violationCounted(msg):
			a.audit.PermissionViolations.Add(1)
		case strings.Contains(msg, "TLS handshake error"):
			a.audit.RejectedConnections.Add(1)
		}
	}
	return msg
}

// quiet reports whether msg repeats one logged within the last minute, and
// how many were suppressed before it when it is due again.
func (a *slogAdapter) quiet(msg string) (bool, int) {
	key := volatileRE.ReplaceAllString(msg, "#")
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string]repeat{}
	}
	r, ok := a.seen[key]
	now := time.Now()
	if ok && now.Sub(r.at) < repeatEvery {
		r.count++
		a.seen[key] = r
		return true, 0
	}
	a.seen[key] = repeat{at: now}
	return false, r.count
}

func (a *slogAdapter) loud(level slog.Level, format string, v []any) {
	msg := a.line(format, v)
	if skip, n := a.quiet(msg); skip {
		return
	} else if n > 0 {
		a.log.Log(context.Background(), level, msg, "repeated", n)
		return
	}
	a.log.Log(context.Background(), level, msg)
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.log.Debug(a.line(format, v)) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.loud(slog.LevelWarn, format, v) }
func (a *slogAdapter) Fatalf(format string, v ...any)  { a.log.Error(a.line(format, v)) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.loud(slog.LevelError, format, v) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.log.Debug(a.line(format, v)) }
func (a *slogAdapter) Tracef(format string, v ...any)  { a.log.Debug(a.line(format, v)) }
