package netlab

import (
	"context"
	"fmt"
	"net"
	"runtime"

	"golang.org/x/sys/unix"
)

// DialContext returns a dial function whose sockets are made inside the
// host's namespace: the calling thread enters the namespace only to create
// and connect the socket, then returns to its own, so the test process
// itself never counts as inside the lab. Sockets keep their namespace.
func (l *Lab) DialContext(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	ns := "/run/netns/" + l.NS(host)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			c, err, back := dialIn(ctx, ns, network, addr)
			if back {
				runtime.UnlockOSThread() // else the thread dies with this goroutine, still inside the lab
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// dialIn dials from inside ns; back reports that the thread returned to
// its own namespace.
func dialIn(ctx context.Context, ns, network, addr string) (net.Conn, error, bool) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netlab: own namespace: %w", err), true
	}
	defer unix.Close(orig)
	target, err := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: %w", ns, err), true
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("netlab: enter %s: %w", ns, err), true
	}
	var d net.Dialer
	c, derr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("netlab: leave %s: %w", ns, err), false
	}
	return c, derr, true
}
