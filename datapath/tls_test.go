package datapath

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/identity"
)

// tlsClient completes a TLS handshake with l as id (mod, if set, changes
// the configuration) and returns the connection before any hello. The
// error is the client's view of the handshake.
func tlsClient(t *testing.T, l *Listener, id *identity.Identity, mod func(*tls.Config)) (*tls.Conn, error) {
	t.Helper()
	cfg, err := clientTLS(id, l.sec.Identity.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(cfg)
	}
	tc := tls.Client(rawDial(t, l), cfg)
	return tc, tc.Handshake()
}

// tlsHello is the hello a dialer of role sends on tc, with its proof of key.
func tlsHello(t *testing.T, tc *tls.Conn, role Role, job uint64, key []byte) []byte {
	t.Helper()
	cs := tc.ConnectionState()
	mac, err := tlsProof(cs.ExportKeyingMaterial, key, "dialer", job, role, role.other())
	if err != nil {
		t.Fatal(err)
	}
	b := append(magic2[:], byte(role))
	b = binary.LittleEndian.AppendUint64(b, job)
	return append(b, mac...)
}

// tlsAccepted reads the listener's answer on tc: true if it is the
// listener's proof of key, false if the listener closed instead.
func tlsAccepted(t *testing.T, tc *tls.Conn, role Role, job uint64, key []byte) bool {
	t.Helper()
	got := make([]byte, macLen)
	_, err := io.ReadFull(tc, got)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("no verdict from the listener")
	}
	if err != nil {
		return false
	}
	cs := tc.ConnectionState()
	want, _ := tlsProof(cs.ExportKeyingMaterial, key, "listener", job, role, role.other())
	if !bytes.Equal(got, want) {
		t.Fatal("listener's proof does not match")
	}
	return true
}

// ecdsaCert is a self-signed certificate whose key is not an agent's.
func ecdsaCert(t *testing.T) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not an agent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// TestTLSListener covers what is proper to TLS on the listener: who may
// connect, what a TLS port refuses, and the proofs' binding to their
// connection. After each refusal the job's expectation is untouched and
// the real peer still gets through.
func TestTLSListener(t *testing.T) {
	l, logs := startListener(t)
	var nextJob uint64 = 500
	newJob := func() uint64 { nextJob++; return nextJob }
	// stillServes checks x got nothing and the real sd still connects.
	stillServes := func(t *testing.T, x *Expected, job uint64, key []byte) {
		t.Helper()
		if !pending(x) {
			t.Fatal("the refused connection disturbed the expectation")
		}
		exchange(t, mustDial(t, l, RoleSD, job, key), mustWait(t, x))
	}

	t.Run("impostor dialer", func(t *testing.T) {
		// Another agent's identity, even with the job's key, is refused.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		impostor := Security{Identity: mustIdentity()}
		_, err := Dial(testCtx(t), l.Addr().String(), RoleSD, job, key, ids[RoleFD].PublicKey(), testDeadline, impostor)
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("impostor dial: err = %v, want ErrRefused", err)
		}
		r := logs.refused(t, "", job, ErrWrongPeer.Error())
		if !strings.Contains(r["reason"], impostor.Identity.PublicKey()) {
			t.Errorf("reason %q does not name the key presented", r["reason"])
		}
		stillServes(t, x, job, key)
	})

	t.Run("identity of the listener's own role", func(t *testing.T) {
		// An fd's identity dialing as the sd is not the sd the job names.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		_, err := Dial(testCtx(t), l.Addr().String(), RoleSD, job, key, ids[RoleFD].PublicKey(), testDeadline, Security{Identity: ids[RoleFD]})
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
		logs.refused(t, "", job, ErrWrongPeer.Error())
		stillServes(t, x, job, key)
	})

	t.Run("certificates that are not an agent's", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		tests := []struct {
			name   string
			cert   tls.Certificate
			reason string
		}{
			{"ecdsa", ecdsaCert(t), ErrWrongPeer.Error()},
			{"none", tls.Certificate{}, "tls handshake"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				conn, err := tlsClient(t, l, ids[RoleSD], func(c *tls.Config) {
					c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc.cert, nil }
				})
				if err == nil {
					// TLS 1.3: the client learns of the refusal on its first read.
					_, _ = conn.Write(tlsHello(t, conn, RoleSD, job, key))
					if tlsAccepted(t, conn, RoleSD, job, key) {
						t.Fatal("accepted")
					}
				}
				logs.refused(t, conn.LocalAddr().String(), 0, tc.reason)
			})
		}
		stillServes(t, x, job, key)
	})

	t.Run("tls 1.2", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		conn, err := tlsClient(t, l, ids[RoleSD], func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		})
		if err == nil {
			t.Fatal("a TLS 1.2 handshake succeeded")
		}
		logs.refused(t, conn.LocalAddr().String(), 0, "version")
		stillServes(t, x, job, key)
	})

	t.Run("plain dialer", func(t *testing.T) {
		// An sd configured insecure, for a job the director says is plain,
		// dials a TLS-only fd: refused at its hello, with the reason.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		_, err := Dial(testCtx(t), l.Addr().String(), RoleSD, job, key, "", testDeadline, Security{Insecure: true})
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("plain dial: err = %v, want ErrRefused", err)
		}
		logs.refused(t, "", 0, ErrPlainHello.Error())
		stillServes(t, x, job, key)
	})

	t.Run("proof replayed on another connection", func(t *testing.T) {
		// A proof is bound to its connection's keying material: the same
		// hello sent on a second connection (same identity, same key) is
		// refused, and the first connection still gets through with it.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		first, err := tlsClient(t, l, ids[RoleSD], nil)
		if err != nil {
			t.Fatal(err)
		}
		second, err := tlsClient(t, l, ids[RoleSD], nil)
		if err != nil {
			t.Fatal(err)
		}
		hello := tlsHello(t, first, RoleSD, job, key)
		if _, err := second.Write(hello); err != nil {
			t.Fatal(err)
		}
		if tlsAccepted(t, second, RoleSD, job, key) {
			t.Fatal("a proof made on another connection was accepted")
		}
		logs.refused(t, second.LocalAddr().String(), job, ErrBadProof.Error())
		if !pending(x) {
			t.Fatal("the replay disturbed the expectation")
		}
		if _, err := first.Write(hello); err != nil {
			t.Fatal(err)
		}
		if !tlsAccepted(t, first, RoleSD, job, key) {
			t.Fatal("the proof's own connection was refused")
		}
		exchange(t, first, mustWait(t, x))
	})

	t.Run("hello inside tls is not a Ferry hello", func(t *testing.T) {
		conn, err := tlsClient(t, l, ids[RoleSD], nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if took := closedByPeer(t, conn, testDeadline); took >= HandshakeTimeout {
			t.Fatalf("closed after %v", took)
		}
		logs.refused(t, conn.LocalAddr().String(), 0, ErrBadMagic.Error())
	})

	t.Run("hostile bytes", func(t *testing.T) {
		tests := []struct {
			name, send string
			quick      bool // refused at once, else at the handshake timeout
			reason     string
		}{
			{"not a tls record", "\x16\xff\xff\x00\x05hello", true, "tls handshake"},
			{"half a client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 60), false, "timeout"},
			{"a record header only", "\x16\x03\x01", false, "timeout"},
			{"part of a plain hello", "FERR", false, "timeout"},
			{"plain hello", string(magic[:]) + "s", true, ErrPlainHello.Error()},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := rawDial(t, l)
				if _, err := c.Write([]byte(tc.send)); err != nil {
					t.Fatal(err)
				}
				took := closedByPeer(t, c, HandshakeTimeout+5*time.Second)
				if tc.quick && took >= HandshakeTimeout/2 {
					t.Fatalf("closed after %v: held until the handshake timeout", took)
				}
				if !tc.quick && took < HandshakeTimeout/2 {
					t.Fatalf("closed after %v, before the %v handshake timeout", took, HandshakeTimeout)
				}
				logs.refused(t, c.LocalAddr().String(), 0, tc.reason)
			})
		}
	})

	t.Run("silent after the tls handshake", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		conn, err := tlsClient(t, l, ids[RoleSD], nil)
		if err != nil {
			t.Fatal(err)
		}
		took := closedByPeer(t, conn, HandshakeTimeout+5*time.Second)
		if took > HandshakeTimeout+time.Second {
			t.Fatalf("closed after %v", took)
		}
		logs.refused(t, conn.LocalAddr().String(), 0, "timeout")
		stillServes(t, x, job, key)
	})

	t.Run("cancel during handshake", func(t *testing.T) {
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		conn, err := tlsClient(t, l, ids[RoleSD], nil)
		if err != nil {
			t.Fatal(err)
		}
		x.Cancel()
		if _, err := conn.Write(tlsHello(t, conn, RoleSD, job, key)); err != nil {
			t.Fatal(err)
		}
		if tlsAccepted(t, conn, RoleSD, job, key) {
			t.Fatal("listener accepted a connection for a cancelled job")
		}
		logs.refused(t, conn.LocalAddr().String(), job, ErrUnknownJob.Error())
	})

	t.Run("concurrent dials with one key", func(t *testing.T) {
		// Both hold the identity and the key: exactly one is accepted, and
		// it is the one delivered.
		job, key := newJob(), NewKey()
		x := expect(l, job, RoleSD, key)
		var conns []*tls.Conn
		var hellos [][]byte
		for range 2 {
			c, err := tlsClient(t, l, ids[RoleSD], nil)
			if err != nil {
				t.Fatal(err)
			}
			conns, hellos = append(conns, c), append(hellos, tlsHello(t, c, RoleSD, job, key))
		}
		for i, c := range conns {
			if _, err := c.Write(hellos[i]); err != nil {
				t.Fatal(err)
			}
		}
		var winner *tls.Conn
		for _, c := range conns {
			if tlsAccepted(t, c, RoleSD, job, key) {
				if winner != nil {
					t.Fatal("both connections were accepted")
				}
				winner = c
			}
		}
		if winner == nil {
			t.Fatal("neither connection was accepted")
		}
		s := mustWait(t, x)
		if s.RemoteAddr().String() != winner.LocalAddr().String() {
			t.Fatal("delivered connection is not the accepted one")
		}
		exchange(t, winner, s)
	})
}

// TestDialImpostor: a listener at the peer's address that is not the
// identity the job names (a fake fd where the sd dials a passive client)
// is refused by the dialer during the TLS handshake, before any data goes
// either way.
func TestDialImpostor(t *testing.T) {
	impostor := mustIdentity()

	t.Run("ferry listener", func(t *testing.T) {
		// Worst case: the impostor even holds the job's key.
		fake, logs := startListenerSec(t, Security{Identity: impostor})
		job, key := uint64(7), NewKey()
		x := fake.Expect(job, RoleSD, key, ids[RoleSD].PublicKey())
		ch := NewChannel()
		defer ch.Close()
		_, err := ch.Dial(fake.Addr().String(), RoleSD, job, key, ids[RoleFD].PublicKey(), testDeadline, Security{Identity: ids[RoleSD]})
		if !errors.Is(err, ErrWrongPeer) || !strings.Contains(err.Error(), impostor.PublicKey()) {
			t.Fatalf("dial to the impostor: err = %v, want ErrWrongPeer naming its key", err)
		}
		if c, err := ch.Wait(50 * time.Millisecond); c != nil || err == nil {
			t.Fatal("the channel holds a socket to the impostor")
		}
		logs.refused(t, "", 0, "bad certificate")
		if !pending(x) {
			t.Fatal("the impostor received a hello")
		}
	})

	t.Run("raw tls server", func(t *testing.T) {
		// A TLS server that accepts anything and records what it gets.
		cert, err := impostor.Certificate()
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan int, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- -1
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(testDeadline))
			_, _ = c.Write([]byte("data from the impostor")) // the client must never read it
			n, _ := io.Copy(io.Discard, c)
			got <- int(n)
		}()
		_, err = Dial(testCtx(t), ln.Addr().String(), RoleSD, 7, NewKey(), ids[RoleFD].PublicKey(), testDeadline, Security{Identity: ids[RoleSD]})
		if !errors.Is(err, ErrWrongPeer) {
			t.Fatalf("err = %v, want ErrWrongPeer", err)
		}
		if n := <-got; n != 0 {
			t.Fatalf("the impostor read %d bytes of application data", n)
		}
	})
}

// TestDualListener: an insecure agent with an identity serves TLS and
// plain jobs on one port; each job takes only its own mode.
func TestDualListener(t *testing.T) {
	l, logs := startListenerSec(t, Security{Identity: ids[RoleFD], Insecure: true})
	sdKey, fdKey := ids[RoleSD].PublicKey(), ids[RoleFD].PublicKey()
	sec := Security{Identity: ids[RoleSD], Insecure: true}
	dialAs := func(job uint64, key []byte, peerKey string) (net.Conn, error) {
		c, err := Dial(testCtx(t), l.Addr().String(), RoleSD, job, key, peerKey, testDeadline, sec)
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	tests := []struct {
		name             string
		expect, dialPeer string // "" for plain
		wantErr          error
	}{
		{"tls job over tls", sdKey, fdKey, nil},
		{"plain job over plain", "", "", nil},
		{"tls job over plain", sdKey, "", ErrWrongMode},
		{"plain job over tls", "", fdKey, ErrWrongMode},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job, key := uint64(900+i), NewKey()
			x := l.Expect(job, RoleSD, key, tc.expect)
			c, err := dialAs(job, key, tc.dialPeer)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				s := mustWait(t, x)
				if _, _, ok := TLSInfo(s); ok != (tc.expect != "") {
					t.Fatalf("delivered TLS = %v", ok)
				}
				exchange(t, c, s)
				return
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
			logs.refused(t, "", job, tc.wantErr.Error())
			if !pending(x) {
				t.Fatal("expectation disturbed")
			}
		})
	}
}

// TestListenerWithoutSecurity: no identity and not insecure: nothing gets
// through, and says why.
func TestListenerWithoutSecurity(t *testing.T) {
	l, logs := startListenerSec(t, Security{})
	job, key := uint64(3), NewKey()
	x := l.Expect(job, RoleSD, key, "")
	c := rawDial(t, l)
	closedByPeer(t, c, testDeadline)
	logs.refused(t, c.LocalAddr().String(), 0, ErrNoIdentity.Error())
	if !pending(x) {
		t.Fatal("expectation disturbed")
	}
}

func TestSecurityJobPeer(t *testing.T) {
	id := mustIdentity()
	peer := ids[RoleSD].PublicKey()
	tests := []struct {
		name    string
		sec     Security
		plain   bool
		peerKey string
		want    string
		wantErr error
	}{
		{"tls", Security{Identity: id}, false, peer, peer, nil},
		{"tls on an insecure agent", Security{Identity: id, Insecure: true}, false, peer, peer, nil},
		{"plain on an insecure agent", Security{Insecure: true}, true, peer, "", nil},
		{"plain on a secure agent", Security{Identity: id}, true, "", "", ErrPlainRefused},
		{"plain on an agent with nothing", Security{}, true, "", "", ErrPlainRefused},
		{"tls without identity", Security{Insecure: true}, false, peer, "", ErrNoIdentity},
		{"tls without identity or insecure", Security{}, false, peer, "", ErrNoIdentity},
		{"tls without peer key", Security{Identity: id}, false, "", "", ErrNoPeerKey},
		{"peer key not an agent's", Security{Identity: id}, false, "NABC", "", ErrNoPeerKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sec.JobPeer(tc.plain, tc.peerKey)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("JobPeer = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestDialChecksSecurityFirst: a mode the agent does not allow fails
// before any connection is made.
func TestDialChecksSecurityFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	if _, err := Dial(testCtx(t), addr, RoleSD, 1, NewKey(), "", time.Second, Security{Identity: ids[RoleSD]}); !errors.Is(err, ErrPlainRefused) {
		t.Fatalf("plain from a secure agent: err = %v", err)
	}
	if _, err := Dial(testCtx(t), addr, RoleSD, 1, NewKey(), ids[RoleFD].PublicKey(), time.Second, Security{Insecure: true}); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("tls without identity: err = %v", err)
	}
	select {
	case <-accepted:
		t.Fatal("a refused mode still connected")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestTLSInfo reads the negotiated values, and nothing from a plain socket.
func TestTLSInfo(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, _, ok := TLSInfo(a); ok {
		t.Fatal("TLSInfo on a pipe says TLS")
	}
	l, _ := startListenerSec(t, Security{Identity: ids[RoleFD]})
	x := expect(l, 1, RoleSD, NewKey())
	key := x.e.key
	c := mustDial(t, l, RoleSD, 1, key)
	s := mustWait(t, x)
	for _, conn := range []net.Conn{c, s} {
		version, suite, ok := TLSInfo(conn)
		if !ok || version != "TLS 1.3" || !strings.HasPrefix(suite, "TLS_") {
			t.Fatalf("TLSInfo = %q %q %v", version, suite, ok)
		}
	}
}

// countingConn counts the writes reaching the network.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestTLSWritesGathered: a Write of a Writer's whole buffer on a TLS data
// socket is sealed into many TLS records and reaches the network with
// one write; what crypto/tls writes on its own (the close alert) still
// goes out.
func TestTLSWritesGathered(t *testing.T) {
	l, _ := startListenerSec(t, Security{Identity: ids[RoleFD]})
	x := expect(l, 1, RoleSD, NewKey())
	c := mustDial(t, l, RoleSD, 1, x.e.key)
	s := mustWait(t, x)
	dc, ok := c.(*tlsDataConn)
	if !ok {
		t.Fatalf("dialed TLS data socket is a %T", c)
	}
	counted := &countingConn{Conn: dc.under.Conn}
	dc.under.Conn = counted

	msg := pattern(bufSize)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(s)
		got <- b
	}()
	if n, err := c.Write(msg); err != nil || n != len(msg) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if w := counted.writes.Load(); w != 1 {
		t.Fatalf("%d network writes for one Write of %d bytes (%d TLS records), want 1", w, len(msg), len(msg)/16384)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, msg) {
			t.Fatalf("received %d bytes, not the %d written", len(b), len(msg))
		}
	case <-time.After(testDeadline):
		t.Fatal("the close alert did not reach the peer")
	}
	if w := counted.writes.Load(); w != 2 {
		t.Fatalf("%d network writes after the close alert, want 2", w)
	}
}
