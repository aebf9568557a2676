package datapath

import (
	"crypto/tls"
	"net"
	"sync"
)

// crypto/tls sends every record it seals (at most 16 KiB of data) with a
// write system call of its own, so a 256 KiB buffer flushed by the
// Writer costs sixteen, and wakes the receiver up to sixteen times. A
// data socket's TLS connection is therefore layered over a gatherConn,
// and every Write on it (tlsDataConn) gathers the records it makes and
// sends them with one call. The handshake, alerts and anything else
// crypto/tls writes outside such a Write pass straight through.

// gatherMax bounds what is gathered before it is sent: one Writer buffer
// and the records' overhead fit.
const gatherMax = bufSize + 64<<10

// gatherConn is the network connection under a data socket's TLS layer.
type gatherConn struct {
	net.Conn
	mu    sync.Mutex // guards depth and buf, and orders writes
	depth int        // Writes of the TLS layer in progress
	buf   []byte
}

func newGatherConn(c net.Conn) *gatherConn { return &gatherConn{Conn: c} }

// NetConn returns the connection underneath (see rawConn).
func (g *gatherConn) NetConn() net.Conn { return g.Conn }

// Write sends p, or gathers it while a tlsDataConn Write is in progress.
func (g *gatherConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.depth == 0 {
		return g.Conn.Write(p)
	}
	if len(g.buf)+len(p) > gatherMax {
		if err := g.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > gatherMax {
			return g.Conn.Write(p)
		}
	}
	if g.buf == nil {
		g.buf = make([]byte, 0, gatherMax)
	}
	g.buf = append(g.buf, p...)
	return len(p), nil
}

func (g *gatherConn) begin() {
	g.mu.Lock()
	g.depth++
	g.mu.Unlock()
}

// end closes a begin and, once none is open, sends what was gathered.
func (g *gatherConn) end() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.depth--; g.depth > 0 {
		return nil
	}
	return g.flushLocked()
}

func (g *gatherConn) flushLocked() error {
	if len(g.buf) == 0 {
		return nil
	}
	_, err := g.Conn.Write(g.buf)
	g.buf = g.buf[:0]
	return err
}

// tlsDataConn is a data socket's TLS connection: each Write reaches the
// network with one write system call.
type tlsDataConn struct {
	*tls.Conn
	under *gatherConn
}

func (c *tlsDataConn) Write(p []byte) (int, error) {
	c.under.begin()
	n, err := c.Conn.Write(p)
	if ferr := c.under.end(); err == nil && ferr != nil {
		return 0, ferr // sealed but not sent: nothing of p is known to be out
	}
	return n, err
}
