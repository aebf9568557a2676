package integration

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/testenv"
)

// TestPerFileProblems: a file that vanishes before it is read, a file the fd
// cannot read, and a file that grows while it is read do not sink the job.
// It ends ok_warnings with each path and reason in the job log, and the
// changed file is flagged in the catalog. The fd runs without the
// capabilities that let root read any file (DAC override), so a mode-000
// file is really unreadable. Faults are injected while the relay on the
// storage's data address holds the stream and the fd has reported progress
// inside the first file: observed, not timed.
func TestPerFileProblems(t *testing.T) {
	testenv.RequireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testenv.SkipOrFail(t, "setpriv (util-linux) not installed")
	}
	work := t.TempDir()
	src := filepath.Join(work, "src")
	must(t, os.MkdirAll(src, 0o755))
	big := filepath.Join(src, "a-big")
	writeRandom(t, big, 64<<20)
	writeRandom(t, filepath.Join(src, "m-secret"), 1000)
	must(t, os.Chmod(filepath.Join(src, "m-secret"), 0))
	writeRandom(t, filepath.Join(src, "z-victim"), 1000)
	writeRandom(t, filepath.Join(src, "z-zfine"), 1000)

	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{
		Name: "c1", Include: []string{src},
		Wrap: []string{setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"},
	}}})
	prog := c.WatchProgress()
	c.SDRelay.Hold()
	id := c.StartJob("backup-c1")
	prog.WaitFor("/a-big")
	must(t, os.Remove(filepath.Join(src, "z-victim")))
	appendBytes(t, big, 1<<20)
	c.SDRelay.Open()

	ev := c.WaitEnd(id)
	if ev.Status != "ok_warnings" || ev.Warnings != 3 {
		t.Fatalf("job ended %s with %d warnings (%s); want ok_warnings with 3", ev.Status, ev.Warnings, ev.Reason)
	}
	log := c.Ferry("job", strconv.FormatInt(id, 10)).Stdout
	for _, want := range []string{"z-victim", "m-secret", "a-big"} {
		if !strings.Contains(log, want) {
			t.Errorf("job log does not name %s:\n%s", want, log)
		}
	}
	flags := fileFlags(t, c, id)
	if flags["a-big"]&datapath.FlagChanged == 0 {
		t.Errorf("a-big not flagged as changed in the catalog (flags %v)", flags)
	}
	if _, ok := flags["z-zfine"]; !ok {
		t.Errorf("z-zfine, after the problems, is missing from the catalog: %v", flags)
	}
	if _, ok := flags["z-victim"]; ok {
		t.Errorf("the vanished file has a catalog row")
	}
}

// fileFlags reads a job's file rows from the catalog: base name → flags.
func fileFlags(t *testing.T, c *harness.Cluster, id int64) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	for _, f := range c.JobFiles(id) {
		out[filepath.Base(string(f.Path))] = f.Flags
	}
	return out
}

func writeRandom(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(buf))
		_, _ = rand.Read(buf[:k])
		_, err := f.Write(buf[:k])
		must(t, err)
		n -= k
	}
}

func appendBytes(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	defer f.Close()
	_, err = f.Write(make([]byte, n))
	must(t, err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
