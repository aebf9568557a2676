package datapath

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// maxHandshakes bounds concurrent unauthenticated connections per listener,
// so a flood of idle connections cannot exhaust the daemon.
const maxHandshakes = 64

// Listener accepts data connections and hands each authenticated one to the
// job that expects it. Wrong keys, unknown jobs, wrong certificates and
// garbage are closed with a logged reason; the listener keeps serving.
//
// One port serves every job, so the listener learns whom to expect only
// from the hello: with TLS it completes the TLS handshake first (any agent
// certificate), reads the hello inside it, then checks the certificate
// against the identity the job names.
type Listener struct {
	ln  net.Listener
	me  Role
	sec Security
	tls *tls.Config // nil without an identity: TLS is refused
	log *slog.Logger
	sem chan struct{}

	mu     sync.Mutex
	expect map[uint64]*expectation
	burnt  burntJobs
}

type expectation struct {
	key     []byte
	peer    Role
	peerKey string        // the dialer's identity; "" for a plain-text job
	ch      chan net.Conn // receives the one accepted connection
	// cancelled is set by Cancel; a connection accepted afterwards is
	// closed instead of delivered. Guarded by Listener.mu.
	cancelled bool
}

// Listen opens a data listener at addr for an agent of role me. It speaks
// TLS if sec has an identity and the plain handshake if sec is insecure;
// with neither it refuses every connection (each job fails in JobPeer).
func Listen(addr string, me Role, sec Security, log *slog.Logger) (*Listener, error) {
	l := &Listener{me: me, sec: sec, log: log, sem: make(chan struct{}, maxHandshakes), expect: map[uint64]*expectation{}}
	if sec.Identity != nil {
		cfg, err := serverTLS(sec.Identity)
		if err != nil {
			return nil, fmt.Errorf("data listener %s: %w", addr, err)
		}
		l.tls = cfg
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("data listener %s: %w", addr, err)
	}
	l.ln = ln
	return l, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting.
func (l *Listener) Close() error { return l.ln.Close() }

// Expect registers job's single-use key and the identity (peerKey, "U...")
// its peer must present; peerKey "" expects the plain handshake (see
// Security.JobPeer). Wait returns the first connection that proves it
// holds key; after that the key is gone. Cancel forgets it.
func (l *Listener) Expect(job uint64, peer Role, key []byte, peerKey string) *Expected {
	e := &expectation{key: key, peer: peer, peerKey: peerKey, ch: make(chan net.Conn, 1)}
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

// tlsRecordHandshake is the first byte of every TLS client: a handshake
// record holding the ClientHello.
const tlsRecordHandshake = 0x16

// handshake tells TLS from the plain handshake by the first byte and runs
// the one this listener allows.
func (l *Listener) handshake(c net.Conn) {
	peer := c.RemoteAddr().String()
	_ = c.SetDeadline(time.Now().Add(HandshakeTimeout))
	if l.tls == nil {
		if !l.sec.Insecure {
			l.reject(c, peer, 0, ErrNoIdentity)
			return
		}
		l.servePlain(c, c, peer) // a TLS client fails the magic check at once
		return
	}
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		l.reject(c, peer, 0, fmt.Errorf("read hello: %w", err))
		return
	}
	in := &peeked{Conn: c, head: first[:]}
	switch {
	case first[0] == tlsRecordHandshake:
		l.serveTLS(c, in, peer)
	case l.sec.Insecure:
		l.servePlain(c, in, peer)
	default:
		l.reject(c, peer, 0, notTLS(in))
	}
}

// notTLS says why a connection to a TLS-only port is refused: a plain Ferry
// hello (an agent or director configured insecure) or other bytes.
func notTLS(in io.Reader) error {
	b := make([]byte, len(magic))
	n, _ := io.ReadFull(in, b[:1]) // the byte put back
	if b[0] == magic[0] {
		m, err := io.ReadFull(in, b[1:])
		if err != nil {
			return fmt.Errorf("%w: read hello: %v", ErrNotTLS, err)
		}
		if [8]byte(b) == magic {
			return ErrPlainHello
		}
		n += m
	}
	return fmt.Errorf("%w: first bytes %q", ErrNotTLS, b[:n])
}

// serveTLS runs the TLS handshake, then the key proof inside it. c is the
// raw connection, in the same with the byte already read put back.
func (l *Listener) serveTLS(c net.Conn, in net.Conn, peer string) {
	under := newGatherConn(in)
	tc := tls.Server(under, l.tls)
	if err := tc.Handshake(); err != nil {
		l.reject(c, peer, 0, fmt.Errorf("tls handshake: %w", err))
		return
	}
	h, err := readHello(tc, magic2, hello2Len)
	if err != nil {
		l.reject(tc, peer, 0, err)
		return
	}
	e, err := l.admit(h, false)
	if err != nil {
		l.reject(tc, peer, h.Job, err)
		return
	}
	cs := tc.ConnectionState()
	if got, err := agentKeyOf(cs); err != nil || got != e.peerKey {
		if err == nil {
			err = fmt.Errorf("%w: it presents %s, the job names %s", ErrWrongPeer, got, e.peerKey)
		}
		l.reject(tc, peer, h.Job, err)
		return
	}
	if err := checkProofTLS(cs.ExportKeyingMaterial, h, l.me, e.key); err != nil {
		l.reject(tc, peer, h.Job, err)
		return
	}
	l.finish(tc, peer, h, e, func() error {
		mac, err := tlsProof(cs.ExportKeyingMaterial, e.key, "listener", h.Job, h.Role, l.me)
		if err == nil {
			_, err = tc.Write(mac)
		}
		if err != nil {
			return fmt.Errorf("send proof: %w", err)
		}
		return nil
	}, "tls", cs.Version, cs.CipherSuite, &tlsDataConn{Conn: tc, under: under})
}

// servePlain runs the plain handshake (insecure mode). in reads c with any
// byte already read put back.
func (l *Listener) servePlain(c net.Conn, in net.Conn, peer string) {
	h, err := readHello(in, magic, helloLen)
	if err != nil {
		l.reject(c, peer, 0, err)
		return
	}
	e, err := l.admit(h, true)
	if err != nil {
		l.reject(c, peer, h.Job, err)
		return
	}
	if err := serverProve(in, h, e.key); err != nil {
		l.reject(c, peer, h.Job, err)
		return
	}
	l.finish(c, peer, h, e, func() error { return sendAccept(c) }, "plain", 0, 0, c)
}

// admit finds the expectation a hello names and checks the connection fits
// it, before any proof is looked at.
func (l *Listener) admit(h Hello, plain bool) (*expectation, error) {
	l.mu.Lock()
	e := l.expect[h.Job]
	used := l.burnt.has(h.Job)
	l.mu.Unlock()
	switch {
	case e == nil && used:
		return nil, ErrKeyUsed
	case e == nil:
		return nil, ErrUnknownJob
	case plain && e.peerKey != "":
		return nil, fmt.Errorf("%w: plain text for a TLS job", ErrWrongMode)
	case !plain && e.peerKey == "":
		return nil, fmt.Errorf("%w: TLS for a plain-text job", ErrWrongMode)
	case h.Role != e.peer:
		return nil, fmt.Errorf("%w: %s dialed, %s expected", ErrWrongRole, h.Role, e.peer)
	}
	return e, nil
}

// finish burns the key of a proven connection, tells the dialer, and
// delivers to the job c itself (plain) or deliver, the TLS data connection
// over it.
func (l *Listener) finish(c net.Conn, peer string, h Hello, e *expectation, accept func() error, mode string, version, suite uint16, deliver net.Conn) {
	// Burn the key before telling the dialer it is accepted: a dialer that
	// lost the race for the key, or proved it for a job cancelled in the
	// meantime, is refused rather than told "accepted" and then cut off.
	if !l.claim(h.Job, e) {
		l.reject(c, peer, h.Job, fmt.Errorf("%w, or the job was cancelled", ErrKeyUsed))
		return
	}
	if err := accept(); err != nil {
		l.unclaim(h.Job, e) // the dialer never learnt it was accepted: it may retry
		l.reject(c, peer, h.Job, err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	if !l.deliver(e, deliver) {
		l.reject(c, peer, h.Job, errors.New("job cancelled after the handshake"))
		return
	}
	attrs := []any{"job", h.Job, "peer", peer, "peer_role", h.Role.String(), "mode", mode}
	if mode == "tls" {
		attrs = append(attrs, "peer_key", e.peerKey, "tls", tls.VersionName(version), "cipher", tls.CipherSuiteName(suite))
	}
	l.log.Info("data connection accepted", attrs...)
}

// claim burns the key: true for exactly one connection.
func (l *Listener) claim(job uint64, e *expectation) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expect[job] != e {
		return false
	}
	delete(l.expect, job)
	l.burnt.add(job)
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

// burntJobs remembers the last jobs whose key was used, so a replay is
// logged as one rather than as an unknown job.
type burntJobs struct {
	set  map[uint64]struct{}
	ring [1024]uint64
	next int
	full bool
}

func (b *burntJobs) has(job uint64) bool {
	_, ok := b.set[job]
	return ok
}

func (b *burntJobs) add(job uint64) {
	if b.set == nil {
		b.set = map[uint64]struct{}{}
	}
	if b.has(job) {
		return
	}
	if b.full {
		delete(b.set, b.ring[b.next])
	}
	b.ring[b.next] = job
	b.set[job] = struct{}{}
	b.next = (b.next + 1) % len(b.ring)
	b.full = b.full || b.next == 0
}

// peeked is a connection with bytes already read put back in front.
type peeked struct {
	net.Conn
	head []byte
}

func (p *peeked) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// NetConn is the connection under p (for SetKeepAlive through TLS).
func (p *peeked) NetConn() net.Conn { return p.Conn }

// Dial connects to a listener at addr and proves the job's key. With a
// peerKey (see Security.JobPeer) it runs TLS as sec's identity and accepts
// only a listener presenting peerKey; with "" it runs the plain handshake,
// which sec must allow. The error names the address; callers add who
// dialed whom and the passive hint.
func Dial(ctx context.Context, addr string, me Role, job uint64, key []byte, peerKey string, timeout time.Duration, sec Security) (net.Conn, error) {
	var cfg *tls.Config
	switch {
	case peerKey == "" && !sec.Insecure:
		return nil, ErrPlainRefused
	case peerKey != "" && sec.Identity == nil:
		return nil, ErrNoIdentity
	case peerKey != "":
		var err error
		if cfg, err = clientTLS(sec.Identity, peerKey); err != nil {
			return nil, err
		}
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		if err := ClientHandshake(c, me, job, key); err != nil {
			c.Close()
			return nil, fmt.Errorf("handshake with %s: %w", addr, err)
		}
		return c, nil
	}
	_ = c.SetDeadline(time.Now().Add(HandshakeTimeout))
	under := newGatherConn(c)
	tc := tls.Client(under, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	cs := tc.ConnectionState()
	if err := clientProveTLS(tc, cs.ExportKeyingMaterial, me, job, key); err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	_ = c.SetDeadline(time.Time{})
	return &tlsDataConn{Conn: tc, under: under}, nil
}
