package netlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ferrybackup/ferry/integration/testenv"
)

// Topology selects the shape of a lab.
type Topology int

const (
	// Direct: srv 10.77.1.1/24 <-veth-> cli 10.77.1.2/24.
	Direct Topology = iota
	// NAT: srv 10.77.1.1 <-> nat 10.77.1.254 | 10.77.2.1 <-> cli 10.77.2.2,
	// cli's default route via nat, nat masquerading out of its srv side.
	NAT
)

// String returns "direct" or "nat".
func (t Topology) String() string {
	switch t {
	case Direct:
		return "direct"
	case NAT:
		return "nat"
	}
	return fmt.Sprintf("Topology(%d)", int(t))
}

const (
	ownerDir = "/run/ferry-netlab" // <lab>.owner: "pid starttime"
	netnsDir = "/run/netns"        // where ip netns keeps its names
	etcNetns = "/etc/netns"        // per-namespace /etc overrides
)

// hostNames are all the host roles a lab may have, in teardown order.
var hostNames = []string{"cli", "nat", "srv"}

// labSeq numbers the labs of this process.
var labSeq atomic.Int64

// Lab is one topology of network namespaces owned by a test.
type Lab struct {
	t    testing.TB
	name string // "nl-<pid>-<n>"
	topo Topology
	ns   map[string]string // host → namespace name
	addr map[string]string // host → address facing the other side
	ip   string            // path of the ip command
	nft  string            // path of the nft command
}

// New builds a lab of the given topology and registers its teardown with
// t.Cleanup. It skips the test (or fails it under FERRY_REQUIRE_ROOT=1) when
// not running as root, when ip or nft is missing or when network namespaces
// cannot be created. Before building, it removes the labs of dead owners.
func New(t testing.TB, topo Topology) *Lab {
	t.Helper()
	testenv.RequireRoot(t)
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		testenv.SkipOrFail(t, "netlab: needs the ip command (apt-get install -y iproute2)")
	}
	nftPath, err := exec.LookPath("nft")
	if err != nil {
		testenv.SkipOrFail(t, "netlab: needs the nft command (apt-get install -y nftables)")
	}
	if topo != Direct && topo != NAT {
		t.Fatalf("netlab: unknown topology %d", int(topo))
	}
	for _, err := range sweepStale(ipPath) {
		t.Logf("netlab: removing stale labs: %v", err)
	}

	name, err := reserveName()
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	l := &Lab{t: t, name: name, topo: topo, ip: ipPath, nft: nftPath,
		ns: map[string]string{}, addr: map[string]string{}}
	l.ns["srv"] = name + "-srv"
	l.ns["cli"] = name + "-cli"
	l.addr["srv"] = "10.77.1.1"
	if topo == Direct {
		l.addr["cli"] = "10.77.1.2"
	} else {
		l.ns["nat"] = name + "-nat"
		l.addr["cli"] = "10.77.2.2"
		l.addr["nat"] = "10.77.1.254"
	}
	t.Cleanup(func() {
		for _, err := range destroyLab(l.ip, l.name) {
			t.Errorf("netlab: teardown of %s: %v", l.name, err)
		}
	})

	// The first namespace tells whether this machine can run labs at all.
	if _, err := run(nil, l.ip, "netns", "add", l.ns["srv"]); err != nil {
		testenv.SkipOrFail(t, fmt.Sprintf("netlab: cannot create network namespaces: %v", err))
	}
	if err := l.build(); err != nil {
		t.Fatalf("netlab: building %s lab %s: %v", topo, name, err)
	}
	return l
}

// build creates the rest of the topology (the srv namespace exists already).
func (l *Lab) build() error {
	steps := [][]string{}
	ipn := func(host string, args ...string) {
		steps = append(steps, append([]string{l.ip, "-n", l.ns[host]}, args...))
	}
	steps = append(steps, []string{l.ip, "netns", "add", l.ns["cli"]})
	if l.topo == Direct {
		ipn("srv", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", l.ns["cli"])
		ipn("srv", "addr", "add", "10.77.1.1/24", "dev", "eth0")
		ipn("cli", "addr", "add", "10.77.1.2/24", "dev", "eth0")
		for _, h := range []string{"srv", "cli"} {
			ipn(h, "link", "set", "lo", "up")
			ipn(h, "link", "set", "eth0", "up")
		}
	} else {
		steps = append(steps, []string{l.ip, "netns", "add", l.ns["nat"]})
		ipn("srv", "link", "add", "eth0", "type", "veth", "peer", "name", "wan", "netns", l.ns["nat"])
		ipn("cli", "link", "add", "eth0", "type", "veth", "peer", "name", "lan", "netns", l.ns["nat"])
		ipn("srv", "addr", "add", "10.77.1.1/24", "dev", "eth0")
		ipn("nat", "addr", "add", "10.77.1.254/24", "dev", "wan")
		ipn("nat", "addr", "add", "10.77.2.1/24", "dev", "lan")
		ipn("cli", "addr", "add", "10.77.2.2/24", "dev", "eth0")
		for _, h := range []string{"srv", "cli"} {
			ipn(h, "link", "set", "lo", "up")
			ipn(h, "link", "set", "eth0", "up")
		}
		ipn("nat", "link", "set", "lo", "up")
		ipn("nat", "link", "set", "wan", "up")
		ipn("nat", "link", "set", "lan", "up")
		ipn("cli", "route", "add", "default", "via", "10.77.2.1")
	}
	for _, s := range steps {
		if _, err := run(nil, s[0], s[1:]...); err != nil {
			return err
		}
	}
	if l.topo == NAT {
		if err := l.sysctl("nat", "net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		const router = `
table ip netlab_nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
table inet netlab_fwd {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" ct state new accept
	}
}
`
		if err := l.nftLoad("nat", router); err != nil {
			return err
		}
	}
	return nil
}

// Name returns the lab's name, "nl-<pid>-<n>", the prefix of its namespaces.
func (l *Lab) Name() string { return l.name }

// NS returns the namespace name of host ("srv", "cli" or, in NAT labs, "nat").
func (l *Lab) NS(host string) string {
	l.t.Helper()
	ns, ok := l.ns[host]
	if !ok {
		l.t.Fatalf("netlab: lab %s (%s) has no host %q", l.name, l.topo, host)
	}
	return ns
}

// Addr returns host's address facing the other side: srv "10.77.1.1", cli
// "10.77.1.2" (Direct) or "10.77.2.2" (NAT), nat "10.77.1.254" (srv side).
func (l *Lab) Addr(host string) string {
	l.t.Helper()
	a, ok := l.addr[host]
	if !ok {
		l.t.Fatalf("netlab: lab %s (%s) has no host %q", l.name, l.topo, host)
	}
	return a
}

// Command returns a command that runs name with args inside host's namespace
// through "ip netns exec", so /etc/netns/NS bind mounts apply. Once started,
// its Process.Pid is the PID of the program itself. The lab's teardown kills
// it if it still runs; the caller still has to Wait for it.
func (l *Lab) Command(host, name string, args ...string) *exec.Cmd {
	l.t.Helper()
	ns := l.NS(host)
	return exec.Command(l.ip, append([]string{"netns", "exec", ns, name}, args...)...)
}

// Run runs args[0] with args[1:] inside host's namespace, waits for it and
// returns its combined output. The error names the command and its output.
func (l *Lab) Run(host string, args ...string) (string, error) {
	l.t.Helper()
	if len(args) == 0 {
		return "", errors.New("netlab: Run needs a program to run")
	}
	ns := l.NS(host)
	return run(nil, l.ip, append([]string{"netns", "exec", ns}, args...)...)
}

// GuardOutbound (re)loads table inet guard in host: new outbound connections
// over lo are counted in counter new_out_lo and accepted; other new outbound
// connections are counted in new_out and dropped, or with reject=true
// rejected with icmpx admin-prohibited so that they fail at once. Replies and
// established connections pass. Reloading zeroes both counters.
func (l *Lab) GuardOutbound(host string, reject bool) {
	l.t.Helper()
	verdict := "drop"
	if reject {
		verdict = "reject with icmpx type admin-prohibited"
	}
	ruleset := `
table inet guard {}
delete table inet guard
table inet guard {
	counter new_out {}
	counter new_out_lo {}
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "lo" ct state new counter name new_out_lo accept
		oifname "lo" accept
		ct state established,related accept
		ct state new counter name new_out ` + verdict + `
	}
}
`
	if err := l.nftLoad(host, ruleset); err != nil {
		l.t.Fatalf("netlab: GuardOutbound(%s): %v", host, err)
	}
}

// Counter returns the packets of the named counter of table inet guard in
// host (see GuardOutbound): "new_out" or "new_out_lo".
func (l *Lab) Counter(host, name string) int {
	l.t.Helper()
	out, err := run(nil, l.ip, "netns", "exec", l.NS(host), l.nft, "-j", "list", "counter", "inet", "guard", name)
	if err != nil {
		l.t.Fatalf("netlab: Counter(%s, %s): %v", host, name, err)
	}
	n, err := parseCounter([]byte(out))
	if err != nil {
		l.t.Fatalf("netlab: Counter(%s, %s): %v in %q", host, name, err, out)
	}
	return n
}

// parseCounter reads the packets of the counter in `nft -j list counter` output.
func parseCounter(js []byte) (int, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return 0, err
	}
	for _, obj := range doc.Nftables {
		raw, ok := obj["counter"]
		if !ok {
			continue
		}
		var c struct {
			Packets *int `json:"packets"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return 0, err
		}
		if c.Packets == nil {
			return 0, errors.New("counter without packets")
		}
		return *c.Packets, nil
	}
	return 0, errors.New("no counter in nft output")
}

// ResetCounters zeroes the named counters of table inet guard in host.
func (l *Lab) ResetCounters(host string) {
	l.t.Helper()
	_, err := run(nil, l.ip, "netns", "exec", l.NS(host), l.nft, "reset", "counters", "table", "inet", "guard")
	if err != nil {
		l.t.Fatalf("netlab: ResetCounters(%s): %v", host, err)
	}
}

// DropInbound makes host silently drop new inbound TCP connections to port
// (table inet netlab_in): a dial to it gets no answer and times out.
// Connections already established keep working. Calls add up.
func (l *Lab) DropInbound(host string, port int) {
	l.t.Helper()
	if port <= 0 || port > 65535 {
		l.t.Fatalf("netlab: DropInbound(%s, %d): bad port", host, port)
	}
	ruleset := fmt.Sprintf(`
add table inet netlab_in
add chain inet netlab_in in { type filter hook input priority 0; policy accept; }
add rule inet netlab_in in tcp dport %d ct state new counter drop
`, port)
	if err := l.nftLoad(host, ruleset); err != nil {
		l.t.Fatalf("netlab: DropInbound(%s, %d): %v", host, port, err)
	}
}

// Hosts writes /etc/netns/NS/hosts with entries (name → address) and
// /etc/netns/NS/resolv.conf with "nameserver 127.0.0.1" (nothing listens
// there, so names not in the file fail at once), plus an nsswitch.conf whose
// hosts line is "files dns" so no other resolver (mDNS, systemd-resolved over
// a unix socket) can answer. The hosts file also maps localhost. Programs
// started afterwards with Command or Run see these files.
func (l *Lab) Hosts(host string, entries map[string]string) {
	l.t.Helper()
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "%s\t%s\n", entries[name], name)
	}
	if err := l.writeEtc(host, b.String()); err != nil {
		l.t.Fatalf("netlab: Hosts(%s): %v", host, err)
	}
}

// NoResolver writes /etc/netns/NS/resolv.conf with "nameserver 127.0.0.1"
// and an empty hosts file (and the nsswitch.conf described at Hosts): every
// name, even localhost, fails at once for programs started afterwards.
func (l *Lab) NoResolver(host string) {
	l.t.Helper()
	if err := l.writeEtc(host, ""); err != nil {
		l.t.Fatalf("netlab: NoResolver(%s): %v", host, err)
	}
}

const resolvConf = "# written by netlab: nothing listens here, unknown names fail at once\n" +
	"nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

// writeEtc writes hosts, resolv.conf and nsswitch.conf of host's namespace.
func (l *Lab) writeEtc(host, hosts string) error {
	dir := filepath.Join(etcNetns, l.NS(host))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{"hosts": hosts, "resolv.conf": resolvConf}
	// ip netns exec bind-mounts only over files that exist in /etc.
	if ns, err := os.ReadFile("/etc/nsswitch.conf"); err == nil {
		files["nsswitch.conf"] = nsswitchFilesDNS(string(ns))
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// nsswitchFilesDNS returns conf with its hosts line replaced by "files dns".
func nsswitchFilesDNS(conf string) string {
	var b strings.Builder
	seen := false
	for _, line := range strings.SplitAfter(conf, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "hosts:" {
			if !seen {
				b.WriteString("hosts: files dns\n")
			}
			seen = true
			continue
		}
		b.WriteString(line)
	}
	if !seen {
		if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("hosts: files dns\n")
	}
	return b.String()
}

// IdleTimeout makes host (normally the "nat" router) forget established TCP
// flows idle for seconds (nf_conntrack_tcp_timeout_established) and refuse
// to pick up flows it does not know (nf_conntrack_tcp_loose = 0). In a NAT lab
// the router's forward policy then drops the packets of a forgotten flow, like
// a middlebox with an idle timeout. Set it before opening the connections.
func (l *Lab) IdleTimeout(host string, seconds int) {
	l.t.Helper()
	if seconds <= 0 {
		l.t.Fatalf("netlab: IdleTimeout(%s, %d): seconds must be positive", host, seconds)
	}
	if err := l.sysctl(host, "net/netfilter/nf_conntrack_tcp_timeout_established", strconv.Itoa(seconds)); err != nil {
		l.t.Fatalf("netlab: IdleTimeout(%s): %v", host, err)
	}
	if err := l.sysctl(host, "net/netfilter/nf_conntrack_tcp_loose", "0"); err != nil {
		l.t.Fatalf("netlab: IdleTimeout(%s): %v", host, err)
	}
}

// NetnsInode returns the inode of host's namespace (/run/netns/NS), to
// compare with ProcessNetns of a process.
func (l *Lab) NetnsInode(host string) uint64 {
	l.t.Helper()
	ino, err := inodeOf(filepath.Join(netnsDir, l.NS(host)))
	if err != nil {
		l.t.Fatalf("netlab: NetnsInode(%s): %v", host, err)
	}
	return ino
}

// ProcessNetns returns the inode of the network namespace of process pid
// (/proc/PID/ns/net).
func ProcessNetns(pid int) (uint64, error) {
	return inodeOf(fmt.Sprintf("/proc/%d/ns/net", pid))
}

func inodeOf(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no inode", path)
	}
	return st.Ino, nil
}

// sysctl writes value to /proc/sys/<key> inside host's namespace
// (/proc/sys/net is per namespace, resolved by the process that opens it).
func (l *Lab) sysctl(host, key, value string) error {
	path := "/proc/sys/" + key
	_, err := run(nil, l.ip, "netns", "exec", l.NS(host), "sh", "-c", `printf '%s\n' "$1" > "$2"`, "sh", value, path)
	return err
}

// nftLoad runs nft -f - with ruleset inside host's namespace.
func (l *Lab) nftLoad(host, ruleset string) error {
	_, err := run(strings.NewReader(ruleset), l.ip, "netns", "exec", l.NS(host), l.nft, "-f", "-")
	return err
}

// cmdError is a failed command with its output.
type cmdError struct {
	args []string
	err  error
	out  string
}

func (e *cmdError) Error() string {
	out := strings.TrimSpace(e.out)
	if out == "" {
		out = "(no output)"
	}
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.args, " "), e.err, out)
}

func (e *cmdError) Unwrap() error { return e.err }

// run runs a command and returns its combined output; the error names the
// command and includes the output.
func run(stdin *strings.Reader, name string, args ...string) (string, error) {
	c := exec.Command(name, args...)
	if stdin != nil {
		c.Stdin = stdin
	}
	var buf bytes.Buffer
	c.Stdout = &buf
	c.Stderr = &buf
	err := c.Run()
	out := buf.String()
	if err != nil {
		return out, &cmdError{args: append([]string{name}, args...), err: err, out: out}
	}
	return out, nil
}
