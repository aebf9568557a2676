package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the tiny programs run inside labs: started with
// -test.run=^TestHelperProcess$ and NETLAB_HELPER=mode it does one thing.
const (
	helperEnv    = "NETLAB_HELPER"    // listen | dial | resolve | sleep | sleep-noterm
	helperArg    = "NETLAB_ARG"       // addresses (listen: comma separated), or a name
	helperIdle   = "NETLAB_IDLE"      // dial: after the first echo, idle this long and echo again
	helperDialTO = "NETLAB_DIAL_WAIT" // dial: dial timeout (default 2s)
)

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(helperEnv) == "" && os.Geteuid() == 0 {
		// Every lab of this process must be gone.
		prefix := fmt.Sprintf("nl-%d-", os.Getpid())
		for _, dir := range []string{netnsDir, etcNetns, ownerDir} {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), prefix) {
					fmt.Fprintf(os.Stderr, "netlab: left behind: %s\n", filepath.Join(dir, e.Name()))
					code = 1
				}
			}
		}
	}
	os.Exit(code)
}

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("only runs as a helper process inside a lab")
	}
	os.Exit(helperMain(mode, os.Getenv(helperArg)))
}

func helperMain(mode, arg string) int {
	var outMu sync.Mutex
	say := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf(format+"\n", a...)
	}
	switch mode {
	case "listen":
		for _, addr := range strings.Split(arg, ",") {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				say("ERR %v", err)
				return 1
			}
			say("LISTENING %s", ln.Addr())
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						say("ERR %v", err)
						return
					}
					say("ACCEPT %s %s", c.LocalAddr(), c.RemoteAddr())
					go func() { _, _ = io.Copy(c, c); c.Close() }()
				}
			}()
		}
		time.Sleep(time.Hour)
	case "dial":
		wait := 2 * time.Second
		if s := os.Getenv(helperDialTO); s != "" {
			wait, _ = time.ParseDuration(s)
		}
		c, err := net.DialTimeout("tcp", arg, wait)
		if err != nil {
			say("ERR %v", err)
			return 1
		}
		defer c.Close()
		if err := echo(c, "ping", 2*time.Second); err != nil {
			say("ERR echo: %v", err)
			return 1
		}
		say("OK %s", c.LocalAddr())
		if s := os.Getenv(helperIdle); s != "" {
			idle, _ := time.ParseDuration(s)
			time.Sleep(idle)
			if err := echo(c, "ping2", 2*time.Second); err != nil {
				say("ERR2 %v", err)
				return 2
			}
			say("OK2")
		}
	case "resolve":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, arg)
		if err != nil {
			say("ERR %v", err)
			return 1
		}
		say("ADDR %s", strings.Join(addrs, ","))
	case "sleep-noterm":
		signal.Ignore(syscall.SIGTERM)
		fallthrough
	case "sleep":
		say("READY")
		time.Sleep(time.Hour)
	default:
		say("ERR unknown helper mode %q", mode)
		return 3
	}
	return 0
}

// echo writes msg and expects it back within d.
func echo(c net.Conn, msg string, d time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != msg+"\n" {
		return fmt.Errorf("echo: got %q", line)
	}
	return nil
}

// helperCmd returns a helper process to run in host.
func helperCmd(t *testing.T, l *Lab, host, mode, arg string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := l.Command(host, exe, "-test.run=^TestHelperProcess$")
	c.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, helperArg + "=" + arg}, env...)...)
	return c
}

// result of a helper run to completion.
type result struct {
	out     string
	err     error
	elapsed time.Duration
}

// runHelper runs a helper in host to completion.
func runHelper(t *testing.T, l *Lab, host, mode, arg string, env ...string) result {
	t.Helper()
	c := helperCmd(t, l, host, mode, arg, env...)
	start := time.Now()
	out, err := c.CombinedOutput()
	r := result{out: strings.TrimSpace(string(out)), err: err, elapsed: time.Since(start)}
	t.Logf("%s %s %s in %s: %s (%v)", host, mode, arg, r.elapsed.Round(time.Millisecond), r.out, err)
	return r
}

// bg is a long-running helper whose stdout lines arrive on lines.
type bg struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error // Wait's result, once done is closed
}

// startHelper starts a long-running helper and waits until it prints a line
// starting with ready. The test's cleanup kills it and waits for it.
func startHelper(t *testing.T, l *Lab, host, mode, arg, ready string) *bg {
	t.Helper()
	return startHelperOpt(t, l, host, mode, arg, ready, true)
}

// startHelperOpt is startHelper; with kill=false only the lab's teardown
// ends the helper (b.done is closed once it has been reaped).
func startHelperOpt(t *testing.T, l *Lab, host, mode, arg, ready string, kill bool) *bg {
	t.Helper()
	b := &bg{cmd: helperCmd(t, l, host, mode, arg), lines: make(chan string, 100), done: make(chan struct{})}
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b.cmd.Stderr = os.Stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	if kill {
		t.Cleanup(func() {
			_ = b.cmd.Process.Kill()
			<-b.done
		})
	}
	want := strings.Count(arg, ",") + 1
	if mode != "listen" {
		want = 1
	}
	for i := 0; i < want; i++ {
		line := b.next(t, 5*time.Second)
		if !strings.HasPrefix(line, ready) {
			t.Fatalf("%s helper in %s: got %q, want %s", mode, host, line, ready)
		}
	}
	return b
}

func (b *bg) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case line := <-b.lines:
		return line
	case <-time.After(d):
		t.Fatalf("no line from helper within %s", d)
	}
	return ""
}

func TestDirect(t *testing.T) {
	t.Parallel()
	l := New(t, Direct)
	if got := l.NS("srv"); got != l.Name()+"-srv" || !strings.HasPrefix(got, fmt.Sprintf("nl-%d-", os.Getpid())) {
		t.Fatalf("NS(srv) = %q", got)
	}
	if l.Addr("srv") != "10.77.1.1" || l.Addr("cli") != "10.77.1.2" {
		t.Fatalf("addresses %s %s", l.Addr("srv"), l.Addr("cli"))
	}
	srvAddr := net.JoinHostPort(l.Addr("srv"), "7000")
	ln := startHelper(t, l, "srv", "listen", srvAddr, "LISTENING")

	if r := runHelper(t, l, "cli", "dial", srvAddr); r.err != nil || !strings.HasPrefix(r.out, "OK 10.77.1.2:") {
		t.Fatalf("dial from cli: %s (%v)", r.out, r.err)
	}
	if line := ln.next(t, 2*time.Second); !strings.HasPrefix(line, "ACCEPT "+srvAddr+" 10.77.1.2:") {
		t.Fatalf("listener: %q", line)
	}
	// The host namespace has none of the lab's addresses (read only: a dial
	// from here could leave the machine).
	if out, err := run(nil, "ip", "-4", "-o", "addr", "show"); err != nil || strings.Contains(out, "10.77.") {
		t.Fatalf("host namespace addresses: %q %v", out, err)
	}

	l.GuardOutbound("cli", true)
	if n := l.Counter("cli", "new_out"); n != 0 {
		t.Fatalf("new_out = %d before any dial", n)
	}
	r := runHelper(t, l, "cli", "dial", srvAddr)
	if r.err == nil || !strings.HasPrefix(r.out, "ERR ") {
		t.Fatalf("guarded dial worked: %s", r.out)
	}
	if r.elapsed > time.Second {
		t.Errorf("rejected dial took %s", r.elapsed)
	}
	if n := l.Counter("cli", "new_out"); n < 1 {
		t.Fatalf("new_out = %d after a rejected dial", n)
	}
	l.ResetCounters("cli")
	if a, b := l.Counter("cli", "new_out"), l.Counter("cli", "new_out_lo"); a != 0 || b != 0 {
		t.Fatalf("after reset: new_out=%d new_out_lo=%d", a, b)
	}
	// Dial to cli's own loopback (nothing listens: refused) counts only on lo.
	if r := runHelper(t, l, "cli", "dial", "127.0.0.1:7999"); r.err == nil {
		t.Fatalf("dial to loopback worked: %s", r.out)
	}
	if a, b := l.Counter("cli", "new_out"), l.Counter("cli", "new_out_lo"); a != 0 || b < 1 {
		t.Fatalf("after loopback dial: new_out=%d new_out_lo=%d", a, b)
	}

	// With drop instead of reject the dial is a slow timeout.
	l.GuardOutbound("cli", false)
	r = runHelper(t, l, "cli", "dial", srvAddr, helperDialTO+"=1s")
	if r.err == nil || !strings.Contains(r.out, "timeout") {
		t.Fatalf("dropped dial: %s (%v)", r.out, r.err)
	}
	if n := l.Counter("cli", "new_out"); n < 1 {
		t.Fatalf("new_out = %d after a dropped dial", n)
	}

	if _, err := l.Run("cli", "nft", "list", "table", "inet", "nosuchtable"); err == nil ||
		!strings.Contains(err.Error(), "nosuchtable") || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("Run error does not name the command and its output: %v", err)
	}
	if out, err := l.Run("srv", "ip", "-4", "-o", "addr", "show", "dev", "eth0"); err != nil || !strings.Contains(out, "10.77.1.1/24") {
		t.Errorf("Run in srv: %q %v", out, err)
	}
}

func TestDropInbound(t *testing.T) {
	t.Parallel()
	l := New(t, Direct)
	dropped := net.JoinHostPort(l.Addr("srv"), "7001")
	open := net.JoinHostPort(l.Addr("srv"), "7002")
	startHelper(t, l, "srv", "listen", dropped+","+open, "LISTENING")
	l.DropInbound("srv", 7001)

	r := runHelper(t, l, "cli", "dial", dropped)
	if r.err == nil || !strings.Contains(r.out, "timeout") {
		t.Fatalf("dial to dropped port: %s (%v)", r.out, r.err)
	}
	if r.elapsed < 1900*time.Millisecond {
		t.Errorf("dial to dropped port failed after %s, want a 2 s timeout", r.elapsed)
	}
	if r := runHelper(t, l, "cli", "dial", open); r.err != nil {
		t.Fatalf("dial to open port: %s (%v)", r.out, r.err)
	}
}

func TestNAT(t *testing.T) {
	t.Parallel()
	t.Run("basic", func(t *testing.T) {
		t.Parallel()
		l := New(t, NAT)
		if l.Addr("cli") != "10.77.2.2" || l.Addr("nat") != "10.77.1.254" {
			t.Fatalf("addresses cli %s nat %s", l.Addr("cli"), l.Addr("nat"))
		}
		srvAddr := net.JoinHostPort(l.Addr("srv"), "7000")
		ln := startHelper(t, l, "srv", "listen", srvAddr, "LISTENING")
		if r := runHelper(t, l, "cli", "dial", srvAddr); r.err != nil || !strings.HasPrefix(r.out, "OK 10.77.2.2:") {
			t.Fatalf("dial from cli: %s (%v)", r.out, r.err)
		}
		if line := ln.next(t, 2*time.Second); !strings.HasPrefix(line, "ACCEPT "+srvAddr+" 10.77.1.254:") {
			t.Fatalf("listener saw %q, want the router 10.77.1.254 as peer", line)
		}
		// srv has no route to cli's network.
		startHelper(t, l, "cli", "listen", "0.0.0.0:7000", "LISTENING")
		r := runHelper(t, l, "srv", "dial", net.JoinHostPort(l.Addr("cli"), "7000"))
		if r.err == nil || !strings.Contains(r.out, "unreachable") {
			t.Fatalf("srv dialing cli: %s (%v)", r.out, r.err)
		}
		if r.elapsed > time.Second {
			t.Errorf("srv dialing cli took %s", r.elapsed)
		}
		// Not via the router's srv-side address either: forward policy drop.
		if _, err := l.Run("srv", "ip", "route", "add", "10.77.2.0/24", "via", l.Addr("nat")); err != nil {
			t.Fatal(err)
		}
		r = runHelper(t, l, "srv", "dial", net.JoinHostPort(l.Addr("cli"), "7000"), helperDialTO+"=1s")
		if r.err == nil || !strings.Contains(r.out, "timeout") {
			t.Fatalf("srv dialing cli through the router: %s (%v)", r.out, r.err)
		}
	})
	// A connection idle longer than the router's conntrack timeout is dead;
	// without IdleTimeout the same idle connection lives.
	for _, idle := range []bool{false, true} {
		t.Run(fmt.Sprintf("idle-timeout=%v", idle), func(t *testing.T) {
			t.Parallel()
			l := New(t, NAT)
			if idle {
				l.IdleTimeout("nat", 1)
				if out, err := l.Run("nat", "cat", "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established",
					"/proc/sys/net/netfilter/nf_conntrack_tcp_loose"); err != nil || strings.Fields(out)[0] != "1" || strings.Fields(out)[1] != "0" {
					t.Fatalf("router sysctls: %q %v", out, err)
				}
			}
			srvAddr := net.JoinHostPort(l.Addr("srv"), "7000")
			startHelper(t, l, "srv", "listen", srvAddr, "LISTENING")
			r := runHelper(t, l, "cli", "dial", srvAddr, helperIdle+"=2500ms")
			switch {
			case !strings.HasPrefix(r.out, "OK "):
				t.Fatalf("first echo failed: %s", r.out)
			case idle && !strings.Contains(r.out, "ERR2"):
				t.Fatalf("idle connection survived the router's timeout: %s", r.out)
			case !idle && (r.err != nil || !strings.Contains(r.out, "OK2")):
				t.Fatalf("idle connection died without a timeout: %s (%v)", r.out, r.err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	l := New(t, Direct)
	l.Hosts("cli", map[string]string{"storage.test": l.Addr("srv"), "client.test": l.Addr("cli")})
	l.NoResolver("srv")

	if r := runHelper(t, l, "cli", "resolve", "storage.test"); r.err != nil || r.out != "ADDR 10.77.1.1" {
		t.Fatalf("resolving storage.test in cli: %s (%v)", r.out, r.err)
	}
	for _, host := range []string{"cli", "srv"} {
		name := "unknown.test"
		if host == "srv" {
			name = "storage.test"
		}
		r := runHelper(t, l, host, "resolve", name)
		if r.err == nil {
			t.Fatalf("resolving %s in %s worked: %s", name, host, r.out)
		}
		if r.elapsed > 2*time.Second {
			t.Errorf("resolving %s in %s took %s", name, host, r.elapsed)
		}
	}
	if b, err := os.ReadFile(filepath.Join(etcNetns, l.NS("srv"), "hosts")); err != nil || len(b) != 0 {
		t.Errorf("NoResolver hosts file: %q %v", b, err)
	}
	// The host's own files are untouched.
	if out, err := l.Run("cli", "cat", "/etc/resolv.conf"); err != nil || !strings.Contains(out, "nameserver 127.0.0.1") {
		t.Errorf("resolv.conf seen in cli: %q %v", out, err)
	}
	if b, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(b), "storage.test") {
		t.Errorf("/etc/hosts of the host changed: %q", b)
	}
}

func TestProcessNetns(t *testing.T) {
	t.Parallel()
	l := New(t, Direct)
	p := startHelper(t, l, "cli", "sleep", "", "READY")
	got, err := ProcessNetns(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if want := l.NetnsInode("cli"); got != want {
		t.Fatalf("helper netns %d, cli namespace %d", got, want)
	}
	if got == l.NetnsInode("srv") {
		t.Fatal("cli and srv share a namespace")
	}
	if self, err := ProcessNetns(os.Getpid()); err != nil || self == got {
		t.Fatalf("test process netns %d (%v) equals the lab's", self, err)
	}
}

func TestTeardown(t *testing.T) {
	t.Parallel()
	var names []string
	var owner string
	var term, noterm *bg
	start := time.Now()
	t.Run("lab", func(t *testing.T) {
		l := New(t, NAT)
		for _, h := range []string{"srv", "cli", "nat"} {
			names = append(names, l.NS(h))
		}
		owner = ownerFile(l.Name())
		if _, err := os.Stat(owner); err != nil {
			t.Fatalf("no owner file: %v", err)
		}
		l.Hosts("cli", map[string]string{"x.test": "10.77.1.1"})
		l.NoResolver("srv")
		term = startHelperOpt(t, l, "srv", "sleep", "", "READY", false)
		noterm = startHelperOpt(t, l, "nat", "sleep-noterm", "", "READY", false)
		start = time.Now()
	})
	if t.Failed() {
		return
	}
	if names == nil {
		t.Skip("no lab could be built here")
	}
	t.Logf("teardown took %s", time.Since(start).Round(time.Millisecond))
	out, err := run(nil, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range names {
		if strings.Contains(out, ns) {
			t.Errorf("namespace %s left: %s", ns, out)
		}
		if _, err := os.Stat(filepath.Join(etcNetns, ns)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("/etc/netns/%s left (%v)", ns, err)
		}
	}
	if _, err := os.Stat(owner); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("owner file %s left (%v)", owner, err)
	}
	for _, c := range []struct {
		b   *bg
		sig syscall.Signal
	}{{term, syscall.SIGTERM}, {noterm, syscall.SIGKILL}} {
		<-c.b.done
		ws, ok := c.b.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != c.sig {
			t.Errorf("helper ended with %v, want killed by %v", c.b.err, c.sig)
		}
	}
}

// TestStaleCleanup simulates the leftovers of a test process killed by its
// timeout (owner file naming a dead pid, namespaces with a process inside, an
// /etc/netns folder) and checks that the next New removes them, while a lab
// whose owner is alive stays. Not parallel: it must not race other sweeps
// while building the fake leftovers.
func TestStaleCleanup(t *testing.T) {
	New(t, Direct) // skips or fails when labs cannot run here
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := dead.ProcessState.Pid()
	if pidAlive(deadPid) {
		t.Skipf("pid %d reused already", deadPid)
	}
	mk := func(t *testing.T, lab string, ownerPid int, ownerStart uint64, withOwner bool) []string {
		t.Helper()
		var nss []string
		if withOwner {
			if err := os.MkdirAll(ownerDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ownerFile(lab), fmt.Appendf(nil, "%d %d\n", ownerPid, ownerStart), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range []string{"srv", "cli"} {
			ns := lab + "-" + h
			if _, err := run(nil, "ip", "netns", "add", ns); err != nil {
				t.Fatal(err)
			}
			nss = append(nss, ns)
		}
		if err := os.MkdirAll(filepath.Join(etcNetns, nss[1]), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etcNetns, nss[1], "hosts"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return nss
	}
	staleLab := fmt.Sprintf("nl-%d-0", deadPid)
	orphanLab := fmt.Sprintf("nl-%d-1", deadPid) // no owner file
	liveLab := fmt.Sprintf("nl-%d-999999", os.Getpid())
	selfStart, err := procStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	stale := mk(t, staleLab, deadPid, 12345, true)
	orphan := mk(t, orphanLab, 0, 0, false)
	live := mk(t, liveLab, os.Getpid(), selfStart, true)
	t.Cleanup(func() {
		for _, err := range destroyLab("ip", liveLab) {
			t.Errorf("removing the live fake lab: %v", err)
		}
		destroyLab("ip", staleLab)
		destroyLab("ip", orphanLab)
	})

	// A process left inside the stale lab. (It is our child only so that it
	// can be reaped: pid 1 of some VMs never reaps orphans.)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	left := exec.Command("ip", "netns", "exec", stale[0], exe, "-test.run=^TestHelperProcess$")
	left.Env = append(os.Environ(), helperEnv+"=sleep")
	leftOut, err := left.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	leftDone := make(chan error, 1)
	go func() {
		_, _ = io.Copy(io.Discard, leftOut)
		leftDone <- left.Wait()
	}()
	t.Cleanup(func() { _ = left.Process.Kill(); <-leftDone })
	deadline := time.Now().Add(5 * time.Second)
	for {
		ino, _ := ProcessNetns(left.Process.Pid)
		want, _ := inodeOf(filepath.Join(netnsDir, stale[0]))
		if ino == want && ino != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never showed up in %s", left.Process.Pid, stale[0])
		}
		time.Sleep(20 * time.Millisecond)
	}

	New(t, Direct)

	for _, ns := range append(stale, orphan...) {
		if _, err := os.Lstat(filepath.Join(netnsDir, ns)); err == nil {
			t.Errorf("stale namespace %s survived", ns)
		}
		if _, err := os.Lstat(filepath.Join(etcNetns, ns)); err == nil {
			t.Errorf("stale /etc/netns/%s survived", ns)
		}
	}
	if _, err := os.Stat(ownerFile(staleLab)); err == nil {
		t.Errorf("stale owner file survived")
	}
	select {
	case err := <-leftDone:
		leftDone <- err
		if ws, ok := left.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("process of the stale lab ended with %v, want SIGTERM", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("process %d of the stale lab survived", left.Process.Pid)
	}
	for _, ns := range live {
		if _, err := os.Lstat(filepath.Join(netnsDir, ns)); err != nil {
			t.Errorf("namespace %s of a live owner was removed", ns)
		}
	}
	if _, err := os.Stat(ownerFile(liveLab)); err != nil {
		t.Errorf("owner file of a live lab was removed")
	}
}

func TestNsswitch(t *testing.T) {
	for in, want := range map[string]string{
		"passwd: files\nhosts:  files mdns4_minimal [NOTFOUND=return] dns myhostname\nnetworks: files\n": "passwd: files\nhosts: files dns\nnetworks: files\n",
		"passwd: files": "passwd: files\nhosts: files dns\n",
		"":              "hosts: files dns\n",
	} {
		if got := nsswitchFilesDNS(in); got != want {
			t.Errorf("nsswitchFilesDNS(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCounter(t *testing.T) {
	js := `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"counter": {"family": "inet", "name": "new_out", "table": "guard", "handle": 2, "packets": 7, "bytes": 420}}]}`
	if n, err := parseCounter([]byte(js)); err != nil || n != 7 {
		t.Fatalf("parseCounter = %d, %v", n, err)
	}
	if _, err := parseCounter([]byte(`{"nftables": []}`)); err == nil {
		t.Fatal("no error for output without a counter")
	}
}
