package datapath

import (
	"fmt"
	"net"
	"time"
)

// Liveness of an idle data socket. A backup can leave its data socket
// quiet for a long time (a walk through a huge folder of unchanged files, a
// read blocked on a slow file, a restore skipping everything outside its
// selection), and a NAT router or firewall on the way forgets a flow that
// stays idle longer than its timeout: the next packet is dropped or reset
// and the job fails. Two things keep the flow alive, both driven by one
// period (the director's data_keepalive):
//
//   - TCP keepalive on both ends of every data socket (SetKeepAlive): the
//     kernels probe after that long without traffic, then every period.
//     The probe and its acknowledgement cross the middlebox in both
//     directions, so either end's probes refresh it, even while a daemon
//     is stopped or busy.
//   - heartbeat records from the sending side (Writer.StartHeartbeats),
//     which also cross middleboxes that ignore keepalive probes or that end
//     TCP (proxies, relays): these never forward kernel probes.

// DefaultKeepAlive is the period an agent uses when the director did not
// send one (a director older than the keepalive_ms field).
const DefaultKeepAlive = 2 * time.Second

// keepAliveGiveUp is the least time an unanswered peer is probed before the
// kernel drops an idle connection: the probes are meant to keep a
// middlebox awake, not to cut a socket over a short outage.
const keepAliveGiveUp = time.Minute

// maxKeepAliveProbes is Linux's limit for TCP_KEEPCNT.
const maxKeepAliveProbes = 127

// KeepAliveFromMs reads a keepalive_ms message field (PrepareJob,
// SessionOpen): > 0 is the period in milliseconds; 0, an absent field,
// means DefaultKeepAlive; < 0 means off and returns 0.
func KeepAliveFromMs(ms int64) time.Duration {
	switch {
	case ms > 0:
		return time.Duration(ms) * time.Millisecond
	case ms == 0:
		return DefaultKeepAlive
	}
	return 0
}

// KeepAliveConfig is the TCP keepalive of a data socket for period every:
// probes after every without traffic, then every every, until the peer has
// been silent for at least a minute. Linux counts in whole seconds, so a
// shorter period probes every second. every <= 0 disables keepalive.
func KeepAliveConfig(every time.Duration) net.KeepAliveConfig {
	if every <= 0 {
		return net.KeepAliveConfig{Enable: false, Idle: -1, Interval: -1, Count: -1}
	}
	step := (max(every, time.Second) + time.Second - 1).Truncate(time.Second) // as the kernel gets it
	probes := int((keepAliveGiveUp + step - 1) / step)
	probes = min(max(probes, 9), maxKeepAliveProbes)
	return net.KeepAliveConfig{Enable: true, Idle: every, Interval: every, Count: probes}
}

// SetKeepAlive applies KeepAliveConfig(every) to a data socket, dialed or
// accepted, TLS or plain. Connections that are not TCP (pipes in tests) are
// left alone.
func SetKeepAlive(c net.Conn, every time.Duration) error {
	tc, ok := rawConn(c).(*net.TCPConn)
	if !ok {
		return nil
	}
	var err error
	if every <= 0 {
		err = tc.SetKeepAlive(false)
	} else {
		err = tc.SetKeepAliveConfig(KeepAliveConfig(every))
	}
	if err != nil {
		return fmt.Errorf("data socket keepalive: %w", err)
	}
	return nil
}
