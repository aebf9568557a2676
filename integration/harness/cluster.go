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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
)

// Client describes one file daemon of a cluster.
type Client struct {
	Name    string
	Passive bool
	Include []string // what its backup job saves
	Wrap    []string // command prefix for the fd, e.g. setpriv dropping capabilities
	JobHCL  string   // extra attributes of its backup job, e.g. `max_run_time = "3s"`
}

// Options shape a cluster.
type Options struct {
	ExternalNATS bool // run the nats-server binary instead of the director's embedded server
	Clients      []Client
	NoStart      []string // agent names to configure but not start (offline agents)
	VolumeDir    string   // the sd's volume folder (default: a folder in the cluster's dir)
}

// FD is a running (or configured) file daemon.
type FD struct {
	Client
	Proc   *Proc
	Listen string // passive: real data listen address
	Relay  *Relay // passive: the director's configured address points here
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
}

// NewCluster writes configurations and starts every process, returning
// once the director sees every started agent online.
func NewCluster(t testing.TB, bin Binaries, opt Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Bin: bin, Dir: t.TempDir(), FDs: map[string]*FD{}, opt: opt}
	if c.opt.VolumeDir == "" {
		c.opt.VolumeDir = filepath.Join(c.Dir, "volumes")
	}
	ports := FreePorts(t, 2+len(opt.Clients))
	c.natsPort = ports[0]
	c.NATSURL = "nats://127.0.0.1:" + strconv.Itoa(ports[0])
	c.SDListen = "127.0.0.1:" + strconv.Itoa(ports[1])
	c.SDRelay = NewRelay(t, c.SDListen)
	for i, cl := range opt.Clients {
		f := &FD{Client: cl}
		if cl.Passive {
			f.Listen = "127.0.0.1:" + strconv.Itoa(ports[2+i])
			f.Relay = NewRelay(t, f.Listen)
		}
		c.FDs[cl.Name] = f
	}
	if opt.ExternalNATS {
		c.StartNATS()
	}
	c.write("director.hcl", c.directorHCL(opt))
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
	fmt.Fprintf(&b, "director \"dir1\" {\n  nats_listen = %q\n  nats_url = %q\n  data_dir = %q\n  connect_timeout = \"3s\"\n}\n",
		strings.TrimPrefix(c.NATSURL, "nats://"), natsURL, filepath.Join(c.Dir, "director"))
	fmt.Fprintf(&b, "storage \"site1\" {\n  address = \"127.0.0.1\"\n  data_port = %d\n}\n", c.SDRelay.Port())
	for _, cl := range opt.Clients {
		port := 9 // discard: an active client has no data listener
		if f := c.FDs[cl.Name]; f.Relay != nil {
			port = f.Relay.Port()
		}
		fmt.Fprintf(&b, "client %q {\n  address = \"127.0.0.1\"\n  data_port = %d\n  passive = %t\n}\n", cl.Name, port, cl.Passive)
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

// StartNATS starts (or restarts) the external nats-server with JetStream,
// on the same port and store.
func (c *Cluster) StartNATS() {
	c.NATS = Start(c.t, c.Dir, "nats-server", c.Bin.NATSServer, "-a", "127.0.0.1", "-p", strconv.Itoa(c.natsPort), "-js", "-sd", filepath.Join(c.Dir, "nats"))
	WaitTCP(c.t, "127.0.0.1:"+strconv.Itoa(c.natsPort))
}

// StartDirector starts (or restarts) the director with the same
// configuration, catalog and (embedded) bus port.
func (c *Cluster) StartDirector() {
	c.Director = Start(c.t, c.Dir, "director", c.Bin.Ferry, "director", "--config", filepath.Join(c.Dir, "director.hcl"))
	WaitTCP(c.t, "127.0.0.1:"+strconv.Itoa(c.natsPort))
}

// StartSD starts (or restarts) the storage daemon.
func (c *Cluster) StartSD() {
	cfg := fmt.Sprintf("storage_daemon \"site1\" {\n  nats_url = %q\n  data_listen = %q\n  volume_dir = %q\n}\n",
		c.NATSURL, c.SDListen, c.opt.VolumeDir)
	c.SD = Start(c.t, c.Dir, "sd-site1", c.Bin.Ferry, "sd", "--config", c.write("sd.hcl", cfg))
}

// StartFD starts (or restarts) the file daemon of client name.
func (c *Cluster) StartFD(name string) {
	f := c.FDs[name]
	listen := f.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	cfg := fmt.Sprintf("file_daemon %q {\n  nats_url = %q\n  data_listen = %q\n  passive = %t\n}\n", name, c.NATSURL, listen, f.Passive)
	args := []string{"fd", "--config", c.write("fd-"+name+".hcl", cfg)}
	bin := c.Bin.Ferry
	if len(f.Wrap) > 0 {
		bin, args = f.Wrap[0], append(append(f.Wrap[1:len(f.Wrap):len(f.Wrap)], c.Bin.Ferry), args...)
	}
	f.Proc = Start(c.t, c.Dir, "fd-"+name, bin, args...)
}

func (c *Cluster) connect() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conn, err := bus.Connect(c.NATSURL, bus.Options{Name: "test"}, log)
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
		if err == nil && allOnline(st, names) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("agents %v not online after 30 s (last status %+v, err %v)", names, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func allOnline(st schemas.StatusReply, names []string) bool {
	online := map[string]bool{}
	for _, a := range st.Agents {
		online[a.Name] = a.Online
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
	cmd := exec.CommandContext(ctx, c.Bin.Ferry, args...)
	cmd.Env = append(os.Environ(), "FERRY_NATS="+c.NATSURL)
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
