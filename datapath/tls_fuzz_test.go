package datapath

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// fixedExporter stands in for a TLS connection's keying material.
func fixedExporter(label string, context []byte, length int) ([]byte, error) {
	return bytes.Repeat([]byte{0x5a}, length), nil
}

// FuzzTLSHello: the hello read inside TLS is accepted only whole and with
// its magic, and its proof only if it is the key's proof for what it names.
func FuzzTLSHello(f *testing.F) {
	key := bytes.Repeat([]byte{0x17}, KeyLen)
	good := func(role Role, job uint64) []byte {
		mac, _ := tlsProof(fixedExporter, key, "dialer", job, role, RoleFD)
		b := append(magic2[:], byte(role))
		b = binary.LittleEndian.AppendUint64(b, job)
		return append(b, mac...)
	}
	f.Add(good(RoleSD, 7))
	f.Add(good(RoleFD, 7))
	f.Add(append(good(RoleSD, 1), 0xff))
	f.Add(good(RoleSD, 7)[:hello2Len-1])
	f.Add(append(magic[:], make([]byte, 41)...))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := readHello(bytes.NewReader(data), magic2, hello2Len)
		if err != nil {
			if len(data) >= hello2Len && bytes.HasPrefix(data, magic2[:]) {
				t.Fatalf("a whole hello refused: %v", err)
			}
			if len(data) >= len(magic2) && !bytes.HasPrefix(data, magic2[:]) && !errors.Is(err, ErrBadMagic) {
				t.Fatalf("bad magic reported as %v", err)
			}
			return
		}
		if len(data) < hello2Len || !bytes.HasPrefix(data, magic2[:]) {
			t.Fatal("accepted a short or foreign hello")
		}
		perr := checkProofTLS(fixedExporter, h, RoleFD, key)
		if want := good(h.Role, h.Job); (perr == nil) != bytes.Equal(data[:hello2Len], want) {
			t.Fatalf("proof check %v for hello %x", perr, data[:hello2Len])
		}
	})
}

// FuzzListenerHandshake feeds any bytes to a listener that speaks TLS and
// plain: it returns within the handshake deadline and delivers nothing.
// The seeded ClientHello is long: minimizing an input found from it takes
// the whole -fuzzminimizetime (60 s by default), so pass e.g.
// -fuzzminimizetime=10x.
func FuzzListenerHandshake(f *testing.F) {
	f.Add(recordedClientHello(f))
	f.Add(append(magic[:], make([]byte, nonceLen+9)...))
	f.Add([]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
	f.Add([]byte("\x16\xff\xff\x00\x05hello"))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte{})
	cfg, err := serverTLS(ids[RoleFD])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzListener(t, cfg, data) })
}

// fuzzListener runs one listener handshake on data from a dialer that
// then hangs up.
func fuzzListener(t *testing.T, cfg *tls.Config, data []byte) {
	l := &Listener{me: RoleFD, sec: Security{Identity: ids[RoleFD], Insecure: true}, tls: cfg,
		log: slog.New(slog.DiscardHandler), expect: map[uint64]*expectation{}}
	var x [2]*Expected // a TLS job and a plain one
	for i, peerKey := range []string{ids[RoleSD].PublicKey(), ""} {
		x[i] = l.Expect(uint64(i), RoleSD, bytes.Repeat([]byte{0x17}, KeyLen), peerKey)
	}
	cc, sc := net.Pipe()
	go func() { _, _ = cc.Write(data); cc.Close() }()
	go func() { _, _ = io.Copy(io.Discard, cc) }() // the listener's writes never block
	done := make(chan struct{})
	go func() { l.handshake(sc); close(done) }()
	select {
	case <-done:
	case <-time.After(HandshakeTimeout + testDeadline):
		t.Fatal("listener side hung")
	}
	sc.Close()
	for _, e := range x {
		if !pending(e) {
			t.Fatal("fuzzed bytes got a connection delivered")
		}
	}
}

// recordedClientHello is what a real dialer sends first.
func recordedClientHello(f *testing.F) []byte {
	cfg, err := clientTLS(ids[RoleSD], ids[RoleFD].PublicKey())
	if err != nil {
		f.Fatal(err)
	}
	cc, sc := net.Pipe()
	defer sc.Close()
	go func() { _ = tls.Client(cc, cfg).Handshake(); cc.Close() }()
	buf := make([]byte, 4096)
	_ = sc.SetReadDeadline(time.Now().Add(testDeadline))
	n, _ := sc.Read(buf)
	return buf[:n]
}
