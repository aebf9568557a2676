package harness

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Relay listens on a loopback port and forwards every connection to an
// upstream address, recording who connected. With a gate, it forwards only
// the first Free bytes of each direction (the handshake) and holds the rest
// until Open is called: tests use that to keep jobs running at a point they
// observed, without sleeping.
type Relay struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	conns []string // remote addresses of accepted connections
	heads [][]byte // first bytes each dialer sent (up to 128): its handshake
	gate  chan struct{}
	free  [2]int64 // dialer→upstream, upstream→dialer

	marker []byte // Watch: bytes no connection may carry in the clear
	seen   bool
}

// Watch makes the relay look for marker in everything it forwards, in
// both directions and across read boundaries; Seen reports a hit.
func (r *Relay) Watch(marker string) {
	r.mu.Lock()
	r.marker, r.seen = []byte(marker), false
	r.mu.Unlock()
}

// Seen reports whether any forwarded bytes held the Watch marker.
func (r *Relay) Seen() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

// NewRelay starts a relay to upstream.
func NewRelay(t testing.TB, upstream string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, upstream: upstream}
	go r.serve()
	t.Cleanup(func() { ln.Close(); r.Open() })
	return r
}

// Port of the relay.
func (r *Relay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// Addr of the relay.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// SetUpstream changes where new connections go.
func (r *Relay) SetUpstream(addr string) {
	r.mu.Lock()
	r.upstream = addr
	r.mu.Unlock()
}

// Hold makes new connections stop after the data socket handshake until
// Open. A plain handshake is 81 bytes from the dialer and 65 back; a TLS
// one ends with the listener's first application-data record sent after
// the dialer's first (its proof: see tlsGate).
func (r *Relay) Hold() {
	r.mu.Lock()
	r.gate = make(chan struct{})
	r.free = [2]int64{81, 65}
	r.mu.Unlock()
}

// HoldAfter is Hold, but lets n bytes of the dialer's stream through after
// its handshake before holding: the peer then has data to write.
func (r *Relay) HoldAfter(n int64) {
	r.Hold()
	r.mu.Lock()
	r.free[0] += n
	r.mu.Unlock()
}

// Open releases held connections.
func (r *Relay) Open() {
	r.mu.Lock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
	r.mu.Unlock()
}

// Close stops accepting: later dials are refused.
func (r *Relay) Close() { r.ln.Close() }

// Head returns the first bytes (up to 128) the i-th dialer sent.
func (r *Relay) Head(i int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.heads) {
		return nil
	}
	return append([]byte(nil), r.heads[i]...)
}

// Connections lists the remote addresses that connected.
func (r *Relay) Connections() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.conns...)
}

func (r *Relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c.RemoteAddr().String())
		r.heads = append(r.heads, nil)
		idx := len(r.heads) - 1
		up, gate, free := r.upstream, r.gate, r.free
		r.mu.Unlock()
		go r.pipe(&headConn{Conn: c, r: r, idx: idx}, up, gate, free)
	}
}

func (r *Relay) pipe(c net.Conn, upstream string, gate chan struct{}, free [2]int64) {
	raw, err := net.Dial("tcp", upstream)
	if err != nil {
		c.Close()
		return
	}
	var u net.Conn = raw
	r.mu.Lock()
	marker := r.marker
	r.mu.Unlock()
	if marker != nil {
		u = &scanConn{Conn: raw, r: r, in: &scanner{marker: marker}, out: &scanner{marker: marker}}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	if gate != nil {
		// The dialer's first byte tells a TLS handshake record (0x16)
		// from a plain hello.
		br := bufio.NewReader(c)
		first, err := br.Peek(1)
		if err == nil && first[0] == 0x16 {
			g := &tlsGate{gate: gate, handshook: make(chan struct{})}
			go func() { defer wg.Done(); g.fromDialer(u, br, free[0]-81); closeWrite(u) }()
			go func() { defer wg.Done(); g.fromListener(c, u); closeWrite(c) }()
			wg.Wait()
			c.Close()
			u.Close()
			return
		}
		go func() { defer wg.Done(); gatedCopy(u, br, gate, free[0]); closeWrite(u) }()
	} else {
		go func() { defer wg.Done(); gatedCopy(u, c, gate, free[0]); closeWrite(u) }()
	}
	go func() { defer wg.Done(); gatedCopy(c, u, gate, free[1]); closeWrite(c) }()
	wg.Wait()
	c.Close()
	u.Close()
}

func gatedCopy(dst io.Writer, src io.Reader, gate chan struct{}, free int64) {
	if gate != nil {
		if _, err := io.CopyN(dst, src, free); err != nil {
			return
		}
		<-gate
	}
	_, _ = io.Copy(dst, src)
}

// tlsGate holds a TLS data connection after its handshake. TLS records
// are read whole: the listener's proof is the first application-data
// record (type 0x17) it sends after the dialer sent one (the dialer's
// encrypted certificate, finished and hello); the dialer sends nothing
// more until it has that proof. So: forward everything until the proof
// has gone to the dialer, then let extra bytes of the dialer's stream
// through and hold both directions until the gate opens.
type tlsGate struct {
	gate       chan struct{}
	dialerApp  atomic.Bool
	handshook  chan struct{}
	handshakeO sync.Once
}

func (g *tlsGate) fromDialer(dst io.Writer, src *bufio.Reader, extra int64) {
	for {
		select {
		case <-g.handshook:
			if extra > 0 {
				if _, err := io.CopyN(dst, src, extra); err != nil {
					return
				}
			}
			<-g.gate
			_, _ = io.Copy(dst, src)
			return
		default:
		}
		// Marked before the record goes on: the listener can answer it
		// only after it arrived.
		if _, err := copyRecord(dst, src, func(typ byte) {
			if typ == 0x17 {
				g.dialerApp.Store(true)
			}
		}); err != nil {
			return
		}
	}
}

func (g *tlsGate) fromListener(dst io.Writer, src io.Reader) {
	br := bufio.NewReader(src)
	for {
		// Decided when the record's header is read, before it is passed
		// on: the dialer's own application data can only follow the
		// listener's handshake records it has received.
		proof := false
		if _, err := copyRecord(dst, br, func(typ byte) { proof = typ == 0x17 && g.dialerApp.Load() }); err != nil {
			return
		}
		if proof {
			g.handshakeO.Do(func() { close(g.handshook) })
			<-g.gate
			_, _ = io.Copy(dst, br)
			return
		}
	}
}

// copyRecord forwards one TLS record and returns its type; seen gets the
// type before anything is forwarded.
func copyRecord(dst io.Writer, src *bufio.Reader, seen func(typ byte)) (byte, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(src, hdr); err != nil {
		return 0, err
	}
	seen(hdr[0])
	n := int64(hdr[3])<<8 | int64(hdr[4])
	if _, err := dst.Write(hdr); err != nil {
		return 0, err
	}
	if _, err := io.CopyN(dst, src, n); err != nil {
		return 0, err
	}
	return hdr[0], nil
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// scanner finds a marker in a byte stream fed in pieces.
type scanner struct {
	marker []byte
	tail   []byte
}

func (s *scanner) feed(p []byte) bool {
	buf := append(s.tail, p...)
	hit := bytes.Contains(buf, s.marker)
	keep := len(s.marker) - 1
	if len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	s.tail = append(s.tail[:0], buf...)
	return hit
}

// scanConn is the upstream side: what it reads went listener→dialer, what
// is written to it went dialer→listener.
type scanConn struct {
	net.Conn
	r       *Relay
	in, out *scanner
	mu      sync.Mutex
}

func (s *scanConn) note(sc *scanner, p []byte) {
	s.mu.Lock()
	hit := sc.feed(p)
	s.mu.Unlock()
	if hit {
		s.r.mu.Lock()
		s.r.seen = true
		s.r.mu.Unlock()
	}
}

func (s *scanConn) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.note(s.in, p[:n])
	return n, err
}

func (s *scanConn) Write(p []byte) (int, error) {
	s.note(s.out, p)
	return s.Conn.Write(p)
}

func (s *scanConn) CloseWrite() error {
	if tc, ok := s.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// headConn records the first bytes read from the dialer.
type headConn struct {
	net.Conn
	r   *Relay
	idx int
}

func (h *headConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if n > 0 {
		h.r.mu.Lock()
		if room := 128 - len(h.r.heads[h.idx]); room > 0 {
			h.r.heads[h.idx] = append(h.r.heads[h.idx], p[:min(n, room)]...)
		}
		h.r.mu.Unlock()
	}
	return n, err
}

func (h *headConn) CloseWrite() error {
	if tc, ok := h.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}
