package harness

import (
	"io"
	"net"
	"sync"
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

// Hold makes new connections stop after the handshake bytes until Open.
// The data socket handshake is 81 bytes from the dialer and 65 back.
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
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		c.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); gatedCopy(u, c, gate, free[0]); closeWrite(u) }()
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

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
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
