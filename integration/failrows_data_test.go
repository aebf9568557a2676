package integration

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/testenv"
	"github.com/ferrybackup/ferry/integration/treecmp"
	"github.com/ferrybackup/ferry/schemas"
)

// TestFailureRowsData runs the data-path rows of the failure table: each
// row builds its own cluster, injects its fault at a point the test has
// observed (a progress event inside a file, a handshake seen at a relay, a
// data stream held after its handshake), checks how the job ends and what
// is left on the volume and in the catalog, and then checks that the
// daemons still serve a normal job.
func TestFailureRowsData(t *testing.T) {
	rows := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"wrong session key", rowWrongKey},
		{"garbage on the data port", rowGarbage},
		{"sd volume folder full", rowVolumeFull},
		{"cancel", rowCancel},
		{"max run time", rowMaxRunTime},
		{"no progress", rowNoProgress},
		{"restore target not writable", rowTargetNotWritable},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			start := time.Now()
			defer func() { t.Logf("row %q took %s", r.name, time.Since(start).Round(time.Millisecond)) }()
			r.fn(t)
		})
	}
}

// rowWrongKey: while two jobs' real handshakes are half done (the fds'
// proofs held at a gate in front of the sd, so both keys are live), the
// test dials the sd's data port with (a) a proof made with a wrong key,
// (b) a replay of job A's recorded hello and proof, (c) a correct-looking
// proof for job B made with job A's key; after the real handshakes
// completed (the keys burnt) it replays job A's handshake once more (d).
// Every attempt is closed without the acceptance byte and logged with its
// reason; both real jobs then end ok with their totals.
//
// The attempts are made on the plain handshake, so the cluster runs
// insecure: a test can compute plain proofs, not TLS ones. The same
// refusals with TLS (wrong key, replay on another connection, another
// job's key, a wrong peer certificate, an impostor listener) are
// datapath's TestTLSListener and TestDialImpostor, on real sockets.
func rowWrongKey(t *testing.T) {
	work := t.TempDir()
	srcA := filepath.Join(work, "a")
	srcB := filepath.Join(work, "b")
	must(t, os.MkdirAll(srcA, 0o755))
	must(t, os.MkdirAll(srcB, 0o755))
	writeRandom(t, filepath.Join(srcA, "big.rand"), 64<<20)
	writeRandom(t, filepath.Join(srcB, "small.rand"), 1<<20)
	c := harness.NewCluster(t, bin, harness.Options{Insecure: true, Clients: []harness.Client{
		{Name: "a1", Include: []string{srcA}},
		{Name: "a2", Include: []string{srcB}},
	}})
	keys := frCaptureKeys(t, c)
	gate := frNewGate(t, c.SDListen)
	c.SDRelay.SetUpstream(gate.Addr())

	started := time.Now()
	idA := c.StartJob("backup-a1")
	idB := c.StartJob("backup-a2")
	// Observed: both fds sent hello and proof (the relay recorded 81 bytes
	// each); the gate let only the hellos through, so the sd holds both
	// keys and waits for the proofs.
	heads := map[int64][]byte{}
	waitUntil(t, "both fds sent their whole handshake", func() bool {
		for i := range c.SDRelay.Connections() {
			if h := c.SDRelay.Head(i); len(h) >= 81 {
				heads[int64(binary.LittleEndian.Uint64(h[9:17]))] = h[:81]
			}
		}
		return heads[idA] != nil && heads[idB] != nil
	})
	keyA, keyB := keys.get(t, idA), keys.get(t, idB)
	headA := heads[idA]
	sdAddr := c.SDListen

	// (a) the running job's id, a fresh nonce, a proof made with a wrong key.
	wrongKey := datapath.NewKey()
	a := frAttempt(t, sdAddr, frHello(datapath.RoleFD, uint64(idA), nil), func(hello, ch []byte) []byte {
		frCheckChallenge(t, "(a)", keyA, hello, ch)
		return frProof(wrongKey, "dialer", hello, ch)
	})
	a.refusedAfterProof(t, "(a) wrong key")

	// (b) replay of job A's recorded hello and proof.
	b := frAttempt(t, sdAddr, headA[:49], func(hello, ch []byte) []byte {
		frCheckChallenge(t, "(b)", keyA, hello, ch)
		return headA[49:81]
	})
	b.refusedAfterProof(t, "(b) replay")

	// (c) job B's id, with a proof computed correctly but with job A's key.
	helloC := append([]byte(nil), headA[:49]...)
	binary.LittleEndian.PutUint64(helloC[9:17], uint64(idB))
	cc := frAttempt(t, sdAddr, helloC, func(hello, ch []byte) []byte {
		frCheckChallenge(t, "(c)", keyB, hello, ch)
		return frProof(keyA, "dialer", hello, ch)
	})
	cc.refusedAfterProof(t, "(c) key of another job")

	gate.releaseProofs()
	t.Logf("proofs held for at most %s (from the first job's start)", time.Since(started).Round(time.Millisecond))
	// Observed: the sd accepted both real connections: the keys are burnt.
	waitUntil(t, "the sd accepted both real data connections", func() bool {
		log := c.SD.LogText()
		return frLogHas(log, "data connection accepted", "job", idA) && frLogHas(log, "data connection accepted", "job", idB)
	})
	// (d) job A's handshake replayed after the key was used: refused at the hello.
	d := frAttempt(t, sdAddr, headA[:49], func(hello, ch []byte) []byte {
		t.Errorf("(d) replay after the key was used: the sd sent a challenge for job %d", idA)
		return headA[49:81]
	})
	if d.challenge != nil || len(d.rest) != 0 || d.err != nil {
		t.Errorf("(d) replay after use: got challenge=%d bytes, then %q, end %v; want the connection closed at the hello", len(d.challenge), d.rest, d.err)
	}

	// Each attempt is logged with its peer, job and reason.
	refusals := []struct {
		what   string
		at     frAttemptResult
		job    int64
		reason string
	}{
		{"(a)", a, idA, "session key proof does not match"},
		{"(b)", b, idA, "session key proof does not match"},
		{"(c)", cc, idB, "session key proof does not match"},
		{"(d)", d, idA, "session key already used (replay)"},
	}
	for _, r := range refusals {
		waitUntil(t, "the sd logged refusal "+r.what, func() bool {
			return frRefusalLogged(c.SD.LogText(), r.at.peer, r.job, r.reason)
		})
	}

	gate.releaseData()
	// The real jobs are unaffected: ok, with the totals of an undisturbed
	// run (both trees are one file at the same depth: same entry count).
	r := c.Ferry("run", "backup-a2", "--wait")
	mustOK(t, r, "undisturbed backup-a2")
	m := regexp.MustCompile(`: ok, (\d+) files`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no file count in %q", r.Stdout)
	}
	files, _ := strconv.ParseInt(m[1], 10, 64)
	for id, want := range map[int64]int64{idA: 64 << 20, idB: 1 << 20} {
		ev := c.WaitEnd(id)
		if ev.Status != "ok" || ev.Bytes != want || ev.Files != files {
			t.Errorf("real job %d ended %s with %d files, %d bytes (%s); want ok with %d files, %d bytes", id, ev.Status, ev.Files, ev.Bytes, ev.Reason, files, want)
		}
	}
	if n := strings.Count(c.SD.LogText(), `msg="data connection accepted"`); n != 3 {
		t.Errorf("the sd accepted %d data connections, want exactly the 3 real ones", n)
	}
}

// rowGarbage: an HTTP request on the data port is closed at once; a
// connection that sends nothing is closed after the handshake timeout. A
// normal job runs while the silent connection holds its handshake slot,
// and again afterwards.
func rowGarbage(t *testing.T) {
	src := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})

	silent, err := net.Dial("tcp", c.SDListen)
	must(t, err)
	defer silent.Close()
	silentStart := time.Now()
	type end struct {
		n   int
		err error
		at  time.Duration
	}
	silentEnd := make(chan end, 1)
	go func() {
		_ = silent.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := io.Copy(io.Discard, silent)
		silentEnd <- end{int(n), err, time.Since(silentStart)}
	}()

	g, err := net.Dial("tcp", c.SDListen)
	must(t, err)
	defer g.Close()
	gStart := time.Now()
	_, err = g.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	must(t, err)
	_ = g.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(g)
	if frTimeout(err) {
		t.Fatalf("the sd did not close an HTTP request on the data port within 2 s")
	}
	if len(got) != 0 {
		t.Errorf("the sd answered garbage with %q", got)
	}
	t.Logf("garbage closed after %s", time.Since(gStart).Round(time.Millisecond))
	waitUntil(t, "the sd logged the garbage", func() bool {
		return frRefusalLogged(c.SD.LogText(), g.LocalAddr().String(), 0, "not a TLS connection")
	})

	mustRun(t, c, "backup-c1") // while the silent connection waits for its hello
	select {
	case e := <-silentEnd:
		silentEnd <- e
		t.Logf("note: the silent connection had ended (after %s) before the normal job did", e.at)
	default:
		t.Logf("a normal job ran while the silent connection held its handshake slot")
	}

	e := <-silentEnd
	t.Logf("silent connection closed after %s", e.at.Round(time.Millisecond))
	switch {
	case frTimeout(e.err):
		t.Errorf("the sd kept a silent connection open for 30 s")
	case e.at > 15*time.Second:
		t.Errorf("the sd closed a silent connection after %s, want within the %s handshake timeout (+5 s)", e.at, datapath.HandshakeTimeout)
	case e.at < datapath.HandshakeTimeout-time.Second:
		t.Errorf("the sd closed a silent connection after %s, before the %s handshake timeout", e.at, datapath.HandshakeTimeout)
	}
	if e.n != 0 {
		t.Errorf("the sd sent %d bytes to a silent connection", e.n)
	}
	waitUntil(t, "the sd logged the silent connection", func() bool {
		return frRefusalLogged(c.SD.LogText(), silent.LocalAddr().String(), 0, "i/o timeout")
	})
	mustRun(t, c, "backup-c1")
}

// rowVolumeFull: the sd's volume folder is a 24 MiB tmpfs. A small backup
// fits; a 40 MiB backup fails naming the volume and "no space", leaves no
// file rows, and the small backup still restores. Once the folder has room
// again, the same sd takes a new backup without a restart.
func rowVolumeFull(t *testing.T) {
	testenv.RequireRoot(t)
	work := t.TempDir()
	vdir := filepath.Join(work, "volumes")
	must(t, os.MkdirAll(vdir, 0o700))
	must(t, unix.Mount("tmpfs", vdir, "tmpfs", 0, "size=24m"))
	t.Cleanup(func() { _ = unix.Unmount(vdir, unix.MNT_DETACH) })
	small := harness.SimpleTree(t, filepath.Join(work, "small"))
	bigSrc := filepath.Join(work, "big")
	must(t, os.MkdirAll(bigSrc, 0o755))
	writeRandom(t, filepath.Join(bigSrc, "big.rand"), 40<<20)
	c := harness.NewCluster(t, bin, harness.Options{VolumeDir: vdir, Clients: []harness.Client{
		{Name: "a1", Include: []string{small}},
		{Name: "a2", Include: []string{bigSrc}},
	}})

	first := mustRun(t, c, "backup-a1")
	id := c.StartJob("backup-a2")
	ev := c.WaitEnd(id)
	t.Logf("job %d: %s: %s", id, ev.Status, ev.Reason)
	if ev.Status != "failed" || !strings.Contains(ev.Reason, "no space") {
		t.Errorf("backup into a full folder ended %s (%q); want failed saying no space", ev.Status, ev.Reason)
	}
	vols := frVolumes(t, vdir)
	named := ""
	for _, v := range vols {
		if strings.Contains(ev.Reason, v) {
			named = v
		}
	}
	if named == "" {
		t.Errorf("reason %q names none of the volumes %v", ev.Reason, vols)
	}
	if rows := c.JobFiles(id); len(rows) != 0 {
		t.Errorf("failed job %d has %d file rows in the catalog", id, len(rows))
	}
	ls := c.Ferry("volume", "ls", filepath.Join(vdir, "site1-0001"))
	if !regexp.MustCompile(`(?m)^job ` + first + `  offsets \d+-\d+  ok `).MatchString(ls.Stdout) {
		t.Errorf("the first session is not intact on site1-0001:\n%s%s", ls.Stdout, ls.Stderr)
	}
	t.Logf("volume ls after the failure:\n%s%s", ls.Stdout, ls.Stderr)

	target := filepath.Join(t.TempDir(), "r")
	mustOK(t, c.Ferry("restore", "--job", first, "--to", target, "--wait"), "restore of the earlier backup")
	treecmp.Equal(t, small, filepath.Join(target, small), treecmp.Options{DirMtimes: true, Owner: true})

	// The operator makes room: the same sd takes the big backup.
	must(t, unix.Mount("tmpfs", vdir, "tmpfs", unix.MS_REMOUNT, "size=128m"))
	mustRun(t, c, "backup-a2")
}

// rowCancel: `ferry cancel` during a bandwidth-limited backup and during a
// bandwidth-limited restore, each after a progress event inside the big
// file: it returns within 10 s, the job ends canceled, the backup leaves no
// file rows and its session ends with a "canceled" end record.
func rowCancel(t *testing.T) {
	const size = 64 << 20
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	writeRandom(t, filepath.Join(src, "big.rand"), size)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{
		{Name: "slow", Include: []string{src}, JobHCL: `max_bandwidth = "2MiB"`},
		{Name: "fast", Include: []string{src}},
	}})
	prog := frWatchProgress(t, c)

	id := c.StartJob("backup-slow")
	p := prog.waitInside(t, id, "/big.rand", size)
	t.Logf("backup %d: canceling at %d of %d bytes", id, p.Bytes, size)
	frCancel(t, c, id)
	if rows := c.JobFiles(id); len(rows) != 0 {
		t.Errorf("canceled job %d has %d file rows", id, len(rows))
	}
	vol := filepath.Join(c.Dir, "volumes", "site1-0001")
	frSessionStatus(t, c, vol, id, "canceled")

	backup := mustRun(t, c, "backup-fast")
	target := filepath.Join(t.TempDir(), "r")
	r := c.Ferry("restore", "--job", backup, "--to", target, "--bandwidth", "2MiB")
	mustOK(t, r, "restore")
	m := startedRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("restore without --wait printed %q", r.Stdout)
	}
	rid, _ := strconv.ParseInt(m[1], 10, 64)
	p = prog.waitInside(t, rid, "/big.rand", size)
	t.Logf("restore %d: canceling at %d of %d bytes", rid, p.Bytes, size)
	frCancel(t, c, rid)

	target2 := filepath.Join(t.TempDir(), "r")
	mustOK(t, c.Ferry("restore", "--job", backup, "--to", target2, "--wait"), "restore after the canceled one")
	treecmp.Equal(t, src, filepath.Join(target2, src), treecmp.Options{DirMtimes: true, Owner: os.Geteuid() == 0})
}

// frCancel runs `ferry cancel id` and checks it returned 0 within 10 s and
// that the job ended canceled.
func frCancel(t *testing.T, c *harness.Cluster, id int64) {
	t.Helper()
	start := time.Now()
	r := c.Ferry("cancel", strconv.FormatInt(id, 10))
	took := time.Since(start)
	t.Logf("ferry cancel %d returned after %s", id, took.Round(time.Millisecond))
	mustOK(t, r, "ferry cancel")
	if took > 10*time.Second {
		t.Errorf("ferry cancel %d took %s, want within 10 s", id, took)
	}
	if ev := c.WaitEnd(id); ev.Status != "canceled" || ev.Event != schemas.EventCanceled {
		t.Errorf("job %d ended %s/%s (%s), want canceled", id, ev.Event, ev.Status, ev.Reason)
	}
}

// rowMaxRunTime: a job with max_run_time = 3s that needs 32 s fails within
// 20 s of its start, saying so; its session on the volume has an end record.
func rowMaxRunTime(t *testing.T) {
	const size = 64 << 20
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	writeRandom(t, filepath.Join(src, "big.rand"), size)
	plain := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{
		{Name: "lim", Include: []string{src}, JobHCL: `max_run_time = "3s"
  max_bandwidth = "2MiB"`},
		{Name: "plain", Include: []string{plain}},
	}})
	prog := frWatchProgress(t, c)
	start := time.Now()
	id := c.StartJob("backup-lim")
	p := prog.waitInside(t, id, "/big.rand", size)
	t.Logf("job %d streaming: %d bytes after %s", id, p.Bytes, time.Since(start).Round(time.Millisecond))
	ev := c.WaitEnd(id)
	took := time.Since(start)
	t.Logf("job %d ended %s after %s: %s", id, ev.Status, took.Round(time.Millisecond), ev.Reason)
	if ev.Status != "failed" || !strings.Contains(ev.Reason, "max run time") {
		t.Errorf("job %d ended %s (%q), want failed for its max run time", id, ev.Status, ev.Reason)
	}
	if took > 20*time.Second || took < 3*time.Second {
		t.Errorf("job %d with max_run_time 3s ended %s after its start, want between 3 s and 20 s", id, took)
	}
	if rows := c.JobFiles(id); len(rows) != 0 {
		t.Errorf("failed job %d has %d file rows", id, len(rows))
	}
	frSessionStatus(t, c, filepath.Join(c.Dir, "volumes", "site1-0001"), id, "failed")
	mustRun(t, c, "backup-plain")
}

// rowNoProgress: the fd is stopped (SIGSTOP) after a progress event inside
// the big file; the job fails within 25 s naming the timeout and the file in
// flight. Once continued, the fd serves a restore.
func rowNoProgress(t *testing.T) {
	const size = 64 << 20
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	writeRandom(t, filepath.Join(src, "big.rand"), size)
	plain := harness.SimpleTree(t, t.TempDir())
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{
		{Name: "lim", Include: []string{src}, JobHCL: `no_progress_timeout = "4s"
  max_bandwidth = "4MiB"`},
		{Name: "plain", Include: []string{plain}},
	}})
	fdPid := c.FDs["lim"].Proc.Pid()
	t.Cleanup(func() { _ = syscall.Kill(fdPid, syscall.SIGCONT) })
	prog := frWatchProgress(t, c)

	id := c.StartJob("backup-lim")
	p := prog.waitInside(t, id, "/big.rand", size)
	must(t, syscall.Kill(fdPid, syscall.SIGSTOP))
	stopped := time.Now()
	t.Logf("fd stopped at %d of %d bytes", p.Bytes, size)
	ev := c.WaitEnd(id)
	took := time.Since(stopped)
	t.Logf("job %d ended %s %s after the stop: %s", id, ev.Status, took.Round(time.Millisecond), ev.Reason)
	if ev.Status != "failed" || !strings.Contains(ev.Reason, "no progress") || !strings.Contains(ev.Reason, "big.rand") {
		t.Errorf("job %d ended %s (%q); want failed saying no progress and naming big.rand", id, ev.Status, ev.Reason)
	}
	if took > 25*time.Second || took < 3*time.Second {
		t.Errorf("job %d ended %s after its fd stopped; want between 3 s and 25 s (no_progress_timeout 4s)", id, took)
	}
	if rows := c.JobFiles(id); len(rows) != 0 {
		t.Errorf("failed job %d has %d file rows", id, len(rows))
	}
	frSessionStatus(t, c, filepath.Join(c.Dir, "volumes", "site1-0001"), id, "failed")

	must(t, syscall.Kill(fdPid, syscall.SIGCONT))
	c.WaitOnline("lim")
	backup := mustRun(t, c, "backup-plain")
	target := filepath.Join(t.TempDir(), "r")
	mustOK(t, c.Ferry("restore", "--job", backup, "--client", "lim", "--to", target, "--wait"), "restore on the continued fd")
	treecmp.Equal(t, plain, filepath.Join(target, plain), treecmp.Options{DirMtimes: true, Owner: os.Geteuid() == 0})
}

// rowTargetNotWritable: a restore below a read-only mount fails naming the
// path and the read-only file system, and writes nothing: neither in the
// mount nor next to it. The fd then restores to a writable folder.
func rowTargetNotWritable(t *testing.T) {
	testenv.RequireRoot(t)
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
	backup := mustRun(t, c, "backup-c1")

	parent := t.TempDir()
	must(t, os.WriteFile(filepath.Join(parent, "neighbour"), []byte("x"), 0o644))
	mnt := filepath.Join(parent, "ro")
	must(t, os.Mkdir(mnt, 0o755))
	must(t, unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_RDONLY, "size=1m"))
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	before := frSnapshot(t, parent)

	target := filepath.Join(mnt, "sub")
	r := c.Ferry("restore", "--job", backup, "--to", target)
	mustOK(t, r, "restore")
	m := startedRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("restore without --wait printed %q", r.Stdout)
	}
	rid, _ := strconv.ParseInt(m[1], 10, 64)
	ev := c.WaitEnd(rid)
	t.Logf("restore %d: %s: %s", rid, ev.Status, ev.Reason)
	if ev.Status != "failed" || !strings.Contains(ev.Reason, target) || !strings.Contains(ev.Reason, "read-only") {
		t.Errorf("restore to %s ended %s (%q); want failed naming the path and the read-only file system", target, ev.Status, ev.Reason)
	}
	if after := frSnapshot(t, parent); after != before {
		t.Errorf("the restore changed the folder holding the mount:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if ents, err := os.ReadDir(mnt); err != nil || len(ents) != 0 {
		t.Errorf("the read-only mount is not empty: %v %v", ents, err)
	}

	ok := filepath.Join(t.TempDir(), "r")
	mustOK(t, c.Ferry("restore", "--job", backup, "--to", ok, "--wait"), "restore to a writable folder")
	treecmp.Equal(t, src, filepath.Join(ok, src), treecmp.Options{DirMtimes: true, Owner: true})
}

// --- helpers ---

// frGate sits between the sd relay and the sd. Each connection's dialer
// stream passes its 49-byte hello, then waits for releaseProofs before the
// 32-byte proof, then for releaseData before the rest; the sd's answers
// pass freely. The sd thus holds a live key whose handshake is half done.
type frGate struct {
	ln       net.Listener
	upstream string
	proofs   chan struct{}
	data     chan struct{}
	once     [2]sync.Once
}

func frNewGate(t *testing.T, upstream string) *frGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	g := &frGate{ln: ln, upstream: upstream, proofs: make(chan struct{}), data: make(chan struct{})}
	go g.serve()
	t.Cleanup(func() { ln.Close(); g.releaseProofs(); g.releaseData() })
	return g
}

func (g *frGate) Addr() string   { return g.ln.Addr().String() }
func (g *frGate) releaseProofs() { g.once[0].Do(func() { close(g.proofs) }) }
func (g *frGate) releaseData()   { g.once[1].Do(func() { close(g.data) }) }

func (g *frGate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.pipe(c)
	}
}

func (g *frGate) pipe(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", g.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, u)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	steps := []struct {
		n    int64
		gate chan struct{}
	}{{49, g.proofs}, {32, g.data}}
	ok := true
	for _, s := range steps {
		if _, err := io.CopyN(u, c, s.n); err != nil {
			ok = false
			break
		}
		<-s.gate
	}
	if ok {
		_, _ = io.Copy(u, c)
	}
	if tu, ok := u.(*net.TCPConn); ok {
		_ = tu.CloseWrite()
	}
	<-done
}

// frKeys records the session keys the director hands to the fds, read
// from the test's own subscription to the fds' prepare subject.
type frKeys struct {
	mu   sync.Mutex
	keys map[int64][]byte
}

func frCaptureKeys(t *testing.T, c *harness.Cluster) *frKeys {
	t.Helper()
	k := &frKeys{keys: map[int64][]byte{}}
	nc, err := nats.Connect(c.NATSURL)
	must(t, err)
	t.Cleanup(nc.Close)
	_, err = nc.Subscribe("ferry.fd.*.prepare", func(m *nats.Msg) {
		req, err := schemas.Decode[schemas.PrepareJob](m.Data)
		if err != nil {
			return
		}
		k.mu.Lock()
		k.keys[req.JobID] = req.Key
		k.mu.Unlock()
	})
	must(t, err)
	must(t, nc.Flush())
	return k
}

func (k *frKeys) get(t *testing.T, id int64) []byte {
	t.Helper()
	var key []byte
	waitUntil(t, fmt.Sprintf("the key of job %d was seen", id), func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		key = k.keys[id]
		return key != nil
	})
	return key
}

// frHello builds a dialer's hello; a nil nonce is a fresh random one.
func frHello(role datapath.Role, job uint64, nonce []byte) []byte {
	if nonce == nil {
		nonce = make([]byte, 32)
		_, _ = rand.Read(nonce)
	}
	h := append([]byte("FERRYDP1"), byte(role))
	h = binary.LittleEndian.AppendUint64(h, job)
	return append(h, nonce...)
}

// frProof computes mac(who) of datapath/handshake.go for a hello and the
// listener's challenge, with key.
func frProof(key []byte, who string, hello, challenge []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ferry-data-v1"))
	m.Write([]byte(who))
	m.Write(hello[8:9])   // role
	m.Write(hello[9:17])  // job
	m.Write(hello[17:49]) // nonceD
	m.Write(challenge[:32])
	return m.Sum(nil)
}

// frCheckChallenge: the challenge carries the listener's proof for the
// job's real key, so the sd answered from that job's live expectation.
func frCheckChallenge(t *testing.T, what string, key, hello, ch []byte) {
	t.Helper()
	if !hmac.Equal(ch[32:64], frProof(key, "listener", hello, ch)) {
		t.Errorf("%s: the sd's challenge is not proved with the job's key", what)
	}
}

type frAttemptResult struct {
	peer      string // the test's local address, as the sd logs it
	challenge []byte // the sd's 64-byte challenge, nil if it closed before
	rest      []byte // what the sd sent after the proof (0x01 means accepted)
	err       error  // how the read ended: nil (EOF) or reset; a timeout means the sd kept it open
}

// frAttempt dials addr, sends hello, and if a challenge comes, answers with
// prove(hello, challenge); then reads until the sd closes (at most 15 s).
func frAttempt(t *testing.T, addr string, hello []byte, prove func(hello, challenge []byte) []byte) frAttemptResult {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	must(t, err)
	defer conn.Close()
	res := frAttemptResult{peer: conn.LocalAddr().String()}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	_, err = conn.Write(hello)
	must(t, err)
	ch := make([]byte, 64)
	n, err := io.ReadFull(conn, ch)
	if err != nil {
		res.rest, res.err = ch[:n], frEOF(err)
		return res
	}
	res.challenge = ch
	if _, err := conn.Write(prove(hello, ch)); err != nil {
		res.err = err
		return res
	}
	res.rest, err = io.ReadAll(conn)
	res.err = frEOF(err)
	return res
}

// refusedAfterProof: the sd sent a challenge, read the proof, and closed
// without the acceptance byte.
func (r frAttemptResult) refusedAfterProof(t *testing.T, what string) {
	t.Helper()
	switch {
	case r.challenge == nil:
		t.Errorf("%s: the sd closed before its challenge (got %q, %v); the job's key should still be live", what, r.rest, r.err)
	case bytes.Contains(r.rest, []byte{1}):
		t.Errorf("%s: the sd ACCEPTED the connection (sent %q)", what, r.rest)
	case len(r.rest) != 0:
		t.Errorf("%s: the sd sent %q after the proof", what, r.rest)
	case frTimeout(r.err):
		t.Errorf("%s: the sd kept the connection open after a bad proof", what)
	}
}

func frEOF(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

func frTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// frLogHas reports a log line with msg and key=value.
func frLogHas(log, msg, key string, value int64) bool {
	return regexp.MustCompile(`msg="` + regexp.QuoteMeta(msg) + `".* ` + key + `=` + strconv.FormatInt(value, 10) + `\b`).MatchString(log)
}

// frRefusalLogged reports a "data connection refused" line for peer and
// job whose reason contains reason.
func frRefusalLogged(log, peer string, job int64, reason string) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `msg="data connection refused"`) && strings.Contains(line, "peer="+peer+" ") &&
			strings.Contains(line, " job="+strconv.FormatInt(job, 10)+" ") && strings.Contains(line, reason) {
			return true
		}
	}
	return false
}

// frProgress collects every job's progress; waitInside filters by job.
type frProgress struct{ ch chan schemas.Progress }

func frWatchProgress(t *testing.T, c *harness.Cluster) *frProgress {
	t.Helper()
	p := &frProgress{ch: make(chan schemas.Progress, 4096)}
	sub, err := bus.Subscribe(c.Bus(), schemas.JobProgress, schemas.JobProgress.Wildcard(), func(_ string, m schemas.Progress) {
		select {
		case p.ch <- m:
		default:
		}
	})
	must(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return p
}

// waitInside returns the first progress of job id inside the file ending
// in suffix: 0 < bytes < total.
func (p *frProgress) waitInside(t *testing.T, id int64, suffix string, total int64) schemas.Progress {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case m := <-p.ch:
			if m.JobID == id && m.Bytes > 0 && m.Bytes < total && bytes.HasSuffix(m.Path, []byte(suffix)) {
				return m
			}
		case <-timeout:
			t.Fatalf("no progress of job %d inside %q within a minute", id, suffix)
		}
	}
}

// frSessionStatus checks that `ferry volume ls` shows job id's session on
// vol with an end record of status want.
func frSessionStatus(t *testing.T, c *harness.Cluster, vol string, id int64, want string) {
	t.Helper()
	ls := c.Ferry("volume", "ls", vol)
	line := regexp.MustCompile(`(?m)^job ` + strconv.FormatInt(id, 10) + `  offsets .*$`).FindString(ls.Stdout)
	if line == "" || !strings.Contains(line, "  "+want+"  ") {
		t.Errorf("ferry volume ls does not show job %d's session as %s (line %q):\n%s%s", id, want, line, ls.Stdout, ls.Stderr)
	}
}

// frVolumes lists the files in the volume folder.
func frVolumes(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// frSnapshot describes every entry below dir (name, type, mode, size,
// mtime), sorted.
func frSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %s %d %d", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	must(t, err)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
