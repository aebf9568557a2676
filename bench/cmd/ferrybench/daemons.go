package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/agents/pki"
)

// Names in the generated configuration.
const (
	storageName = "site1"
	passiveName = "pas" // passive client: the sd dials its data port, the hub its leaf port
	activeName  = "act" // active client: dials NATS and the sd
)

// cluster is a director, an sd and two fds as processes on loopback, with
// configuration files written the way deploy/demo.sh writes them. The bench
// runs two side by side: "tls" (Ferry's default security: keys, a CA and
// TLS on every link) and "plain" (insecure = true).
type cluster struct {
	name       string // clusterTLS or clusterPlain
	secure     bool   // default security; false: insecure = true
	dir        string
	volumes    string // the sd's volume folder
	ferry      string // binary
	natsURL    string
	caFile     string               // secure: the CA certificate the console checks the hub with
	consoleKey string               // secure: the console's key file
	procs      map[string]*exec.Cmd // director, sd, fd-pas, fd-act
	order      []string
	dirLog     string
	datasets   []dataset
}

// The two clusters.
const (
	clusterTLS   = "tls"
	clusterPlain = "plain"
)

func freePorts(n int) ([]int, error) {
	var out []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func jobName(workload, client string) string { return workload + "-" + client }

// secureKeys makes, in dir, what cmd/ferry/dev.go makes for ferry dev: a CA,
// the hub's certificate for 127.0.0.1 and one identity per agent and for
// the console. It returns the public keys by name.
func (c *cluster) secureKeys(dir string, names ...string) (map[string]string, error) {
	ca, err := pki.NewCA("ferrybench")
	if err != nil {
		return nil, err
	}
	if err := ca.Save(dir, true); err != nil {
		return nil, err
	}
	if _, _, err := ca.IssueFiles(filepath.Join(dir, "hub"), "ferrybench-hub", []string{"127.0.0.1", "localhost"}, true); err != nil {
		return nil, err
	}
	c.caFile = filepath.Join(dir, pki.CACertFile)
	pub := map[string]string{}
	for _, n := range names {
		id, err := identity.Create(filepath.Join(dir, n+".nkey"), true)
		if err != nil {
			return nil, err
		}
		pub[n] = id.PublicKey()
	}
	c.consoleKey = filepath.Join(dir, "console.nkey")
	return pub, nil
}

// writeConfigs writes director.hcl, sd.hcl and the two fd files; one job
// per dataset and client. ports: NATS, sd data, passive fd data, leaf.
func (c *cluster) writeConfigs(ports []int) error {
	natsPort, sdPort, fdPort, leafPort := ports[0], ports[1], ports[2], ports[3]
	secrets := filepath.Join(c.dir, "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		return err
	}
	secret := filepath.Join(secrets, passiveName+"-leaf.secret")
	if err := os.WriteFile(secret, []byte("ferrybench-leaf-password-0123456789\n"), 0o600); err != nil {
		return err
	}
	// Per daemon: the security lines of its block.
	sec := map[string]string{}
	keyLine := func(string) string { return "" }
	if c.secure {
		pub, err := c.secureKeys(secrets, "director", storageName, passiveName, activeName, "console")
		if err != nil {
			return fmt.Errorf("%s cluster keys: %w", c.name, err)
		}
		c.natsURL = fmt.Sprintf("tls://127.0.0.1:%d", natsPort)
		id := func(n string) string { return fmt.Sprintf("  identity_file = %q\n", filepath.Join(secrets, n+".nkey")) }
		ca := fmt.Sprintf("  ca_file       = %q\n", c.caFile)
		sec["director"] = id("director") + fmt.Sprintf("  tls_cert_file = %q\n  tls_key_file  = %q\n", filepath.Join(secrets, "hub.crt"), filepath.Join(secrets, "hub.key")) + ca
		sec["sd"] = id(storageName) + ca
		sec[passiveName] = id(passiveName) // it dials nothing: no ca_file
		sec[activeName] = id(activeName) + ca
		keyLine = func(n string) string { return fmt.Sprintf("  key = %q\n", pub[n]) }
	} else {
		c.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
		// insecure: plain bus and data socket, no keys (see bench/README.md).
		for _, n := range []string{"director", "sd", passiveName, activeName} {
			sec[n] = "  insecure = true\n"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "director \"bench-%s\" {\n  nats_listen = \"127.0.0.1:%d\"\n  data_dir    = %q\n%s}\n", c.name, natsPort, filepath.Join(c.dir, "director"), sec["director"])
	if c.secure {
		fmt.Fprintf(&b, "console \"bench\" {\n%s}\n", keyLine("console"))
	}
	fmt.Fprintf(&b, "storage %q {\n  address   = \"127.0.0.1\"\n  data_port = %d\n%s}\n", storageName, sdPort, keyLine(storageName))
	fmt.Fprintf(&b, "client %q {\n  address            = \"127.0.0.1\"\n  data_port          = %d\n  passive            = true\n  leaf_port          = %d\n  leaf_password_file = %q\n%s}\n",
		passiveName, fdPort, leafPort, secret, keyLine(passiveName))
	fmt.Fprintf(&b, "client %q {\n  address = \"127.0.0.1\"\n%s}\n", activeName, keyLine(activeName))
	for _, d := range c.datasets {
		if d.compress {
			fmt.Fprintf(&b, "fileset %q {\n  include     = [%q]\n  compression = \"zstd\"\n}\n", d.name, d.dir)
		} else {
			fmt.Fprintf(&b, "fileset %q { include = [%q] }\n", d.name, d.dir)
		}
		for _, cl := range []string{passiveName, activeName} {
			fmt.Fprintf(&b, "job %q {\n  client  = %q\n  fileset = %q\n  storage = %q\n}\n", jobName(d.name, cl), cl, d.name, storageName)
		}
	}
	files := map[string]string{
		"director.hcl": b.String(),
		"sd.hcl": fmt.Sprintf("storage_daemon %q {\n  nats_url    = %q\n  data_listen = \"127.0.0.1:%d\"\n  volume_dir  = %q\n%s}\n",
			storageName, c.natsURL, sdPort, c.volumes, sec["sd"]),
		"fd-" + passiveName + ".hcl": fmt.Sprintf("file_daemon %q {\n  data_listen        = \"127.0.0.1:%d\"\n  passive            = true\n  leaf_listen        = \"127.0.0.1:%d\"\n  leaf_password_file = %q\n%s}\n",
			passiveName, fdPort, leafPort, secret, sec[passiveName]),
		"fd-" + activeName + ".hcl": fmt.Sprintf("file_daemon %q {\n  nats_url    = %q\n  data_listen = \"127.0.0.1:0\"\n%s}\n", activeName, c.natsURL, sec[activeName]),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return c.console(context.Background(), nil, "config", "check", filepath.Join(c.dir, "director.hcl"), filepath.Join(c.dir, "sd.hcl"),
		filepath.Join(c.dir, "fd-"+passiveName+".hcl"), filepath.Join(c.dir, "fd-"+activeName+".hcl"))
}

// start starts the daemons and waits until the director sees the sd and
// both fds online.
func (c *cluster) start() error {
	c.procs = map[string]*exec.Cmd{}
	c.dirLog = filepath.Join(c.dir, "director.log")
	if err := c.daemon("director", "director", "director.hcl"); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.console(context.Background(), nil, "status") != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("director does not answer after 30 s; see %s", c.dirLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, d := range [][2]string{{"sd", "sd.hcl"}, {"fd-" + passiveName, "fd-" + passiveName + ".hcl"}, {"fd-" + activeName, "fd-" + activeName + ".hcl"}} {
		kind := strings.SplitN(d[0], "-", 2)[0]
		if err := c.daemon(d[0], kind, d[1]); err != nil {
			return err
		}
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		var out bytes.Buffer
		err := c.console(context.Background(), &out, "status")
		if err == nil && countOnline(out.String()) == 3 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agents not online after 60 s:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func countOnline(status string) int {
	n := 0
	for _, l := range strings.Split(status, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[3] == "online" {
			n++
		}
	}
	return n
}

func (c *cluster) daemon(name, kind, config string) error {
	log, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(c.ferry, kind, "--config", filepath.Join(c.dir, config))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	log.Close()
	c.procs[name] = cmd
	c.order = append(c.order, name)
	return nil
}

// pid of a daemon.
func (c *cluster) pid(name string) int { return c.procs[name].Process.Pid }

// stop sends SIGTERM to the daemons, fds first, and waits for them.
func (c *cluster) stop() {
	for i := len(c.order) - 1; i >= 0; i-- {
		p := c.procs[c.order[i]]
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	c.order = nil
}

// console runs a console command against the cluster's bus; its stdout
// goes to out (if not nil) and, on failure, into the error.
func (c *cluster) console(ctx context.Context, out *bytes.Buffer, args ...string) error {
	cmd := exec.CommandContext(ctx, c.ferry, args...)
	cmd.Env = append(os.Environ(), "FERRY_NATS="+c.natsURL)
	if c.secure {
		cmd.Env = append(cmd.Env, "FERRY_IDENTITY="+c.consoleKey, "FERRY_CA="+c.caFile, "FERRY_CONSOLE_NAME=bench", "FERRY_INSECURE=")
	} else {
		cmd.Env = append(cmd.Env, "FERRY_INSECURE=1")
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if out != nil {
		out.Write(o.Bytes())
	}
	if err != nil {
		return fmt.Errorf("ferry %s: %v: %s%s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return nil
}

var jobLineRE = regexp.MustCompile(`^job (\d+) \S+ \S+ .*: (\S+), (\d+) files`)

// jobResult is the summary line of `ferry run|restore --wait`.
type jobResult struct {
	id     int64
	status string
	files  int64
	start  time.Time // just before the console command started
	wall   time.Duration
}

// runJob runs a console command that waits for its job, timing it.
func (c *cluster) runJob(args ...string) (jobResult, error) {
	var out bytes.Buffer
	start := time.Now()
	err := c.console(context.Background(), &out, args...)
	r := jobResult{start: start, wall: time.Since(start)}
	if err != nil {
		return r, err
	}
	m := jobLineRE.FindStringSubmatch(strings.TrimSpace(out.String()))
	if m == nil {
		return r, fmt.Errorf("ferry %s: unexpected output %q", strings.Join(args, " "), out.String())
	}
	r.id, _ = strconv.ParseInt(m[1], 10, 64)
	r.status = m[2]
	r.files, _ = strconv.ParseInt(m[3], 10, 64)
	if r.status != "ok" {
		return r, fmt.Errorf("ferry %s: job %d ended %s", strings.Join(args, " "), r.id, r.status)
	}
	return r, nil
}

var (
	channelOpenRE = regexp.MustCompile(`^time=(\S+) .*msg="data channel open" .*\bjob=(\d+) `)
	jobEndedRE    = regexp.MustCompile(`^time=(\S+) .*msg="job ended" .*\bjob=(\d+) `)
	// The sd's own timestamp of the first data frame (ns), which the
	// director puts on the job's record and logs.
	firstDataRE = regexp.MustCompile(`msg="first data frame" .*\bjob=(\d+) at=(\S+)`)
)

// jobTimes reads the director's log for the time each job's data channel
// opened and the time it ended (slog text, millisecond resolution), and
// the sd's time of each job's first data frame (ns).
func (c *cluster) jobTimes() (open, ended, first map[int64]time.Time, err error) {
	f, err := os.Open(c.dirLog)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	open, ended, first = map[int64]time.Time{}, map[int64]time.Time{}, map[int64]time.Time{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := firstDataRE.FindStringSubmatch(sc.Text()); m != nil {
			if t, err := time.Parse(time.RFC3339Nano, m[2]); err == nil {
				id, _ := strconv.ParseInt(m[1], 10, 64)
				first[id] = t
			}
		}
		for _, x := range []struct {
			re *regexp.Regexp
			m  map[int64]time.Time
		}{{channelOpenRE, open}, {jobEndedRE, ended}} {
			m := x.re.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				continue
			}
			id, _ := strconv.ParseInt(m[2], 10, 64)
			x.m[id] = t
		}
	}
	return open, ended, first, sc.Err()
}

// resetPeak resets a process's VmHWM to its current RSS (clear_refs 5).
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakRSS is a process's VmHWM in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("pid %d: no VmHWM", pid)
}

var (
	dataTLSRE   = regexp.MustCompile(`msg="data socket up" .*\btls=("[^"]*"|\S+) cipher=("[^"]*"|\S+)`)
	dataPlainRE = regexp.MustCompile(`msg="data socket up without TLS`)
)

// dataSocketTLS reads the sd's log for the TLS version and cipher suite of
// its data sockets (agents/sd/session.go logs the connection state of each:
// "data socket up ... tls=<version> cipher=<suite>"). It returns the
// distinct "version suite" pairs seen, the count of sockets with TLS and
// without.
func (c *cluster) dataSocketTLS() (seen []string, withTLS, plain int, err error) {
	f, err := os.Open(filepath.Join(c.dir, "sd.log"))
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	have := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := dataTLSRE.FindStringSubmatch(sc.Text()); m != nil {
			withTLS++
			s := strings.Trim(m[1], `"`) + " " + strings.Trim(m[2], `"`)
			if !have[s] {
				have[s] = true
				seen = append(seen, s)
			}
		} else if dataPlainRE.MatchString(sc.Text()) {
			plain++
		}
	}
	return seen, withTLS, plain, sc.Err()
}
