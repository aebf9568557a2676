package integration

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/integration/harness"
)

// rowRefused: the data address refuses the connection. Whoever dials, the
// job fails within the connect timeout, naming who dialed whom at which
// address and pointing at the passive setting.
func rowRefused(t *testing.T) {
	for _, mode := range []string{"passive", "active"} {
		t.Run(mode, func(t *testing.T) {
			src := harness.SimpleTree(t, t.TempDir())
			c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Passive: mode == "passive", Include: []string{src}}}})
			relay, want := c.SDRelay, `fd c1 dialed sd site1 at 127\.0\.0\.1:\d+ .*connection refused.*set passive = true on client c1`
			if mode == "passive" {
				relay, want = c.FDs["c1"].Relay, `sd site1 dialed fd c1 at 127\.0\.0\.1:\d+ .*connection refused.*passive`
			}
			relay.Close()
			start := time.Now()
			r := c.Ferry("run", "backup-c1", "--wait")
			if r.Code != 3 || !regexp.MustCompile(want).MatchString(r.Stdout) {
				t.Fatalf("exit %d, output %q; want a failure matching %s", r.Code, r.Stdout, want)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v: not within the connect timeout", d)
			}
		})
	}
}

// killCluster: an active client with a 64 MiB file whose stream the relay
// holds after 16 MiB, with a progress event observed inside the file.
func killCluster(t *testing.T) (*harness.Cluster, string, int64) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	writeRandom(t, filepath.Join(src, "zz-big"), 64<<20)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
	prog := c.WatchProgress()
	c.SDRelay.HoldAfter(16 << 20)
	id := c.StartJob("backup-c1")
	if p := prog.WaitFor("/zz-big"); p.Bytes >= 64<<20+3<<20 {
		t.Fatalf("progress %d bytes: the job was not caught mid-file", p.Bytes)
	}
	return c, src, id
}

// afterKill: the job failed with a reason, kept no file rows, and the
// next job works.
func afterKill(t *testing.T, c *harness.Cluster, id int64, reason string) {
	t.Helper()
	ev := c.WaitEnd(id)
	if ev.Status != "failed" || !strings.Contains(ev.Reason, reason) {
		t.Fatalf("job ended %s (%q); want failed naming %q", ev.Status, ev.Reason, reason)
	}
	if n := len(c.JobFiles(id)); n != 0 {
		t.Errorf("failed job kept %d file rows", n)
	}
	mustRun(t, c, "backup-c1")
}

// rowFDKilled: the fd dies mid-backup; the sd closes the session with an
// end record (volume ls shows it failed, not incomplete).
func rowFDKilled(t *testing.T) {
	c, _, id := killCluster(t)
	c.FDs["c1"].Proc.Kill()
	c.SDRelay.Open()
	c.StartFD("c1")
	c.WaitOnline("c1")
	afterKill(t, c, id, "client c1")
	ls := c.Ferry("volume", "ls", filepath.Join(c.Dir, "volumes", "site1-0001"))
	if !regexp.MustCompile(`job ` + strconv.FormatInt(id, 10) + `\b.*failed`).MatchString(ls.Stdout) {
		t.Errorf("volume ls does not show job %d's session closed as failed:\n%s", id, ls.Stdout)
	}
}

// rowSDKilled: the sd dies mid-backup; its session stays incomplete (or
// its torn tail is cut when the sd reopens the volume) and the next job,
// after the sd restarts, works.
func rowSDKilled(t *testing.T) {
	c, _, id := killCluster(t)
	c.SD.Kill()
	c.SDRelay.Open()
	c.StartSD()
	c.WaitOnline("site1")
	afterKill(t, c, id, "")
}

// rowNATSRestarted: the external NATS server restarts mid-job. The
// transfer finishes or fails with a reason; no job stays running.
func rowNATSRestarted(t *testing.T) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	writeRandom(t, filepath.Join(src, "zz-big"), 64<<20)
	c := harness.NewCluster(t, bin, harness.Options{ExternalNATS: true, Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
	prog := c.WatchProgress()
	c.SDRelay.HoldAfter(16 << 20)
	id := c.StartJob("backup-c1")
	prog.WaitFor("/zz-big")
	c.NATS.Stop()
	c.StartNATS()
	c.WaitOnline("site1", "c1")
	c.SDRelay.Open()
	ev := c.WaitEnd(id)
	if ev.Status != "ok" && (ev.Status != "failed" || ev.Reason == "") {
		t.Fatalf("job ended %s (%q): want ok, or failed with a reason", ev.Status, ev.Reason)
	}
	if jobs := c.Ferry("jobs").Stdout; strings.Contains(jobs, "running") || strings.Contains(jobs, "created") {
		t.Errorf("a job stays unfinished:\n%s", jobs)
	}
	mustRun(t, c, "backup-c1")
}

// rowDirectorRestarted: the director (and its embedded NATS server) is
// killed mid-job and restarted: the job ends failed "director restarted",
// the agents are told to abort it, the next job works.
func rowDirectorRestarted(t *testing.T) {
	c, _, id := killCluster(t)
	c.Director.Kill()
	c.StartDirector()
	c.WaitOnline("site1", "c1")
	ev := c.WaitEnd(id)
	if ev.Status != "failed" || !strings.Contains(ev.Reason, "director restarted") {
		t.Fatalf("job ended %s (%q); want failed: director restarted", ev.Status, ev.Reason)
	}
	waitUntil(t, "both agents aborted the job", func() bool {
		return strings.Contains(c.SD.LogText(), "session aborted by the director") &&
			strings.Contains(c.FDs["c1"].Proc.LogText(), "job aborted by the director")
	})
	c.SDRelay.Open()
	mustRun(t, c, "backup-c1")
}
