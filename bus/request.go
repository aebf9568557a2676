package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
)

// Request sends req on r's subject filled with tokens and decodes the reply.
// With nobody subscribed it fails at once with ErrNoResponders.
func Request[Req, Resp any](ctx context.Context, c *Conn, r schemas.Request[Req, Resp], req Req, tokens ...string) (Resp, error) {
	var zero Resp
	subj, err := r.Subject(tokens...)
	if err != nil {
		return zero, err
	}
	data, err := schemas.Encode(req)
	if err != nil {
		return zero, err
	}
	msg, err := c.nc.RequestWithContext(ctx, subj, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return zero, fmt.Errorf("%s: %w", subj, ErrNoResponders)
		}
		return zero, fmt.Errorf("%s: %w", subj, err)
	}
	resp, err := schemas.Decode[Resp](msg.Data)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", subj, err)
	}
	return resp, nil
}

// Handler answers one request; subject is the concrete subject it arrived on.
type Handler[Req, Resp any] func(ctx context.Context, subject string, req Req) (Resp, error)

// Handle serves r on subject (r.Subject(...) or r.Wildcard()). Each request
// runs on its own goroutine, bounded per connection; a malformed request is
// logged and answered with an error, and the handler keeps serving.
func Handle[Req, Resp any](ctx context.Context, c *Conn, r schemas.Request[Req, Resp], subject string, h Handler[Req, Resp]) (*nats.Subscription, error) {
	return c.nc.Subscribe(subject, func(m *nats.Msg) {
		select {
		case c.sem <- struct{}{}:
		default:
			_ = m.Respond(schemas.EncodeError(ErrBusy.Error()))
			return
		}
		go func() {
			defer func() { <-c.sem }()
			c.serve(ctx, m, func(data []byte) ([]byte, error) {
				req, err := schemas.Decode[Req](data)
				if err != nil {
					c.log.Warn("bad request rejected", "subject", m.Subject, "err", err)
					return nil, err
				}
				resp, err := h(ctx, m.Subject, req)
				if err != nil {
					return nil, err
				}
				return schemas.Encode(resp)
			})
		}()
	})
}

func (c *Conn) serve(ctx context.Context, m *nats.Msg, fn func([]byte) ([]byte, error)) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("request handler panicked", "subject", m.Subject, "panic", fmt.Sprint(p))
			_ = m.Respond(schemas.EncodeError("internal error"))
		}
	}()
	if m.Reply != "" && !replySubject(m.Reply) {
		c.log.Warn("request refused: its reply subject is not an inbox", "subject", m.Subject, "reply", m.Reply)
		return
	}
	out, err := fn(m.Data)
	if m.Reply == "" {
		return
	}
	if err != nil {
		out = schemas.EncodeError(err.Error())
	}
	if rerr := m.Respond(out); rerr != nil && ctx.Err() == nil {
		c.log.Warn("reply failed", "subject", m.Subject, "err", rerr)
	}
}

// Publish sends msg on a core subject (lost if nobody listens: progress and
// heartbeats only).
func Publish[T any](c *Conn, s schemas.Subject[T], msg T, tokens ...string) error {
	subj, err := s.Subject(tokens...)
	if err != nil {
		return err
	}
	data, err := schemas.Encode(msg)
	if err != nil {
		return err
	}
	return c.nc.Publish(subj, data)
}

// Subscribe calls fn for each decodable message on subject; malformed ones
// are logged and dropped. fn runs on the subscription's goroutine: keep it
// short.
func Subscribe[T any](c *Conn, s schemas.Subject[T], subject string, fn func(subject string, msg T)) (*nats.Subscription, error) {
	return c.nc.Subscribe(subject, func(m *nats.Msg) {
		v, err := schemas.Decode[T](m.Data)
		if err != nil {
			c.log.Warn("bad message dropped", "subject", m.Subject, "err", err)
			return
		}
		fn(m.Subject, v)
	})
}

// replySubject: replies go only to inboxes (the client's own, or the
// server's for requests across accounts); the server does not check reply
// subjects against permissions, so a request must not aim a reply at
// another agent's subject.
func replySubject(s string) bool {
	return strings.HasPrefix(s, "_INBOX") || strings.HasPrefix(s, "_R_.")
}

// Route is one handler to serve, bound by On or Listen and started by Serve.
type Route func(ctx context.Context, c *Conn) (*nats.Subscription, error)

// On binds a request handler to subject (r.Subject(...) or r.Wildcard()).
func On[Req, Resp any](r schemas.Request[Req, Resp], subject string, h Handler[Req, Resp]) Route {
	return func(ctx context.Context, c *Conn) (*nats.Subscription, error) { return Handle(ctx, c, r, subject, h) }
}

// Listen binds a subscriber (see Subscribe) to subject.
func Listen[T any](s schemas.Subject[T], subject string, fn func(subject string, msg T)) Route {
	return func(_ context.Context, c *Conn) (*nats.Subscription, error) { return Subscribe(c, s, subject, fn) }
}

// Serve starts every route; if one fails, the others are undone.
func Serve(ctx context.Context, c *Conn, routes ...Route) ([]*nats.Subscription, error) {
	subs := make([]*nats.Subscription, 0, len(routes))
	for _, r := range routes {
		s, err := r(ctx, c)
		if err != nil {
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		subs = append(subs, s)
	}
	return subs, nil
}
