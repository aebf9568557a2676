package datapath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// maxHandshakes bounds concurrent unauthenticated connections per listener,
// so a flood of idle connections cannot exhaust the daemon.
const maxHandshakes = 64

// Listener accepts data connections and hands each authenticated one to the
// job that expects it. Wrong keys, unknown jobs and garbage are closed with
// a logged reason; the listener keeps serving.
type Listener struct {
	ln  net.Listener
	me  Role
	log *slog.Logger
	sem chan struct{}

	mu     sync.Mutex
	expect map[uint64]*expectation
}

type expectation struct {
	key  []byte
	peer Role
	ch   chan net.Conn // receives the one accepted connection
	// cancelled is set by Cancel; a connection accepted afterwards is
	// closed instead of delivered. Guarded by Listener.mu.
	cancelled bool
}

// Listen opens a data listener at addr for an agent of role me.
func Listen(addr string, me Role, log *slog.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("data listener %s: %w", addr, err)
	}
	return &Listener{ln: ln, me: me, log: log, sem: make(chan struct{}, maxHandshakes), expect: map[uint64]*expectation{}}, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting.
func (l *Listener) Close() error { return l.ln.Close() }

// Expect registers job's single-use key. Wait returns the first connection
// that proves it holds key; after that the key is gone. Cancel forgets it.
func (l *Listener) Expect(job uint64, peer Role, key []byte) *Expected {
	e := &expectation{key: key, peer: peer, ch: make(chan net.Conn, 1)}
	l.mu.Lock()
	l.expect[job] = e
	l.mu.Unlock()
	return &Expected{l: l, job: job, e: e}
}

// Expected is a pending data connection for one job.
type Expected struct {
	l   *Listener
	job uint64
	e   *expectation
}

// Wait blocks until the peer connected and authenticated, or ctx ends.
func (x *Expected) Wait(ctx context.Context) (net.Conn, error) {
	select {
	case c := <-x.e.ch:
		return c, nil
	case <-ctx.Done():
		x.Cancel()
		return nil, ctx.Err()
	}
}

// Cancel forgets the expectation; a connection already delivered is closed.
func (x *Expected) Cancel() {
	x.l.mu.Lock()
	x.e.cancelled = true
	if x.l.expect[x.job] == x.e {
		delete(x.l.expect, x.job)
	}
	x.l.mu.Unlock()
	select {
	case c := <-x.e.ch:
		c.Close()
	default:
	}
}

// Serve accepts until ctx ends or the listener is closed.
func (l *Listener) Serve(ctx context.Context) error {
	go func() { <-ctx.Done(); l.ln.Close() }()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			l.log.Warn("data accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case l.sem <- struct{}{}:
			go func() { defer func() { <-l.sem }(); l.handshake(c) }()
		default:
			l.log.Warn("data connection dropped: too many handshakes in progress", "peer", c.RemoteAddr().String())
			c.Close()
		}
	}
}

func (l *Listener) handshake(c net.Conn) {
	peer := c.RemoteAddr().String()
	h, err := ReadHello(c)
	if err != nil {
		l.reject(c, peer, 0, err)
		return
	}
	l.mu.Lock()
	e := l.expect[h.Job]
	l.mu.Unlock()
	switch {
	case e == nil:
		l.reject(c, peer, h.Job, ErrUnknownJob)
		return
	case h.Role != e.peer:
		l.reject(c, peer, h.Job, fmt.Errorf("%w: %s dialed, %s expected", ErrWrongRole, h.Role, e.peer))
		return
	}
	if err := serverProve(c, h, e.key); err != nil {
		l.reject(c, peer, h.Job, err)
		return
	}
	// Burn the key before telling the dialer it is accepted: a dialer that
	// lost the race for the key, or proved it for a job cancelled in the
	// meantime, is refused rather than told "accepted" and then cut off.
	if !l.claim(h.Job, e) {
		l.reject(c, peer, h.Job, fmt.Errorf("%w: key already used or job cancelled", ErrBadProof))
		return
	}
	if err := sendAccept(c); err != nil {
		l.unclaim(h.Job, e) // the dialer never learnt it was accepted: it may retry
		l.reject(c, peer, h.Job, err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	if !l.deliver(e, c) {
		l.reject(c, peer, h.Job, errors.New("job cancelled after the handshake"))
		return
	}
	l.log.Info("data connection accepted", "job", h.Job, "peer", peer, "peer_role", h.Role.String())
}

// claim burns the key: true for exactly one connection.
func (l *Listener) claim(job uint64, e *expectation) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expect[job] != e {
		return false
	}
	delete(l.expect, job)
	return true
}

// unclaim gives back a claimed key whose connection failed before it was
// accepted, unless the job was cancelled or expects another key by now.
func (l *Listener) unclaim(job uint64, e *expectation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !e.cancelled && l.expect[job] == nil {
		l.expect[job] = e
	}
}

// deliver hands c to the job's Wait; false if the job was cancelled. Under
// the lock, so Cancel either sees c in the channel (and closes it) or
// deliver sees the cancellation: an accepted connection never leaks.
func (l *Listener) deliver(e *expectation, c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.cancelled {
		return false
	}
	e.ch <- c // buffered, and claim lets one connection through
	return true
}

func (l *Listener) reject(c net.Conn, peer string, job uint64, err error) {
	l.log.Warn("data connection refused", "peer", peer, "job", job, "reason", err.Error())
	c.Close()
}

// Dial connects to a listener at addr and proves the job's key. The error
// names the address; callers add who dialed whom and the passive hint.
func Dial(ctx context.Context, addr string, me Role, job uint64, key []byte, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := ClientHandshake(c, me, job, key); err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	return c, nil
}
