// Package enrol is an agent's or console's first step on a secured bus:
// ask the director where its key stands, and wait while an operator has
// not accepted it yet. A key the director does not know may publish only
// this one request (on the subject that names the key); once accepted,
// the connection signs in again to get its role's rights.
package enrol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
)

// ErrRefused: the director rejected or revoked the key, or it belongs to
// another agent.
var ErrRefused = errors.New("key refused by the director")

// ErrPending: the key waits for an operator (Check only).
var ErrPending = errors.New("key waits for an operator's acceptance")

// Poll is how often a pending agent asks again. A variable for tests.
var Poll = 2 * time.Second

// Check asks once where conn's key stands: nil when it is let in,
// ErrPending or ErrRefused (with the director's note) otherwise.
func Check(ctx context.Context, conn *bus.Conn, req schemas.EnrolRequest) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rep, err := bus.Request(rctx, conn, schemas.Enrol, req, conn.Key())
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	switch rep.State {
	case "accepted":
		return nil
	case "pending":
		return fmt.Errorf("%w: %s", ErrPending, rep.Note)
	}
	return fmt.Errorf("%w: %s: %s", ErrRefused, rep.State, rep.Note)
}

// Wait asks until the key is let in, then, if it had to wait, signs in
// again so that the server grants the role's rights. A refused key is
// logged and asked about again more slowly (an operator may accept it
// after all); Wait returns only when let in or when ctx ends.
func Wait(ctx context.Context, conn *bus.Conn, req schemas.EnrolRequest, log *slog.Logger) error {
	waited := false
	said := ""
	for {
		err := Check(ctx, conn, req)
		if err == nil {
			if waited {
				log.Info("key accepted by an operator: signing in again with the role's rights")
				return conn.Reconnect(ctx)
			}
			return nil
		}
		delay := Poll
		switch {
		case errors.Is(err, ErrPending):
			waited = true
		case errors.Is(err, ErrRefused):
			waited = true
			delay = 5 * Poll
		default:
			// The director is not there yet, or the link is down.
		}
		if msg := err.Error(); msg != said {
			said = msg
			log.Warn("not let onto the bus yet", "key", conn.Key(), "err", msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}
