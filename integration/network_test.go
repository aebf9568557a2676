package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/netlab"
	"github.com/ferrybackup/ferry/integration/treecmp"
	"github.com/ferrybackup/ferry/schemas"
)

// TestNetwork runs Ferry across real network topologies built from network
// namespaces (root; skipped without it, failed under FERRY_REQUIRE_ROOT=1):
// a passive client that may dial nothing and resolve nothing, an active
// client behind a masquerading router, wrong modes, jobs queued for an
// offline client, and a passive client's bus link lost and regained.
func TestNetwork(t *testing.T) {
	t.Run("firewalled passive client", netFirewalledPassive)
	t.Run("passive client without name resolution", netNoResolver)
	t.Run("client behind NAT, active", netNATActive)
	t.Run("wrong modes fail cleanly", netWrongModes)
	t.Run("offline queue", netOfflineQueue)
	t.Run("link loss", netLinkLoss)
}

// netFirewalledPassive: a passive client whose host drops every new
// outbound connection (counted) backs up and restores the tricky tree, the
// sd dialing it; the counters prove it never tried to open a connection,
// not even over loopback.
func netFirewalledPassive(t *testing.T) {
	start := time.Now()
	lab := netlab.New(t, netlab.Direct)
	lab.GuardOutbound("cli", false)
	netProveCounters(t, lab)

	work := t.TempDir()
	root, sock := harness.TrickyTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, Clients: []harness.Client{
		{Name: "c1", Passive: true, Include: []string{root}}}})
	t.Logf("cluster up after %v", time.Since(start).Round(time.Millisecond))
	netCheckNetns(t, lab, c.FDs["c1"].Proc.Pid(), "cli")
	netWaitLinkUp(t, c, "c1")
	if row := netStatusRow(t, c, "c1"); !strings.Contains(row, " passive ") {
		t.Errorf("status row of c1 %q does not say passive", row)
	}

	target := filepath.Join(work, "restore")
	netBackupRestore(t, c, target, "sd→fd")
	treecmp.Equal(t, root, filepath.Join(target, root), treecmp.Options{
		Owner: true, DirMtimes: true, Xattrs: true, Sparse: true, Hardlinks: true,
		Ignore: func(rel []byte) bool { return bytes.Equal(rel, []byte(sock)) },
	})
	netCountersZero(t, lab, "cli")
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// netNoResolver: the director knows the passive client only by a name that
// only the server host resolves; the client host has no resolver at all and
// may open no connection. The hub and the sd dial it by that name.
func netNoResolver(t *testing.T) {
	start := time.Now()
	lab := netlab.New(t, netlab.Direct)
	lab.Hosts("srv", map[string]string{"fd-host.test": lab.Addr("cli")})
	lab.NoResolver("cli")
	lab.GuardOutbound("cli", true)
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, Clients: []harness.Client{
		{Name: "c1", Passive: true, Address: "fd-host.test", Include: []string{src}}}})
	target := filepath.Join(work, "restore")
	id, _ := netBackupRestore(t, c, target, "sd→fd")
	treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{DirMtimes: true, Owner: true})
	if job := c.Ferry("job", id).Stdout; !regexp.MustCompile(`Data channel:\s+sd→fd: sd dialed, from 10\.77\.1\.1:\d+ to fd-host\.test:\d+`).MatchString(job) {
		t.Errorf("ferry job %s does not show the sd dialing fd-host.test:\n%s", id, job)
	}
	netCountersZero(t, lab, "cli")
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// netNATActive: an active client behind a masquerading router dials the
// bus and the sd; the sd sees the data connections come from the router.
func netNATActive(t *testing.T) {
	start := time.Now()
	lab := netlab.New(t, netlab.NAT)
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, Clients: []harness.Client{
		{Name: "c1", Include: []string{src}}}})
	target := filepath.Join(work, "restore")
	bid, rid := netBackupRestore(t, c, target, "fd→sd")
	treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{DirMtimes: true, Owner: true})
	sdLog := c.SD.LogText()
	for _, id := range []string{bid, rid} {
		// The fd dialed from its own address; the sd saw the router's.
		if job := c.Ferry("job", id).Stdout; !regexp.MustCompile(`Data channel:\s+fd→sd: fd dialed, from 10\.77\.2\.2:\d+ to 10\.77\.1\.1:\d+`).MatchString(job) {
			t.Errorf("ferry job %s does not show the fd dialing from behind the router:\n%s", id, job)
		}
		re := regexp.MustCompile(`msg="data connection accepted".* job=` + id + ` peer=10\.77\.1\.254:\d+ peer_role=fd`)
		if !re.MatchString(sdLog) {
			t.Errorf("the sd's log does not show job %s's data connection accepted from the router 10.77.1.254:\n%s", id, netGrep(sdLog, "data connection"))
		}
	}
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

func netWrongModes(t *testing.T) {
	t.Run("director says passive, fd behind NAT is active", netPassiveMismatch)
	t.Run("firewalled active fd", netFirewalledActive)
}

// netPassiveMismatch: the director calls c1 passive, but its fd (behind
// NAT) is configured active with a data listener: it reaches the bus, but
// the sd cannot reach it. The job fails at once saying who dialed whom,
// with the hint about passive; status shows the mismatch; a correctly
// configured client of the same cluster still works.
func netPassiveMismatch(t *testing.T) {
	start := time.Now()
	lab := netlab.New(t, netlab.NAT)
	src := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, NoStart: []string{"c1"}, Clients: []harness.Client{
		{Name: "c1", Passive: true, Address: lab.Addr("cli"), Include: []string{src}},
		{Name: "c2", Include: []string{src}},
	}})
	// The fd's own configuration: active, dialing NATS, listening on the
	// port the director names.
	cfg := fmt.Sprintf("file_daemon %q {\n  nats_url = %q\n  data_listen = %q\n  passive = false\n%s}\n", "c1", c.NATSURL, c.FDs["c1"].Listen, c.AgentSecurityHCL("c1"))
	path := filepath.Join(c.Dir, "fd-c1-active.hcl")
	must(t, os.WriteFile(path, []byte(cfg), 0o600))
	harness.StartCmd(t, c.Dir, "fd-c1-active", lab.Command("cli", bin.Ferry, "fd", "--config", path))
	c.WaitOnline("c1")

	// Status: c1 is online (its heartbeats arrive), its bus link is down
	// (the hub cannot reach its leafnode port behind the router), and the
	// two configurations disagree.
	mismatch := "fd c1: configuration mismatch: the director says passive = true, the file daemon's own configuration says passive = false"
	linkDown := regexp.MustCompile(`fd c1: bus link down since .*: dial ` + regexp.QuoteMeta(c.FDs["c1"].LeafListen) + `: `)
	netWaitStatus(t, c, "status shows c1's configuration mismatch and its link down", 15*time.Second, func(out string) bool {
		return strings.Contains(out, mismatch) && linkDown.MatchString(out)
	})

	t0 := time.Now()
	r := c.Ferry("run", "backup-c1", "--wait")
	took := time.Since(t0)
	want := regexp.MustCompile(`sd site1 dialed fd c1 at 10\.77\.2\.2:\d+ for the data socket and failed: .*set passive = false on client c1 if it can dial out`)
	if r.Code != 3 || !want.MatchString(r.Stdout) {
		t.Fatalf("exit %d, output %q %q; want a failure matching %s", r.Code, r.Stdout, r.Stderr, want)
	}
	if took > 3*time.Second+7*time.Second {
		t.Errorf("the failing job took %v: not within the connect timeout (3 s)", took)
	}
	t.Logf("mismatched job failed after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(r.Stdout))
	if job := c.Ferry("job", jobID(t, r)).Stdout; !strings.Contains(job, "configuration mismatch") {
		t.Errorf("the job's log does not carry the fd's mismatch note:\n%s", job)
	}

	r = c.Ferry("run", "backup-c2", "--wait")
	mustOK(t, r, "backup of the correctly configured client c2")
	if !strings.Contains(r.Stdout, "data fd→sd ") {
		t.Errorf("c2's backup does not say fd→sd: %s", r.Stdout)
	}
	netNoUnfinished(t, c)
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// netFirewalledActive: an active fd on a host that rejects every outbound
// connection never reaches the bus; a job for it waits max_wait (3 s) and
// fails saying the client must dial NATS, with the passive hint.
func netFirewalledActive(t *testing.T) {
	start := time.Now()
	lab := netlab.New(t, netlab.Direct)
	lab.GuardOutbound("cli", true)
	src := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, NoStart: []string{"c1"}, Clients: []harness.Client{
		{Name: "c1", Include: []string{src}, ClientHCL: `max_wait = "3s"`}}})
	c.StartFD("c1")
	// The fd runs and keeps trying: the guard counts its rejected dials.
	netPoll(t, "the fd's dials are rejected", 15*time.Second, func() bool { return lab.Counter("cli", "new_out") > 0 })
	if c.FDs["c1"].Proc.Exited() {
		t.Fatalf("the firewalled fd exited:\n%s", c.FDs["c1"].Proc.LogText())
	}

	t0 := time.Now()
	r := c.Ferry("run", "backup-c1", "--wait")
	took := time.Since(t0)
	if r.Code != 3 || !strings.Contains(r.Stdout, "client c1 never connected within max_wait 3s") ||
		!strings.Contains(r.Stdout, "if it cannot dial out, set passive") {
		t.Fatalf("exit %d, output %q %q; want a failure saying c1 never connected within max_wait, with the passive hint", r.Code, r.Stdout, r.Stderr)
	}
	if took < 3*time.Second || took > 10*time.Second {
		t.Errorf("the job failed after %v; want about max_wait (3 s)", took)
	}
	t.Logf("job failed after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(r.Stdout))
	netNoUnfinished(t, c)
	if row := netStatusRow(t, c, "c1"); !strings.Contains(row, "offline") || !strings.Contains(row, "dials NATS") {
		t.Errorf("status row of c1 %q: want offline, dials NATS", row)
	}
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// netOfflineQueue: a job for an offline client with max_wait waits for it
// and runs when it comes; one with a short max_wait fails naming the
// client.
func netOfflineQueue(t *testing.T) {
	start := time.Now()
	src := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{NoStart: []string{"c1", "c2"}, Clients: []harness.Client{
		{Name: "c1", Include: []string{src}, ClientHCL: `max_wait = "60s"`},
		{Name: "c2", Include: []string{src}, ClientHCL: `max_wait = "2s"`},
	}})
	id1 := c.StartJob("backup-c1")
	t2 := time.Now()
	id2 := c.StartJob("backup-c2")
	netWaitJobLog(t, c, id1, "waiting up to 1m0s (max_wait of client c1) for client c1")
	c.StartFD("c1")
	if ev := c.WaitEnd(id1); ev.Status != "ok" || ev.Files == 0 {
		t.Errorf("queued job %d ended %s with %d files (%q); want ok", id1, ev.Status, ev.Files, ev.Reason)
	}
	ev := c.WaitEnd(id2)
	took := time.Since(t2)
	if ev.Status != "failed" || !strings.Contains(ev.Reason, "client c2 never connected within max_wait 2s") {
		t.Errorf("job %d ended %s (%q); want failed naming client c2 and its max_wait", id2, ev.Status, ev.Reason)
	}
	if took > 10*time.Second {
		t.Errorf("the job for the client that never came ended after %v; want about 2 s", took)
	}
	t.Logf("job for c2 failed after %v: %s", took.Round(time.Millisecond), ev.Reason)
	netNoUnfinished(t, c)
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// netLinkLoss: a passive client's bus link comes back by itself after the
// fd restarts and after the NATS side restarts; a job queued while the fd
// is down runs when it is back; the logs do not flood meanwhile.
func netLinkLoss(t *testing.T) {
	start := time.Now()
	lab := netlab.New(t, netlab.Direct)
	src := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Lab: lab, Clients: []harness.Client{
		{Name: "c1", Passive: true, Include: []string{src}, ClientHCL: `max_wait = "60s"`}}})
	leaf := c.FDs["c1"].LeafListen
	first := netRunOK(t, c, "first backup")

	// 1. The fd stops and starts again.
	mark, down0 := len(c.Director.LogText()), time.Now()
	c.FDs["c1"].Proc.Stop()
	down := regexp.MustCompile(`fd c1: bus link down since .*: dial ` + regexp.QuoteMeta(leaf) + `: .*refused`)
	netWaitStatus(t, c, "status shows c1's link down with the dial error", 15*time.Second, func(out string) bool {
		return strings.Contains(netRow(out, "c1"), "down since") && down.MatchString(out)
	})
	c.StartFD("c1")
	t0 := time.Now()
	netWaitLinkUp(t, c, "c1")
	t.Logf("link up %v after the fd restarted", time.Since(t0).Round(time.Millisecond))
	netCheckFlood(t, "director", c.Director.LogText()[mark:], time.Since(down0))
	netRunOK(t, c, "backup after the fd restarted")

	// 2. The NATS side (the director's embedded hub) goes away; once the fd
	// has noticed, it comes back.
	fdMark := len(c.FDs["c1"].Proc.LogText())
	fdLog := func() string { return c.FDs["c1"].Proc.LogText()[fdMark:] }
	down0 = time.Now()
	c.Director.Stop()
	netPoll(t, "the fd notices its link is down", 10*time.Second, func() bool {
		return strings.Contains(fdLog(), "bus link down: waiting for the NATS side to dial again")
	})
	c.StartDirector()
	t0 = time.Now()
	netWaitLinkUp(t, c, "c1")
	t.Logf("link up %v after the director restarted", time.Since(t0).Round(time.Millisecond))
	netPoll(t, "the fd logs its link up again", 10*time.Second, func() bool {
		return strings.Contains(fdLog(), "bus link up: the NATS side dialed in")
	})
	netCheckFlood(t, "fd", fdLog(), time.Since(down0))
	netRunOK(t, c, "backup after the director restarted")

	// 3. A job queued while the fd is down runs when it is back. The job
	// starts once status shows the fd offline: until then (3 heartbeat
	// intervals, 6 s) the director still counts the stopped fd's last
	// heartbeat, does not wait, and the job fails at once with "client c1
	// is offline" although max_wait is set (a known gap, reported with this
	// test: waitAgents trusts heartbeats only, not the link state nor a
	// "no responders" answer).
	mark, down0 = len(c.Director.LogText()), time.Now()
	c.FDs["c1"].Proc.Stop()
	netWaitStatus(t, c, "status shows c1 offline", 20*time.Second, func(out string) bool {
		f := strings.Fields(netRow(out, "c1"))
		return len(f) > 3 && f[3] == "offline"
	})
	id := c.StartJob("backup-c1")
	netWaitJobLog(t, c, id, "waiting up to 1m0s (max_wait of client c1) for client c1")
	c.StartFD("c1")
	ev := c.WaitEnd(id)
	if ev.Status != "ok" || ev.Files != first.Files || ev.Bytes != first.Bytes {
		t.Errorf("queued job %d ended %s with %d files, %d bytes (%q); want ok with %d files, %d bytes like the first",
			id, ev.Status, ev.Files, ev.Bytes, ev.Reason, first.Files, first.Bytes)
	}
	netWaitJobLog(t, c, id, "client c1 and storage daemon site1 are online: starting")
	netCheckFlood(t, "director", c.Director.LogText()[mark:], time.Since(down0))
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// netProveCounters shows the guard counts: a dial out of cli raises
// new_out, one to cli's own loopback raises new_out_lo; then both are
// zeroed.
func netProveCounters(t *testing.T, lab *netlab.Lab) {
	t.Helper()
	dial := lab.DialContext("cli")
	for _, addr := range []string{net4(lab.Addr("srv"), 1), net4("127.0.0.1", 1)} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if conn, err := dial(ctx, "tcp", addr); err == nil {
			conn.Close()
		}
		cancel()
	}
	if n := lab.Counter("cli", "new_out"); n == 0 {
		t.Fatalf("a dial from cli to srv left new_out at 0: the guard does not count")
	}
	if n := lab.Counter("cli", "new_out_lo"); n == 0 {
		t.Fatalf("a dial to cli's loopback left new_out_lo at 0: the guard does not count")
	}
	lab.ResetCounters("cli")
	netCountersZero(t, lab, "cli")
}

func net4(host string, port int) string { return host + ":" + strconv.Itoa(port) }

// netCountersZero: host opened no connection, out or over loopback.
func netCountersZero(t *testing.T, lab *netlab.Lab, host string) {
	t.Helper()
	n, lo := lab.Counter(host, "new_out"), lab.Counter(host, "new_out_lo")
	if n != 0 || lo != 0 {
		t.Errorf("%s tried to open connections: new_out=%d new_out_lo=%d, want 0 and 0", host, n, lo)
	}
	t.Logf("outbound connection attempts from the client host %s: %d (and %d over its loopback)", lab.NS(host), n, lo)
}

// netCheckNetns: process pid (the program itself, not ip netns exec) lives
// in host's namespace.
func netCheckNetns(t *testing.T, lab *netlab.Lab, pid int, host string) {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	must(t, err)
	if exe != bin.Ferry {
		t.Errorf("pid %d runs %s, want %s", pid, exe, bin.Ferry)
	}
	ino, err := netlab.ProcessNetns(pid)
	must(t, err)
	if want := lab.NetnsInode(host); ino != want {
		t.Errorf("pid %d is in network namespace %d, want %s's %d", pid, ino, host, want)
	}
}

// netBackupRestore backs up backup-c1 and restores it to target, both with
// data in direction dir; it returns the two job ids.
func netBackupRestore(t *testing.T, c *harness.Cluster, target, dir string) (backup, restore string) {
	t.Helper()
	r := c.Ferry("run", "backup-c1", "--wait")
	mustOK(t, r, "backup")
	if !strings.Contains(r.Stdout, ": ok,") || !strings.Contains(r.Stdout, "data "+dir+" ") {
		t.Errorf("backup did not end plainly ok with data %s: %s", dir, r.Stdout)
	}
	backup = jobID(t, r)
	t.Log(strings.TrimSpace(r.Stdout))
	r = c.Ferry("restore", "--job", backup, "--to", target, "--wait")
	mustOK(t, r, "restore")
	t.Log(strings.TrimSpace(r.Stdout))
	if !strings.Contains(r.Stdout, "data "+dir+" ") {
		t.Errorf("restore does not say data %s: %s", dir, r.Stdout)
	}
	return backup, jobID(t, r)
}

// netRunOK runs backup-c1 and returns its final event.
func netRunOK(t *testing.T, c *harness.Cluster, what string) schemas.JobEvent {
	t.Helper()
	id := c.StartJob("backup-c1")
	ev := c.WaitEnd(id)
	if ev.Status != "ok" || ev.Files == 0 {
		t.Fatalf("%s: job %d ended %s with %d files (%q)", what, id, ev.Status, ev.Files, ev.Reason)
	}
	return ev
}

// netNoUnfinished: no job is left running or waiting.
func netNoUnfinished(t *testing.T, c *harness.Cluster) {
	t.Helper()
	jobs := c.Ferry("jobs")
	mustOK(t, jobs, "ferry jobs")
	if strings.Contains(jobs.Stdout, "running") || strings.Contains(jobs.Stdout, "created") {
		t.Errorf("a job is left unfinished:\n%s", jobs.Stdout)
	}
}

// netPoll polls cond every 100 ms for up to d.
func netPoll(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// netWaitStatus polls `ferry status` until cond holds for its output.
func netWaitStatus(t *testing.T, c *harness.Cluster, what string, d time.Duration, cond func(out string) bool) {
	t.Helper()
	var last string
	deadline := time.Now().Add(d)
	for {
		r := c.Ferry("status")
		last = r.Stdout + r.Stderr
		if r.Code == 0 && cond(r.Stdout) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s; last ferry status:\n%s", d, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// netWaitLinkUp waits until status shows client online with its bus link
// up; it must come back by itself within seconds.
func netWaitLinkUp(t *testing.T, c *harness.Cluster, client string) {
	t.Helper()
	netWaitStatus(t, c, client+"'s bus link up and online", 20*time.Second, func(out string) bool {
		row := netRow(out, client)
		f := strings.Fields(row)
		return len(f) > 3 && f[3] == "online" && strings.Contains(row, "up since")
	})
}

// netRow is the table row of fd name in `ferry status` output.
func netRow(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "fd" && f[1] == name {
			return line
		}
	}
	return ""
}

func netStatusRow(t *testing.T, c *harness.Cluster, name string) string {
	t.Helper()
	r := c.Ferry("status")
	mustOK(t, r, "ferry status")
	return netRow(r.Stdout, name)
}

// netWaitJobLog polls `ferry job ID` until its log has want.
func netWaitJobLog(t *testing.T, c *harness.Cluster, id int64, want string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		last = c.Ferry("job", strconv.FormatInt(id, 10)).Stdout
		if strings.Contains(last, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d's log never said %q:\n%s", id, want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// netLeafWarn matches warnings and errors about leafnodes or the bus link
// in a log.
var netLeafWarn = regexp.MustCompile(`(?m)^.*level=(WARN|ERROR).*([Ll]eafnode|bus link).*$`)

// netCheckFlood: a lost link is reported a handful of times, not at every
// reconnect attempt (the hub redials once a second and reports a repeated
// error once a minute).
func netCheckFlood(t *testing.T, who, log string, outage time.Duration) {
	t.Helper()
	lines := netLeafWarn.FindAllString(log, -1)
	t.Logf("%s logged %d leafnode/link warnings or errors over a %v outage", who, len(lines), outage.Round(100*time.Millisecond))
	if len(lines) > 4 {
		t.Errorf("%s's log floods about the lost link: %d leafnode warnings/errors:\n%s", who, len(lines), strings.Join(lines, "\n"))
	}
}

// netGrep returns the lines of s containing sub.
func netGrep(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
