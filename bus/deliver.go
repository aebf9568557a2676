package bus

import (
	"context"
	"errors"
	"time"

	"github.com/ferrybackup/ferry/schemas"
)

// Deliver sends req until the peer answers, for messages that must not be
// lost (job reports, file lists, logs): while the director is unreachable it
// retries with backoff up to 5 s between tries, until ctx ends. A reply that
// carries an error is final and returned.
func Deliver[Req, Resp any](ctx context.Context, c *Conn, r schemas.Request[Req, Resp], req Req, tokens ...string) (Resp, error) {
	wait := 100 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := Request(tctx, c, r, req, tokens...)
		cancel()
		var remote *schemas.RemoteError
		if err == nil || errors.As(err, &remote) && remote.Msg != ErrBusy.Error() || ctx.Err() != nil {
			return resp, err
		}
		c.log.Warn("delivery failed, retrying", "subject", r.Info().Pattern, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return resp, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
