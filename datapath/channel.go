package datapath

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// Channel is one job's data socket on an agent, from "prepared" to
// "closed": it holds the job's context, receives the socket (from the
// listener when the peer dials in, or from Dial when this agent dials) and
// the director's start signal. The fd and the sd each keep one per job.
type Channel struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	expected *Expected
	conns    chan net.Conn
	started  chan struct{}
	once     sync.Once
}

// NewChannel returns a Channel whose context ends with Abort or Close.
func NewChannel() *Channel {
	c := &Channel{conns: make(chan net.Conn, 1), started: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	return c
}

// Context ends when the job is aborted or the channel closed.
func (c *Channel) Context() context.Context { return c.ctx }

// Abort ends the job with cause; a socket in use is closed by its user's
// context.AfterFunc.
func (c *Channel) Abort(cause error) { c.cancel(cause) }

// ExpectOn registers the job's single-use key with ln, and the identity
// the peer must present ("" for plain text): the peer dials in.
func (c *Channel) ExpectOn(ln *Listener, job uint64, peer Role, key []byte, peerKey string) {
	c.expected = ln.Expect(job, peer, key, peerKey)
}

// Dial connects to the peer at addr, which must present peerKey ("" for
// plain text), and keeps the socket for Wait.
func (c *Channel) Dial(addr string, me Role, job uint64, key []byte, peerKey string, timeout time.Duration, sec Security) (net.Conn, error) {
	conn, err := Dial(c.ctx, addr, me, job, key, peerKey, timeout, sec)
	if err != nil {
		return nil, err
	}
	select {
	case c.conns <- conn:
		return conn, nil
	default:
		conn.Close()
		return nil, fmt.Errorf("job %d already has its data socket", job)
	}
}

// Start marks that the director said start (idempotent).
func (c *Channel) Start() { c.once.Do(func() { close(c.started) }) }

// WaitStart blocks until Start or the end of the job.
func (c *Channel) WaitStart() error {
	select {
	case <-c.started:
		return nil
	case <-c.ctx.Done():
		return fmt.Errorf("the job ended before the director said start: %w", context.Cause(c.ctx))
	}
}

// Wait returns the authenticated socket, whoever dialed, within limit.
func (c *Channel) Wait(limit time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, limit)
	defer cancel()
	if c.expected != nil {
		return c.expected.Wait(ctx)
	}
	select {
	case conn := <-c.conns:
		return conn, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// Close forgets the expected key and ends the context.
func (c *Channel) Close() {
	if c.expected != nil {
		c.expected.Cancel()
	}
	c.cancel(nil)
}
