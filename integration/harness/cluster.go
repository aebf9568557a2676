package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/integration/netlab"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
)

// Client describes one file daemon of a cluster.
type Client struct {
	Name    string
	Passive bool
	Include []string // what its backup job saves
	Wrap    []string // command prefix for the fd, e.g. setpriv dropping capabilities
	JobHCL  string   // extra attributes of its backup job, e.g. `max_run_time = "3s"`
	Host    string   // lab host the fd runs on (default "cli"; only with Options.Lab)
	Address string   // the director's Client address (default: the fd's host address)
	// FDSecret, when set, is the passive fd's own leafnode password, to
	// make it disagree with the director's.
	FDSecret string
	// ClientHCL holds extra attributes of the director's client block, e.g.
	// `max_wait = "60s"`.
	ClientHCL string
}

// Options shape a cluster.
type Options struct {
	ExternalNATS bool // run the nats-server binary instead of the director's embedded server
	Clients      []Client
	NoStart      []string // agent names to configure but not start (offline agents)
	VolumeDir    string   // the sd's volume folder (default: a folder in the cluster's dir)
	// Lab runs the director, the sd and the console on the lab's "srv" host
	// and each fd on its Client.Host, without relays; the test reaches the
	// bus through the lab.
	Lab *netlab.Lab
	// DirectorHCL holds extra attributes of the director block, e.g.
	// `data_keepalive = "0s"`.
	DirectorHCL string
	// Insecure runs every daemon and the console with insecure = true: no
	// keys, plain text. The default is Ferry's default: TLS and keys.
	Insecure bool
	// Unlisted names agents whose keys the director's configuration does
	// not name: they enrol and wait for an operator.
	Unlisted []string
}

// FD is a running (or configured) file daemon.
type FD struct {
	Client
	Proc       *Proc
	Listen     string // passive: real data listen address
	Relay      *Relay // passive: the director's configured address points here
	LeafListen string // passive: the leafnode listener the NATS side dials
	Secret     string // passive: the director's leaf_password_file
}

// Cluster is a director, one sd and some fds as processes on loopback.
type Cluster struct {
	t        testing.TB
	Bin      Binaries
	Dir      string
	NATSURL  string
	NATS     *Proc // external server, if any
	Director *Proc
	SD       *Proc
	SDListen string
	SDRelay  *Relay // the Storage resource's data address points here
	FDs      map[string]*FD
	bus      *bus.Conn
	opt      Options
	natsPort int
	// Keys are every identity of the cluster: "dir1", "site1", each
	// client's name, and "console" (the test's and `Ferry`'s).
	Keys *Keys
}

// NewCluster writes configurations and starts every process, returning
// once the director sees every started agent online.
func NewCluster(t testing.TB, bin Binaries, opt Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Bin: bin, Dir: t.TempDir(), FDs: map[string]*FD{}, opt: opt}
	if c.opt.VolumeDir == "" {
		c.opt.VolumeDir = filepath.Join(c.Dir, "volumes")
	}
	ports := FreePorts(t, 2+2*len(opt.Clients))
	c.natsPort = ports[0]
	c.NATSURL = "nats://" + net.JoinHostPort(c.addr("srv"), strconv.Itoa(ports[0]))
	c.SDListen = net.JoinHostPort(c.addr("srv"), strconv.Itoa(ports[1]))
	if opt.Lab == nil {
		c.SDRelay = NewRelay(t, c.SDListen)
	}
	for i, cl := range opt.Clients {
		if cl.Host == "" {
			cl.Host = "cli"
		}
		f := &FD{Client: cl}
		if cl.Passive {
			f.Listen = net.JoinHostPort(c.addr(cl.Host), strconv.Itoa(ports[2+i]))
			f.LeafListen = net.JoinHostPort(c.addr(cl.Host), strconv.Itoa(ports[2+len(opt.Clients)+i]))
			f.Secret = c.writeSecret(cl.Name+"-leaf.secret", "leaf-password-of-"+cl.Name)
			if opt.Lab == nil {
				f.Relay = NewRelay(t, f.Listen)
			}
		}
		c.FDs[cl.Name] = f
	}
	if !opt.Insecure {
		var hosts []string
		for _, cl := range opt.Clients {
			hosts = append(hosts, c.clientAddr(c.FDs[cl.Name]))
		}
		c.Keys = newKeys(t, filepath.Join(c.Dir, "secrets"), c.addr("srv"), c.clientNames(), hosts)
	}
	c.write("director.hcl", c.directorHCL(opt))
	if opt.ExternalNATS {
		c.StartNATS()
	}
	c.StartDirector()
	skip := map[string]bool{}
	for _, n := range opt.NoStart {
		skip[n] = true
	}
	if !skip["site1"] {
		c.StartSD()
	}
	for _, f := range c.FDs {
		if !skip[f.Name] {
			c.StartFD(f.Name)
		}
	}
	c.connect()
	var want []string
	for _, a := range append([]string{"site1"}, keys(c.FDs)...) {
		if !skip[a] {
			want = append(want, a)
		}
	}
	c.WaitOnline(want...)
	return c
}

func keys(m map[string]*FD) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (c *Cluster) write(name, body string) string {
	p := filepath.Join(c.Dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *Cluster) directorHCL(opt Options) string {
	var b strings.Builder
	natsURL := ""
	if opt.ExternalNATS {
		natsURL = c.NATSURL
	}
	fmt.Fprintf(&b, "director \"dir1\" {\n  nats_listen = %q\n  nats_url = %q\n  data_dir = %q\n  connect_timeout = \"3s\"\n  %s\n%s}\n",
		strings.TrimPrefix(c.NATSURL, "nats://"), natsURL, filepath.Join(c.Dir, "director"), opt.DirectorHCL, c.directorSecurityHCL())
	fmt.Fprintf(&b, "storage \"site1\" {\n  address = %q\n  data_port = %d\n%s}\n", c.addr("srv"), c.sdPort(), c.keyHCL("site1"))
	if c.Keys != nil {
		fmt.Fprintf(&b, "console \"test\" {\n  key = %q\n}\n", c.Keys.Public("console"))
	}
	for _, cl := range opt.Clients {
		f := c.FDs[cl.Name]
		port, addr := c.clientPort(f), c.clientAddr(f)
		leaf := c.keyHCL(cl.Name)
		if cl.Passive {
			leaf += fmt.Sprintf("  leaf_port = %d\n  leaf_password_file = %q\n", portOf(f.LeafListen), f.Secret)
		}
		if cl.ClientHCL != "" {
			leaf += "  " + cl.ClientHCL + "\n"
		}
		fmt.Fprintf(&b, "client %q {\n  address = %q\n  data_port = %d\n  passive = %t\n%s}\n", cl.Name, addr, port, cl.Passive, leaf)
		fmt.Fprintf(&b, "fileset %q {\n  include = [%s]\n}\n", "fs-"+cl.Name, quoteList(cl.Include))
		fmt.Fprintf(&b, "job %q {\n  client = %q\n  fileset = %q\n  storage = \"site1\"\n  %s\n}\n", "backup-"+cl.Name, cl.Name, "fs-"+cl.Name, cl.JobHCL)
	}
	return b.String()
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// writeSecret writes a secret file (mode 0600) and returns its path.
func (c *Cluster) writeSecret(name, value string) string {
	dir := filepath.Join(c.Dir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// addr is a host's address: loopback, or the lab host's.
func (c *Cluster) addr(host string) string {
	if c.opt.Lab == nil {
		return "127.0.0.1"
	}
	return c.opt.Lab.Addr(host)
}

// sdPort is the data port the director's Storage resource names: the
// relay's, or the sd's own in a lab.
func (c *Cluster) sdPort() int {
	if c.SDRelay != nil {
		return c.SDRelay.Port()
	}
	_, p, _ := net.SplitHostPort(c.SDListen)
	n, _ := strconv.Atoi(p)
	return n
}

// clientPort is the data port the director's Client resource names.
func (c *Cluster) clientPort(f *FD) int {
	switch {
	case f.Relay != nil:
		return f.Relay.Port()
	case f.Listen != "":
		_, p, _ := net.SplitHostPort(f.Listen)
		n, _ := strconv.Atoi(p)
		return n
	}
	return 9 // an active client has no data listener
}

// command prepares bin on a host: in the lab's namespace, or plainly.
func (c *Cluster) command(host, bin string, args ...string) *exec.Cmd {
	if c.opt.Lab == nil {
		return exec.Command(bin, args...)
	}
	return c.opt.Lab.Command(host, bin, args...)
}

// waitBus waits until the bus port accepts connections.
func (c *Cluster) waitBus() {
	c.t.Helper()
	addr := strings.TrimPrefix(c.NATSURL, "nats://")
	if c.opt.Lab == nil {
		WaitTCP(c.t, addr)
		return
	}
	dial := c.opt.Lab.DialContext("srv")
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := dial(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("bus at %s does not accept connections: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clientAddr is the director's Client address of f.
func (c *Cluster) clientAddr(f *FD) string {
	if f.Client.Address != "" {
		return f.Client.Address
	}
	return c.addr(f.Host)
}

func (c *Cluster) clientNames() []string {
	var out []string
	for _, cl := range c.opt.Clients {
		out = append(out, cl.Name)
	}
	return out
}

// directorSecurityHCL is the director block's security attributes.
func (c *Cluster) directorSecurityHCL() string {
	if c.Keys == nil {
		return "  insecure = true\n"
	}
	return fmt.Sprintf("  identity_file = %q\n  tls_cert_file = %q\n  tls_key_file = %q\n  ca_file = %q\n",
		c.Keys.File("dir1"), c.Keys.HubCert, c.Keys.HubKey, c.Keys.CA)
}

// keyHCL names an agent's key in its director resource, unless the agent
// is to enrol.
func (c *Cluster) keyHCL(name string) string {
	if c.Keys == nil || slices.Contains(c.opt.Unlisted, name) {
		return ""
	}
	return fmt.Sprintf("  key = %q\n", c.Keys.Public(name))
}

// AgentSecurityHCL is the security attributes of the configuration of
// an sd or fd of this cluster: its identity and the CA, or insecure.
func (c *Cluster) AgentSecurityHCL(name string) string {
	if c.Keys == nil {
		return "  insecure = true\n"
	}
	return fmt.Sprintf("  identity_file = %q\n  ca_file = %q\n", c.Keys.File(name), c.Keys.CA)
}

// StartNATS starts (or restarts) the external nats-server with JetStream,
// on the same port and store.
//
// Its configuration is what `ferry nats config` generates from the
// director's file: the accounts and the passive clients' leafnode remotes.
func (c *Cluster) StartNATS() {
	conf := filepath.Join(c.Dir, "nats-server.conf")
	gen := c.command("srv", c.Bin.Ferry, "nats", "config", "--director", filepath.Join(c.Dir, "director.hcl"),
		"--listen", strings.TrimPrefix(c.NATSURL, "nats://"), "--store-dir", filepath.Join(c.Dir, "nats"), "-o", conf)
	if c.Keys != nil {
		gen.Args = append(gen.Args, "--tls-cert", c.Keys.HubCert, "--tls-key", c.Keys.HubKey, "--ca", c.Keys.CA)
	}
	if out, err := gen.CombinedOutput(); err != nil {
		c.t.Fatalf("ferry nats config: %v\n%s", err, out)
	}
	c.NATS = StartCmd(c.t, c.Dir, "nats-server", c.command("srv", c.Bin.NATSServer, "-c", conf))
	c.waitBus()
}

// StartDirector starts (or restarts) the director with the same
// configuration, catalog and (embedded) bus port.
func (c *Cluster) StartDirector() {
	c.Director = StartCmd(c.t, c.Dir, "director", c.command("srv", c.Bin.Ferry, "director", "--config", filepath.Join(c.Dir, "director.hcl")))
	c.waitBus()
	c.Director.WaitLog(c.t, "director ready")
}

// StartSD starts (or restarts) the storage daemon.
func (c *Cluster) StartSD() {
	cfg := fmt.Sprintf("storage_daemon \"site1\" {\n  nats_url = %q\n  data_listen = %q\n  volume_dir = %q\n%s}\n",
		c.NATSURL, c.SDListen, c.opt.VolumeDir, c.AgentSecurityHCL("site1"))
	c.SD = StartCmd(c.t, c.Dir, "sd-site1", c.command("srv", c.Bin.Ferry, "sd", "--config", c.write("sd.hcl", cfg)))
	c.SD.WaitLog(c.t, "storage daemon ready")
}

// StartFD starts (or restarts) the file daemon of client name.
func (c *Cluster) StartFD(name string) {
	f := c.FDs[name]
	listen := f.Listen
	if listen == "" {
		listen = net.JoinHostPort(c.addr(f.Host), "0")
	}
	cfg := fmt.Sprintf("file_daemon %q {\n  nats_url = %q\n  data_listen = %q\n  passive = false\n%s}\n", name, c.NATSURL, listen, c.AgentSecurityHCL(name))
	if f.Passive {
		secret := f.Secret
		if f.FDSecret != "" {
			secret = c.writeSecret(name+"-fd-leaf.secret", f.FDSecret)
		}
		leafTLS := ""
		if c.Keys != nil && c.opt.ExternalNATS {
			// An external server checks the leafnode certificate against
			// the deployment CA, with the client's address as the name.
			leafTLS = fmt.Sprintf("  leaf_cert_file = %q\n  leaf_key_file = %q\n", c.Keys.LeafCert(name), c.Keys.LeafKey(name))
		}
		cfg = fmt.Sprintf("file_daemon %q {\n  data_listen = %q\n  passive = true\n  leaf_listen = %q\n  leaf_password_file = %q\n%s%s}\n",
			name, listen, f.LeafListen, secret, c.AgentSecurityHCL(name), leafTLS)
	}
	args := []string{"fd", "--config", c.write("fd-"+name+".hcl", cfg)}
	bin := c.Bin.Ferry
	if len(f.Wrap) > 0 {
		bin, args = f.Wrap[0], append(append(f.Wrap[1:len(f.Wrap):len(f.Wrap)], c.Bin.Ferry), args...)
	}
	f.Proc = StartCmd(c.t, c.Dir, "fd-"+name, c.command(f.Host, bin, args...))
}

func (c *Cluster) connect() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opt := c.ConsoleOptions("test")
	if c.opt.Lab != nil {
		opt.Extra = []nats.Option{nats.SetCustomDialer(labDialer{c.opt.Lab.DialContext("srv")})}
	}
	conn, err := bus.Connect(c.NATSURL, opt, log)
	if err != nil {
		c.t.Fatal(err)
	}
	c.bus = conn
	c.t.Cleanup(conn.Close)
}

// Bus is a console connection of the test itself.
func (c *Cluster) Bus() *bus.Conn { return c.bus }

// WaitOnline polls the director's status until the named agents are online.
func (c *Cluster) WaitOnline(names ...string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := bus.Request(ctx, c.bus, schemas.APIStatus, schemas.StatusRequest{})
		cancel()
		if err == nil && allOnline(st, names, c.startedAt) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("agents %v not online after 30 s (last status %+v, err %v)", names, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startedAt is when the harness last started agent name's process: a
// heartbeat from before that is its predecessor's.
func (c *Cluster) startedAt(name string) time.Time {
	if name == "site1" && c.SD != nil {
		return c.SD.Started
	}
	if f := c.FDs[name]; f != nil && f.Proc != nil {
		return f.Proc.Started
	}
	return time.Time{}
}

func allOnline(st schemas.StatusReply, names []string, startedAt func(string) time.Time) bool {
	online := map[string]bool{}
	for _, a := range st.Agents {
		online[a.Name] = a.Online && a.LastSeen >= startedAt(a.Name).UnixNano()
	}
	for _, n := range names {
		if !online[n] {
			return false
		}
	}
	return true
}

// Result of a console command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Ferry runs the console with args against the cluster's bus.
func (c *Cluster) Ferry(args ...string) Result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := c.command("srv", c.Bin.Ferry, args...)
	cmd.Env = append(os.Environ(), c.ConsoleEnv()...)
	stop := context.AfterFunc(ctx, func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	})
	defer stop()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("ferry %v: %v", args, err)
	}
	return r
}

// ConsoleOptions are the bus options of a console of this cluster: the
// configured console key and the deployment CA.
func (c *Cluster) ConsoleOptions(name string) bus.Options {
	o := bus.Options{Name: name}
	if c.Keys != nil {
		id := c.Keys.ID("console")
		o.Key, o.Sign, o.TLS = id.PublicKey(), id.Sign, c.Keys.ClientTLS(c.t)
	}
	return o
}

// ConsoleEnv is the environment of `ferry` console commands.
func (c *Cluster) ConsoleEnv() []string {
	env := []string{"FERRY_NATS=" + c.NATSURL, "FERRY_CONSOLE_NAME=test"}
	if c.Keys == nil {
		return append(env, "FERRY_INSECURE=1")
	}
	return append(env, "FERRY_IDENTITY="+c.Keys.File("console"), "FERRY_CA="+c.Keys.CA)
}

// labDialer makes nats.go dial from inside a lab host.
type labDialer struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d labDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.dial(ctx, network, addr)
}

// FreePorts reserves n distinct loopback ports (released before use).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range lns {
		l.Close()
	}
	return out
}

// WaitTCP polls until addr accepts connections.
func WaitTCP(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
