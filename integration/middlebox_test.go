package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/netlab"
	"github.com/ferrybackup/ferry/integration/treecmp"
)

// routerIdle is the NAT router's idle timeout for established TCP flows in
// TestIdleMiddlebox, in seconds.
const routerIdle = 5

// TestIdleMiddlebox: an active client behind a NAT router that forgets TCP
// flows idle for 5 s. The fd is stopped (SIGSTOP) for 15 s in the middle
// of a 64 MiB backup: while it is stopped only the kernels can keep the
// data socket's flow alive, with TCP keepalive probes (data_keepalive,
// default 2 s). With them the job completes and restores; with
// data_keepalive = "0s" the router forgets the flow and the job fails.
//
// "probe direction" checks on plain sockets which end's keepalive keeps a
// NAT flow: either alone does (a probe and its acknowledgement both cross
// the router), neither does not.
func TestIdleMiddlebox(t *testing.T) {
	t.Run("keepalive", func(t *testing.T) {
		t.Parallel()
		idleMiddlebox(t, "", true)
	})
	t.Run("no keepalive", func(t *testing.T) {
		t.Parallel()
		idleMiddlebox(t, `data_keepalive = "0s"`, false)
	})
	t.Run("probe direction", func(t *testing.T) {
		t.Parallel()
		probeDirection(t)
	})
}

func idleMiddlebox(t *testing.T, directorHCL string, keepalive bool) {
	const (
		size = 64 << 20
		stop = 15 * time.Second
	)
	lab := netlab.New(t, netlab.NAT)
	lab.IdleTimeout("nat", routerIdle)
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	writeRandom(t, filepath.Join(src, "big.rand"), size)

	// The fd's bus link crosses the same router. A running fd sends a
	// presence heartbeat every 2 s, but a stopped one sends nothing, and
	// the bus is not what this test is about: flows opened while the
	// cluster starts (the bus link) get a long idle timeout; the data
	// socket, opened later, gets the router's 5 s.
	exemptStartupFlows(t, lab)
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, DirectorHCL: directorHCL, Clients: []harness.Client{{
		Name: "c1", Include: []string{src},
		JobHCL: "max_bandwidth = \"8MiB\"\n  no_progress_timeout = \"40s\"",
	}}})
	endExemption(t, lab)
	dataPort := portOf(t, c.SDListen)

	fdPid := c.FDs["c1"].Proc.Pid()
	t.Cleanup(func() { _ = syscall.Kill(fdPid, syscall.SIGCONT) })
	prog := c.WatchProgress()

	start := time.Now()
	id := c.StartJob("backup-c1")
	p := prog.WaitFor("/big.rand")
	if !dataFlowKnown(t, lab, dataPort) {
		t.Fatalf("the router has no established flow to the data port %d while data moves", dataPort)
	}
	must(t, syscall.Kill(fdPid, syscall.SIGSTOP))
	stopped := time.Now()
	t.Logf("fd stopped at %d of %d bytes, %s after the start", p.Bytes, size, stopped.Sub(start).Round(time.Millisecond))
	time.Sleep(stop) // the quiet period is the point of the test
	known := dataFlowKnown(t, lab, dataPort)
	must(t, syscall.Kill(fdPid, syscall.SIGCONT))
	t.Logf("after %s stopped, the router still knows the data flow: %v", stop, known)
	ev := c.WaitEnd(id)
	took := time.Since(start)
	t.Logf("job %d ended %s %s after the start (%s after the fd continued): %s", id, ev.Status,
		took.Round(time.Millisecond), time.Since(stopped.Add(stop)).Round(time.Millisecond), ev.Reason)
	dropped := forgottenPackets(t, lab)
	t.Logf("router dropped %d packets of flows it did not know", dropped)

	if !keepalive {
		// The middlebox bites: the flow is forgotten, what the fd sends
		// after it continues is dropped, and nothing moves until the
		// no-progress timeout fails the job.
		if known {
			t.Errorf("the router still knows the data flow after %s of quiet with keepalive off", stop)
		}
		if dropped == 0 {
			t.Errorf("the router dropped no packet of a forgotten flow")
		}
		if ev.Status != "failed" || !regexp.MustCompile(`no progress|reset|timed out|timeout`).MatchString(ev.Reason) {
			t.Fatalf("job %d ended %s (%q) with data_keepalive off; want failed for a dead data socket", id, ev.Status, ev.Reason)
		}
		return
	}
	if !known {
		t.Errorf("the router forgot the data flow while the fd was stopped, keepalive on")
	}
	if ev.Status != "ok" || ev.Bytes != size {
		t.Fatalf("job %d ended %s with %d bytes (%s); want ok with %d bytes", id, ev.Status, ev.Bytes, ev.Reason, size)
	}
	// The restore goes through the router too, the sd sending (with
	// heartbeats on) and the fd receiving.
	target := filepath.Join(t.TempDir(), "restore")
	r := c.Ferry("restore", "--job", strconv.FormatInt(id, 10), "--to", target, "--wait")
	mustOK(t, r, "restore")
	treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{})
}

// exemptStartupFlows gives TCP flows that the router sees begin from now on
// an idle timeout of an hour, until endExemption. It also counts, in
// "forgotten", the packets the router drops for flows it does not know.
func exemptStartupFlows(t *testing.T, lab *netlab.Lab) {
	t.Helper()
	nft(t, lab, `
table inet ferry_mb {
	counter forgotten {}
	ct timeout long {
		protocol tcp;
		l3proto ip;
		policy = { established: 3600 }
	}
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		ct state new ct timeout set "long"
	}
	chain count {
		type filter hook forward priority filter - 1; policy accept;
		ct state invalid counter name forgotten
	}
}
`)
}

// endExemption: flows from now on get the router's short idle timeout.
func endExemption(t *testing.T, lab *netlab.Lab) {
	t.Helper()
	if out, err := lab.Run("nat", "nft", "flush", "chain", "inet", "ferry_mb", "pre"); err != nil {
		t.Fatalf("end the exemption: %v %s", err, out)
	}
}

func nft(t *testing.T, lab *netlab.Lab, ruleset string) {
	t.Helper()
	cmd := lab.Command("nat", "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in the router: %v %s", err, out)
	}
}

// forgottenPackets reads the router's "forgotten" counter.
func forgottenPackets(t *testing.T, lab *netlab.Lab) int {
	t.Helper()
	out, err := lab.Run("nat", "nft", "list", "counter", "inet", "ferry_mb", "forgotten")
	if err != nil {
		t.Fatalf("router counter: %v %s", err, out)
	}
	m := regexp.MustCompile(`packets (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("router counter: no packets in %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// dataFlowKnown reports whether the router's connection table holds an
// established TCP flow to port.
func dataFlowKnown(t *testing.T, lab *netlab.Lab, port int) bool {
	t.Helper()
	out, err := lab.Run("nat", "cat", "/proc/net/nf_conntrack")
	if err != nil {
		t.Fatalf("router connection table: %v %s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 5 && f[2] == "tcp" && f[5] == "ESTABLISHED" && strings.Contains(sc.Text(), " dport="+strconv.Itoa(port)+" ") {
			return true
		}
	}
	return false
}

// probeDirection: behind a router forgetting flows idle for 2 s, a
// connection idle for 6 s survives when either end (cli behind the NAT,
// or srv) sends keepalive probes every second, and dies when neither does.
func probeDirection(t *testing.T) {
	const (
		idle  = 2 // router timeout, seconds
		quiet = 3 * idle * time.Second
		every = time.Second
	)
	lab := netlab.New(t, netlab.NAT)
	lab.IdleTimeout("nat", idle)
	ln := listenIn(t, lab, "srv", net.JoinHostPort(lab.Addr("srv"), "0"))
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := lab.DialContext("cli")
	cases := []struct {
		name     string
		cli, srv time.Duration // keepalive period, 0 off
		alive    bool
	}{
		{"neither", 0, 0, false},
		{"cli only", every, 0, true},
		{"srv only", 0, every, true},
	}
	type pair struct{ cli, srv net.Conn }
	pairs := make([]pair, len(cases))
	for i, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cc, err := dial(ctx, "tcp", ln.Addr().String())
		cancel()
		must(t, err)
		sc := <-accepted
		t.Cleanup(func() { cc.Close(); sc.Close() })
		must(t, datapath.SetKeepAlive(cc, tc.cli))
		must(t, datapath.SetKeepAlive(sc, tc.srv))
		if err := roundTrip(cc, sc, 'a'); err != nil {
			t.Fatalf("%s: fresh connection: %v", tc.name, err)
		}
		pairs[i] = pair{cc, sc}
	}
	time.Sleep(quiet) // all connections idle at once: the point of the test
	for i, tc := range cases {
		err := roundTrip(pairs[i].cli, pairs[i].srv, 'b')
		switch {
		case tc.alive && err != nil:
			t.Errorf("%s: connection died after %s idle behind a %d s router: %v", tc.name, quiet, idle, err)
		case !tc.alive && err == nil:
			t.Errorf("%s: connection survived %s idle behind a %d s router without keepalive: the router did not bite", tc.name, quiet, idle)
		default:
			t.Logf("%s: alive %v (%v)", tc.name, err == nil, err)
		}
	}
}

// roundTrip sends b from cli to srv and back, each within 2 s.
func roundTrip(cli, srv net.Conn, b byte) error {
	for _, dir := range []struct {
		from, to net.Conn
		name     string
	}{{cli, srv, "cli→srv"}, {srv, cli, "srv→cli"}} {
		if _, err := dir.from.Write([]byte{b}); err != nil {
			return fmt.Errorf("%s write: %w", dir.name, err)
		}
		_ = dir.to.SetReadDeadline(time.Now().Add(2 * time.Second))
		got := make([]byte, 1)
		if _, err := io.ReadFull(dir.to, got); err != nil {
			return fmt.Errorf("%s read: %w", dir.name, err)
		}
		if got[0] != b {
			return fmt.Errorf("%s: got %q, sent %q", dir.name, got[0], b)
		}
	}
	return nil
}

// listenIn opens a TCP listener inside a lab host's namespace: the thread
// enters it only to create the socket and returns to its own before it is
// unlocked (see netlab's DialContext).
func listenIn(t *testing.T, lab *netlab.Lab, host, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+lab.NS(host), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Still inside the lab: the locked thread ends with this goroutine.
			if ln != nil {
				ln.Close()
			}
			ch <- result{nil, fmt.Errorf("leave %s: %w", host, err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{ln, lerr}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen in %s at %s: %v", host, addr, r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r.ln
}
