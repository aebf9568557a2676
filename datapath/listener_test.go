package datapath

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/identity"
)

func TestMain(m *testing.M) {
	// Lowered once, before any goroutine reads it, so tests that wait for
	// a handshake timeout stay fast (and race-free).
	HandshakeTimeout = time.Second
	os.Exit(m.Run())
}

// logRecorder is a slog.Handler that keeps records so tests can wait for the
// listener's reasons.
type logRecorder struct {
	mu     sync.Mutex
	recs   []map[string]string
	notify chan struct{} // closed and replaced on every record
}

func newLogRecorder() *logRecorder { return &logRecorder{notify: make(chan struct{})} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, m)
	close(h.notify)
	h.notify = make(chan struct{})
	h.mu.Unlock()
	return nil
}

// wait returns the first record for which match is true, waiting for it.
func (h *logRecorder) wait(t *testing.T, what string, match func(map[string]string) bool) map[string]string {
	t.Helper()
	deadline := time.NewTimer(testDeadline)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		for _, r := range h.recs {
			if match(r) {
				h.mu.Unlock()
				return r
			}
		}
		ch := h.notify
		h.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no log record: %s", what)
		}
	}
}

// refused waits for the listener's refusal of the connection from local
// (the dialer's address), or of job when local is "".
func (h *logRecorder) refused(t *testing.T, local string, job uint64, reason string) map[string]string {
	t.Helper()
	return h.wait(t, "refusal "+reason, func(r map[string]string) bool {
		if r["msg"] != "data connection refused" || !strings.Contains(r["reason"], reason) {
			return false
		}
		if local != "" {
			return r["peer"] == local
		}
		return r["job"] == itoa(job)
	})
}

func itoa(v uint64) string { return slog.Uint64Value(v).String() }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	t.Cleanup(cancel)
	return ctx
}

// ids are the test agents' identities, one per role.
var ids = map[Role]*identity.Identity{RoleFD: mustIdentity(), RoleSD: mustIdentity()}

func mustIdentity() *identity.Identity {
	id, err := identity.New()
	if err != nil {
		panic(err)
	}
	return id
}

// startListener serves an fd's TLS data listener on loopback until the
// test ends.
func startListener(t *testing.T) (*Listener, *logRecorder) {
	t.Helper()
	return startListenerSec(t, Security{Identity: ids[RoleFD]})
}

// startListenerSec serves an fd's data listener with sec.
func startListenerSec(t *testing.T, sec Security) (*Listener, *logRecorder) {
	t.Helper()
	logs := newLogRecorder()
	l, err := Listen("127.0.0.1:0", RoleFD, sec, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- l.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(testDeadline):
			t.Errorf("Serve did not return after its context ended")
		}
	})
	return l, logs
}

// peerKey is the identity a job on l names for a peer of role r: "" (plain
// text) on a listener without TLS.
func peerKey(l *Listener, r Role) string {
	if l.tls == nil {
		return ""
	}
	return ids[r].PublicKey()
}

// expect registers job on l for a peer of role peer with its identity.
func expect(l *Listener, job uint64, peer Role, key []byte) *Expected {
	return l.Expect(job, peer, key, peerKey(l, peer))
}

// dial connects to l as the agent of role me, in l's mode.
func dial(t *testing.T, l *Listener, me Role, job uint64, key []byte) (net.Conn, error) {
	t.Helper()
	sec := Security{Identity: ids[me], Insecure: l.tls == nil}
	c, err := Dial(testCtx(t), l.Addr().String(), me, job, key, peerKey(l, l.me), testDeadline, sec)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func mustDial(t *testing.T, l *Listener, me Role, job uint64, key []byte) net.Conn {
	t.Helper()
	c, err := dial(t, l, me, job, key)
	if err != nil {
		t.Fatalf("dial job %d: %v", job, err)
	}
	return c
}

func mustWait(t *testing.T, x *Expected) net.Conn {
	t.Helper()
	c, err := x.Wait(testCtx(t))
	if err != nil {
		t.Fatalf("Wait job %d: %v", x.job, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pending reports whether x is still registered and nothing was delivered.
func pending(x *Expected) bool {
	x.l.mu.Lock()
	registered := x.l.expect[x.job] == x.e
	x.l.mu.Unlock()
	return registered && len(x.e.ch) == 0
}

// exchange checks bytes flow both ways between the two ends.
func exchange(t *testing.T, a, b net.Conn) {
	t.Helper()
	for _, p := range [][2]net.Conn{{a, b}, {b, a}} {
		msg := []byte("ping from " + p[0].LocalAddr().String())
		_ = p[0].SetDeadline(time.Now().Add(testDeadline))
		_ = p[1].SetDeadline(time.Now().Add(testDeadline))
		werr := make(chan error, 1)
		go func() { _, err := p[0].Write(msg); werr <- err }() // net.Pipe is unbuffered
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(p[1], got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("read %q, %v; want %q", got, err, msg)
		}
		if err := <-werr; err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	_ = a.SetDeadline(time.Time{})
	_ = b.SetDeadline(time.Time{})
}

// closedByPeer waits (at most within) for c to be closed by the other side
// and returns how long that took.
func closedByPeer(t *testing.T, c net.Conn, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", within)
		}
		return time.Since(start) // EOF or reset: closed
	}
}

// rawClient speaks the dialer's side of the handshake step by step.
type rawClient struct {
	c    net.Conn
	role Role
	job  uint64
	nd   []byte
}

func rawDial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr().String(), testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(testDeadline))
	t.Cleanup(func() { c.Close() })
	return c
}

func rawHello(t *testing.T, l *Listener, role Role, job uint64) *rawClient {
	t.Helper()
	rc := &rawClient{c: rawDial(t, l), role: role, job: job, nd: make([]byte, nonceLen)}
	_, _ = rand.Read(rc.nd)
	hello := append(magic[:], byte(role))
	hello = binary.LittleEndian.AppendUint64(hello, job)
	hello = append(hello, rc.nd...)
	if _, err := rc.c.Write(hello); err != nil {
		t.Fatal(err)
	}
	return rc
}

// challenge reads the listener's nonce and checks its proof of key.
func (rc *rawClient) challenge(t *testing.T, key []byte) []byte {
	t.Helper()
	resp := make([]byte, nonceLen+macLen)
	if _, err := io.ReadFull(rc.c, resp); err != nil {
		t.Fatalf("read challenge: %v", err)
	}
	nl := resp[:nonceLen]
	if !bytes.Equal(resp[nonceLen:], proof(key, "listener", rc.role, rc.job, rc.nd, nl)) {
		t.Fatal("listener proof does not match")
	}
	return nl
}

func (rc *rawClient) prove(t *testing.T, key, nl []byte) {
	t.Helper()
	if _, err := rc.c.Write(proof(key, "dialer", rc.role, rc.job, rc.nd, nl)); err != nil {
		t.Fatalf("send proof: %v", err)
	}
}

// accepted reads the listener's verdict: true for the acceptance byte,
// false when the listener closed instead.
func (rc *rawClient) accepted(t *testing.T) bool {
	t.Helper()
	var b [1]byte
	_, err := io.ReadFull(rc.c, b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("no verdict from the listener")
	}
	return err == nil && b[0] == 1
}

// recordConn keeps what a dialer sent.
type recordConn struct {
	net.Conn
	sent bytes.Buffer
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.sent.Write(p)
	return r.Conn.Write(p)
}

// listenerModes are the listener variants every shared test runs on: TLS
// only, plain only (insecure), and both on one port (insecure with an
// identity; its jobs here are TLS jobs).
var listenerModes = []struct {
	name string
	sec  Security
}{
	{"tls", Security{Identity: ids[RoleFD]}},
	{"plain", Security{Insecure: true}},
	{"tls and plain", Security{Identity: ids[RoleFD], Insecure: true}},
}

func TestListener(t *testing.T) {
	for _, m := range listenerModes {
		t.Run(m.name, func(t *testing.T) { testListener(t, m.sec) })
	}
}

func testListener(t *testing.T, sec Security) {
	l, logs := startListenerSec(t, sec)
	var nextJob uint64 = 100
	newJob := func() uint64 { nextJob++; return nextJob }
	tlsMode := l.tls != nil
	// A wrong key: the plain listener proves its key first, so the dialer
	// sees the mismatch and hangs up; over TLS the dialer proves first and
	// the listener refuses.
	wrongKeyErr, wrongKeyReason := ErrBadProof, "read proof"
	if tlsMode {
		wrongKeyErr, wrongKeyReason = ErrRefused, ErrBadProof.Error()
	}
	garbageReason := ErrNotTLS.Error()
	if sec.Insecure {
		garbageReason = ErrBadMagic.Error()
	}

	t.Run("correct key", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		c := mustDial(t, l, RoleSD, job, key)
		s := mustWait(t, x)
		if s.RemoteAddr().String() != c.LocalAddr().String() {
			t.Fatalf("delivered %v, dialed from %v", s.RemoteAddr(), c.LocalAddr())
		}
		for _, conn := range []net.Conn{c, s} {
			version, suite, ok := TLSInfo(conn)
			if ok != tlsMode || (ok && version != "TLS 1.3") {
				t.Fatalf("TLSInfo = %q %q %v; TLS listener: %v", version, suite, ok, tlsMode)
			}
		}
		exchange(t, c, s)
		if pending(x) {
			t.Fatal("expectation still registered after delivery")
		}
		logs.wait(t, "acceptance", func(r map[string]string) bool {
			return r["msg"] == "data connection accepted" && r["job"] == itoa(job)
		})
	})

	t.Run("wrong key", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		_, err := dial(t, l, RoleSD, job, NewKey())
		if !errors.Is(err, wrongKeyErr) {
			t.Fatalf("dial with a wrong key: err = %v, want %v", err, wrongKeyErr)
		}
		logs.refused(t, "", job, wrongKeyReason)
		if !pending(x) {
			t.Fatal("a wrong key disturbed the expectation")
		}
		// The real job is unaffected.
		c := mustDial(t, l, RoleSD, job, key)
		exchange(t, c, mustWait(t, x))
	})

	t.Run("key of another job", func(t *testing.T) {
		jobA, keyA, jobB, keyB := newJob(), NewKey(), newJob(), NewKey()
		xa := expect(l, jobA, RoleSD, keyA)
		xb := expect(l, jobB, RoleSD, keyB)
		if _, err := dial(t, l, RoleSD, jobA, keyB); !errors.Is(err, wrongKeyErr) {
			t.Fatalf("dial job A with B's key: err = %v, want %v", err, wrongKeyErr)
		}
		logs.refused(t, "", jobA, wrongKeyReason)
		if !pending(xa) || !pending(xb) {
			t.Fatal("expectations disturbed")
		}
		cb := mustDial(t, l, RoleSD, jobB, keyB)
		ca := mustDial(t, l, RoleSD, jobA, keyA)
		sa, sb := mustWait(t, xa), mustWait(t, xb)
		if sa.RemoteAddr().String() != ca.LocalAddr().String() || sb.RemoteAddr().String() != cb.LocalAddr().String() {
			t.Fatal("connections delivered to the wrong jobs")
		}
		exchange(t, ca, sa)
		exchange(t, cb, sb)
	})

	t.Run("replay of a used key", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		exchange(t, mustDial(t, l, RoleSD, job, key), mustWait(t, x))
		if _, err := dial(t, l, RoleSD, job, key); !errors.Is(err, ErrRefused) {
			t.Fatalf("second dial with a burnt key: err = %v, want ErrRefused", err)
		}
		logs.refused(t, "", job, ErrKeyUsed.Error())
	})

	t.Run("unknown job", func(t *testing.T) {
		job := newJob()
		if _, err := dial(t, l, RoleSD, job, NewKey()); !errors.Is(err, ErrRefused) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
		logs.refused(t, "", job, ErrUnknownJob.Error())
	})

	t.Run("wrong role", func(t *testing.T) {
		// The listener is an fd expecting the sd; another fd dials with the
		// right key.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		if _, err := dial(t, l, RoleFD, job, key); !errors.Is(err, ErrRefused) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
		logs.refused(t, "", job, ErrWrongRole.Error())
		if !pending(x) {
			t.Fatal("wrong role disturbed the expectation")
		}
		exchange(t, mustDial(t, l, RoleSD, job, key), mustWait(t, x))
	})

	t.Run("garbage", func(t *testing.T) {
		tests := []struct{ name, send string }{
			{"short http request", "GET / HTTP/1.0\r\n\r\n"},
			{"long http request", "GET / HTTP/1.1\r\nHost: sd.example\r\nUser-Agent: scanner/1.0\r\nAccept: */*\r\n\r\n"},
			{"binary", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := rawDial(t, l)
				if _, err := c.Write([]byte(tc.send)); err != nil {
					t.Fatal(err)
				}
				// Refused on the first bytes, without waiting for the timeout.
				if took := closedByPeer(t, c, testDeadline); took >= HandshakeTimeout {
					t.Fatalf("closed after %v: garbage held until the handshake timeout", took)
				}
				logs.refused(t, c.LocalAddr().String(), 0, garbageReason)
			})
		}
	})

	t.Run("silent connection", func(t *testing.T) {
		c := rawDial(t, l)
		took := closedByPeer(t, c, HandshakeTimeout+5*time.Second)
		if took < HandshakeTimeout/2 {
			t.Fatalf("closed after %v, before the %v handshake timeout", took, HandshakeTimeout)
		}
		logs.refused(t, c.LocalAddr().String(), 0, "timeout")
	})

	t.Run("cancel", func(t *testing.T) {
		// A cancelled (expired) expectation is an unknown job.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		x.Cancel()
		if _, err := dial(t, l, RoleSD, job, key); !errors.Is(err, ErrRefused) {
			t.Fatalf("dial after Cancel: err = %v, want ErrRefused", err)
		}
		logs.refused(t, "", job, ErrUnknownJob.Error())
	})

	t.Run("wait context ends", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if c, err := x.Wait(ctx); c != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, %v; want context.Canceled", c, err)
		}
		if _, err := dial(t, l, RoleSD, job, key); !errors.Is(err, ErrRefused) {
			t.Fatalf("dial after Wait gave up: err = %v, want ErrRefused", err)
		}
		logs.refused(t, "", job, ErrUnknownJob.Error())
	})

	t.Run("cancel after acceptance closes the connection", func(t *testing.T) {
		// Cancel closes a connection already delivered; one accepted but
		// not yet delivered when Cancel runs must not leak either.
		for i := 0; i < 100; i++ {
			job, key := newJob(), NewKey()
			x := expect(l, job, RoleSD, key)
			c := mustDial(t, l, RoleSD, job, key)
			x.Cancel()
			closedByPeer(t, c, 5*time.Second)
			c.Close()
		}
		logs.mu.Lock()
		late := 0
		for _, r := range logs.recs {
			if strings.Contains(r["reason"], "cancelled after the handshake") {
				late++
			}
		}
		logs.mu.Unlock()
		t.Logf("%d of 100 cancels landed between acceptance and delivery", late)
	})

	t.Run("idle flood", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		before := runtime.NumGoroutine()
		idle := make([]net.Conn, maxHandshakes+10)
		for i := range idle {
			idle[i] = rawDial(t, l)
		}
		// Every slot taken, the rest dropped at once: one goroutine per
		// slot, no more.
		waitFor(t, "handshake slots taken", func() bool { return len(l.sem) == maxHandshakes })
		if n := runtime.NumGoroutine() - before; n > maxHandshakes+5 {
			t.Fatalf("%d more goroutines during a flood of %d connections", n, len(idle))
		}
		logs.wait(t, "flood drop", func(r map[string]string) bool {
			return strings.Contains(r["msg"], "too many handshakes")
		})
		for _, c := range idle {
			closedByPeer(t, c, HandshakeTimeout+5*time.Second)
		}
		// The handshake slots are released just after the close.
		waitFor(t, "handshake slots released", func() bool { return len(l.sem) == 0 })
		if !pending(x) {
			t.Fatal("flood disturbed the expectation")
		}
		exchange(t, mustDial(t, l, RoleSD, job, key), mustWait(t, x))
	})

	t.Run("still serving", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		exchange(t, mustDial(t, l, RoleSD, job, key), mustWait(t, x))
	})
}

// waitFor polls cond until it holds or the test deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition, not synchronizing
	}
}

// TestPlainHandshake covers what is proper to the plain handshake, step by
// step on the wire.
func TestPlainHandshake(t *testing.T) {
	l, logs := startListenerSec(t, Security{Insecure: true})
	var nextJob uint64 = 100
	newJob := func() uint64 { nextJob++; return nextJob }

	t.Run("replay of a recorded transcript", func(t *testing.T) {
		// Even with the same key registered again, a recorded dialer
		// transcript is useless: the listener's nonce is fresh.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		raw, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		rec := &recordConn{Conn: raw}
		t.Cleanup(func() { raw.Close() })
		if err := ClientHandshake(rec, RoleSD, job, key); err != nil {
			t.Fatal(err)
		}
		exchange(t, raw, mustWait(t, x))
		transcript := bytes.Clone(rec.sent.Bytes()[:helloLen+macLen])

		x2 := expect(l, job, RoleSD, key)
		c := rawDial(t, l)
		if _, err := c.Write(transcript[:helloLen]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, nonceLen+macLen)); err != nil {
			t.Fatalf("read challenge: %v", err)
		}
		if _, err := c.Write(transcript[helloLen:]); err != nil {
			t.Fatal(err)
		}
		closedByPeer(t, c, testDeadline)
		logs.refused(t, c.LocalAddr().String(), 0, ErrBadProof.Error())
		if !pending(x2) {
			t.Fatal("replayed transcript disturbed the expectation")
		}
		x2.Cancel()
	})

	t.Run("tls client hello", func(t *testing.T) {
		// A TLS dialer on a plain-only port fails the magic at once.
		c := rawDial(t, l)
		if _, err := c.Write([]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 60))); err != nil {
			t.Fatal(err)
		}
		if took := closedByPeer(t, c, testDeadline); took >= HandshakeTimeout {
			t.Fatalf("closed after %v", took)
		}
		logs.refused(t, c.LocalAddr().String(), 0, ErrBadMagic.Error())
	})

	t.Run("silent connection", func(t *testing.T) {
		tests := []struct{ name, send string }{
			{"part of the magic", "FERR"},
			{"hello cut short", string(magic[:]) + "s"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := rawDial(t, l)
				if _, err := c.Write([]byte(tc.send)); err != nil {
					t.Fatal(err)
				}
				took := closedByPeer(t, c, HandshakeTimeout+5*time.Second)
				if took < HandshakeTimeout/2 {
					t.Fatalf("closed after %v, before the %v handshake timeout", took, HandshakeTimeout)
				}
				logs.refused(t, c.LocalAddr().String(), 0, "timeout")
			})
		}
	})

	t.Run("silent after hello", func(t *testing.T) {
		// A dialer that stops after the hello is dropped at the timeout
		// and leaves the expectation alone.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		rc := rawHello(t, l, RoleSD, job)
		rc.challenge(t, key)
		took := closedByPeer(t, rc.c, HandshakeTimeout+5*time.Second)
		if took < HandshakeTimeout/2 {
			t.Fatalf("closed after %v", took)
		}
		logs.refused(t, rc.c.LocalAddr().String(), job, "timeout")
		if !pending(x) {
			t.Fatal("expectation disturbed")
		}
		exchange(t, mustDial(t, l, RoleSD, job, key), mustWait(t, x))
	})

	t.Run("cancel during handshake", func(t *testing.T) {
		// The dialer has proved the key, but the job was cancelled in
		// between: it must be refused, not told "accepted" and then cut.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		rc := rawHello(t, l, RoleSD, job)
		nl := rc.challenge(t, key)
		x.Cancel()
		rc.prove(t, key, nl)
		if rc.accepted(t) {
			t.Fatal("listener accepted a connection for a cancelled job")
		}
		logs.refused(t, rc.c.LocalAddr().String(), job, "")
	})

	t.Run("concurrent dials with one key", func(t *testing.T) {
		// Both dialers hold the key and prove it at the same time: exactly
		// one is accepted, and it is the one delivered.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		rcs := []*rawClient{rawHello(t, l, RoleSD, job), rawHello(t, l, RoleSD, job)}
		nls := [][]byte{rcs[0].challenge(t, key), rcs[1].challenge(t, key)}
		rcs[0].prove(t, key, nls[0])
		rcs[1].prove(t, key, nls[1])
		var winner *rawClient
		for _, rc := range rcs {
			if rc.accepted(t) {
				if winner != nil {
					t.Fatal("both connections were told they were accepted")
				}
				winner = rc
			}
		}
		if winner == nil {
			t.Fatal("neither connection was accepted")
		}
		s := mustWait(t, x)
		if s.RemoteAddr().String() != winner.c.LocalAddr().String() {
			t.Fatal("delivered connection is not the accepted one")
		}
		exchange(t, winner.c, s)
	})
}

func TestListenerClose(t *testing.T) {
	logs := newLogRecorder()
	l, err := Listen("127.0.0.1:0", RoleSD, Security{Identity: ids[RoleSD]}, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve(context.Background()) }()
	l.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after Close: %v", err)
		}
	case <-time.After(testDeadline):
		t.Fatal("Serve did not return after Close")
	}
	if _, err := Dial(testCtx(t), l.Addr().String(), RoleFD, 1, NewKey(), ids[RoleSD].PublicKey(), testDeadline, Security{Identity: ids[RoleFD]}); err == nil {
		t.Fatal("dial to a closed listener succeeded")
	}
}

func TestHandshakeOverPipe(t *testing.T) {
	// ClientHandshake against ReadHello+ServerHandshake, no listener.
	key := NewKey()
	tests := []struct {
		name      string
		clientKey []byte
		wantErr   error // on the client side
	}{
		{"same key", key, nil},
		{"different key", NewKey(), ErrBadProof},
		{"empty key", []byte{}, ErrBadProof},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			_ = sc.SetDeadline(time.Now().Add(testDeadline))
			serr := make(chan error, 1)
			go func() {
				h, err := ReadHello(sc)
				if err == nil && (h.Role != RoleFD || h.Job != 42) {
					err = errors.New("hello mismatch")
				}
				if err == nil {
					err = ServerHandshake(sc, h, key)
				}
				if err != nil {
					sc.Close()
				}
				serr <- err
			}()
			err := ClientHandshake(cc, RoleFD, 42, tc.clientKey)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("client: err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				cc.Close()
			}
			select {
			case err := <-serr:
				if (err == nil) != (tc.wantErr == nil) {
					t.Fatalf("server: err = %v", err)
				}
			case <-time.After(testDeadline):
				t.Fatal("server side hung")
			}
			if tc.wantErr == nil {
				exchange(t, cc, sc)
			}
		})
	}
}
