package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/treecmp"
)

// crashCluster is one active client with a 64 MiB file to back up.
func crashCluster(t *testing.T) (*harness.Cluster, string) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	writeRandom(t, filepath.Join(src, "big.rand"), 64<<20)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
	return c, src
}

// TestSDKilledWhileWriting: the sd dies while a session is being written.
// The session stays incomplete on the volume (ferry volume ls says so), the
// earlier session restores, and the restarted sd appends the next job.
func TestSDKilledWhileWriting(t *testing.T) {
	c, src := crashCluster(t)
	first := mustRun(t, c, "backup-c1")
	vol := filepath.Join(c.Dir, "volumes", "site1-0001")
	size0 := fileSize(t, vol)

	c.SDRelay.HoldAfter(16 << 20)
	id := c.StartJob("backup-c1")
	waitUntil(t, "the sd wrote part of the second session", func() bool { return fileSize(t, vol) > size0+8<<20 })
	c.SD.Kill()
	c.SDRelay.Open()
	if ev := c.WaitEnd(id); ev.Status != "failed" {
		t.Fatalf("job %d with its sd killed ended %s", id, ev.Status)
	}

	ls := c.Ferry("volume", "ls", vol)
	if !regexp.MustCompile(`(?m)^.*job ` + strconv.FormatInt(id, 10) + `\b.*INCOMPLETE`).MatchString(ls.Stdout) {
		t.Errorf("ferry volume ls does not show job %d as incomplete:\n%s%s", id, ls.Stdout, ls.Stderr)
	}

	c.StartSD()
	c.WaitOnline("site1")
	next := mustRun(t, c, "backup-c1")
	for _, job := range []string{first, next} {
		target := filepath.Join(t.TempDir(), "r")
		mustOK(t, c.Ferry("restore", "--job", job, "--to", target, "--wait"), "restore of job "+job)
		treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{DirMtimes: true})
	}
}

// TestTornVolumeTail: a volume cut in the middle of its last block with
// garbage appended is cut back to the last whole block when the sd next
// opens it, the cut is logged with its offset, earlier sessions restore and
// ferry volume ls shows the damaged session as incomplete.
func TestTornVolumeTail(t *testing.T) {
	c, src := crashCluster(t)
	first := mustRun(t, c, "backup-c1")
	second := mustRun(t, c, "backup-c1")
	c.SD.Stop()
	vol := filepath.Join(c.Dir, "volumes", "site1-0001")
	size := fileSize(t, vol)
	must(t, os.Truncate(vol, size-20)) // inside the second session's end block
	f, err := os.OpenFile(vol, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.Write([]byte(strings.Repeat("garbage!", 512)))
	must(t, err)
	must(t, f.Close())

	ls := c.Ferry("volume", "ls", vol)
	if !regexp.MustCompile(`(?m)job ` + second + `\b.*INCOMPLETE`).MatchString(ls.Stdout) {
		t.Errorf("ferry volume ls does not show job %s as incomplete:\n%s%s", second, ls.Stdout, ls.Stderr)
	}
	c.StartSD()
	c.WaitOnline("site1")
	mustRun(t, c, "backup-c1")
	cut := regexp.MustCompile(`torn tail.*volume=site1-0001 valid_end=(\d+) old_size=(\d+)`).FindStringSubmatch(c.SD.LogText())
	if cut == nil {
		t.Fatalf("sd log does not report the cut:\n%s", c.SD.LogText())
	}
	if cut[2] != strconv.FormatInt(size-20+4096, 10) {
		t.Errorf("cut reports old size %s, want %d", cut[2], size-20+4096)
	}
	target := filepath.Join(t.TempDir(), "r")
	mustOK(t, c.Ferry("restore", "--job", first, "--to", target, "--wait"), "restore of the first job")
	treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{DirMtimes: true})
}

// TestLargeFileMemory: a 1 GiB dense file backs up and restores with the
// fd's and the sd's peak RSS at most 64 MiB each.
func TestLargeFileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB of data: not in -short runs")
	}
	work := t.TempDir()
	src := filepath.Join(work, "src")
	must(t, os.MkdirAll(src, 0o755))
	writeRandom(t, filepath.Join(src, "gig"), 1<<30)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Passive: true, Include: []string{src}}}})
	id := mustRun(t, c, "backup-c1")
	target := filepath.Join(work, "r")
	mustOK(t, c.Ferry("restore", "--job", id, "--to", target, "--wait"), "restore")
	const limit = 64 << 20
	for name, pid := range map[string]int{"fd": c.FDs["c1"].Proc.Pid(), "sd": c.SD.Pid()} {
		if rss := harness.PeakRSS(t, pid); rss > limit {
			t.Errorf("%s peak RSS %d MiB > 64 MiB", name, rss>>20)
		} else {
			t.Logf("%s peak RSS %.1f MiB", name, float64(rss)/(1<<20))
		}
	}
	treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{DirMtimes: true})
	must(t, os.RemoveAll(target))
}

func mustRun(t *testing.T, c *harness.Cluster, job string) string {
	t.Helper()
	r := c.Ferry("run", job, "--wait")
	mustOK(t, r, job)
	return jobID(t, r)
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	must(t, err)
	return fi.Size()
}

// waitUntil polls cond (an observation, not a timer) for up to a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
