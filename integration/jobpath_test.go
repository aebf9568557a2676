package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/treecmp"
)

var jobLineRE = regexp.MustCompile(`^job (\d+) `)

// jobID reads the id from `ferry run --wait` / `ferry restore --wait` output.
func jobID(t *testing.T, r harness.Result) string {
	t.Helper()
	m := jobLineRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no job line in output:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	}
	return m[1]
}

func mustOK(t *testing.T, r harness.Result, what string) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.Code, r.Stdout, r.Stderr)
	}
}

// TestBackupRestore backs up and restores for a passive and an active client
// and checks, at the relays on the configured data addresses, who dialed.
func TestBackupRestore(t *testing.T) {
	for _, mode := range []string{"passive", "active"} {
		t.Run(mode, func(t *testing.T) { backupRestore(t, mode == "passive", false) })
	}
}

// TestExternalNATS runs the same scenario on a nats-server process instead
// of the director's embedded server.
func TestExternalNATS(t *testing.T) {
	for _, mode := range []string{"passive", "active"} {
		t.Run(mode, func(t *testing.T) { backupRestore(t, mode == "passive", true) })
	}
}

func backupRestore(t *testing.T, passive, external bool) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{ExternalNATS: external,
		Clients: []harness.Client{{Name: "c1", Passive: passive, Include: []string{src}}}})
	wantDir, wantInit := "fd→sd", "fd"
	dialed, idle := c.SDRelay, c.FDs["c1"].Relay
	if passive {
		wantDir, wantInit = "sd→fd", "sd"
		dialed, idle = c.FDs["c1"].Relay, c.SDRelay
	}

	r := c.Ferry("run", "backup-c1", "--wait")
	mustOK(t, r, "backup")
	id := jobID(t, r)
	if !strings.Contains(r.Stdout, "data "+wantDir+" ") {
		t.Errorf("backup line does not say %s: %s", wantDir, r.Stdout)
	}
	checkDialed(t, dialed, idle, 1)
	checkRecorded(t, c, id, wantDir, wantInit, true)

	target := filepath.Join(work, "restore")
	r = c.Ferry("restore", "--job", id, "--to", target, "--wait")
	mustOK(t, r, "restore")
	rid := jobID(t, r)
	if !strings.Contains(r.Stdout, "data "+wantDir+" ") {
		t.Errorf("restore line does not say %s: %s", wantDir, r.Stdout)
	}
	checkDialed(t, dialed, idle, 2)
	checkRecorded(t, c, rid, wantDir, wantInit, false)
	treecmp.Equal(t, src, filepath.Join(target, src), treecmp.Options{DirMtimes: true, Owner: os.Geteuid() == 0})
}

// checkDialed: the connections arrived at the relay of the address that
// should be dialed, never at the other one.
func checkDialed(t *testing.T, dialed, idle *harness.Relay, n int) {
	t.Helper()
	if got := len(dialed.Connections()); got != n {
		t.Errorf("relay at the address that should be dialed saw %d connections, want %d", got, n)
	}
	if idle != nil && len(idle.Connections()) != 0 {
		t.Errorf("relay at the address that must not be dialed saw %v", idle.Connections())
	}
}

// checkRecorded: the catalog (ferry job) and the director's log agree on
// the direction.
func checkRecorded(t *testing.T, c *harness.Cluster, id, dir, initiator string, backup bool) {
	t.Helper()
	r := c.Ferry("job", id)
	mustOK(t, r, "ferry job")
	if !regexp.MustCompile(`Data channel:\s+` + dir + `: ` + initiator + ` dialed`).MatchString(r.Stdout) {
		t.Errorf("ferry job %s does not record %s:\n%s", id, dir, r.Stdout)
	}
	logLine := regexp.MustCompile(`msg="data channel open" .*job=` + id + ` initiator=` + initiator + ` `)
	if !logLine.MatchString(c.Director.LogText()) {
		t.Errorf("director log has no data channel line for job %s with initiator=%s", id, initiator)
	}
	// A backup's setup as the sd timestamped it is on the job's record.
	if backup && !regexp.MustCompile(`first data frame at the sd \d\d:\d\d:\d\d\.\d{3}, \d+(\.\d+)?m?s after the job was created`).MatchString(r.Stdout) {
		t.Errorf("ferry job %s does not show the sd's first data frame:\n%s", id, r.Stdout)
	}
}

// TestRestoreSelectedPaths restores one subtree of a backup to another
// client: only that subtree arrives, byte for byte, and the receiving
// client's passive setting decides who dials.
func TestRestoreSelectedPaths(t *testing.T) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{
		{Name: "a1", Include: []string{src}},
		{Name: "p2", Passive: true, Include: []string{src}},
	}})
	r := c.Ferry("run", "backup-a1", "--wait")
	mustOK(t, r, "backup")
	id := jobID(t, r)
	target := filepath.Join(work, "restore")
	sub := filepath.Join(src, "dir one")
	r = c.Ferry("restore", "--job", id, "--to", target, "--client", "p2", "--path", sub, "--wait")
	mustOK(t, r, "restore")
	if !strings.Contains(r.Stdout, "client=p2") || !strings.Contains(r.Stdout, "data sd→fd ") {
		t.Errorf("restore to passive client p2 should be dialed by the sd: %s", r.Stdout)
	}
	treecmp.Equal(t, sub, filepath.Join(target, sub), treecmp.Options{DirMtimes: true})
	if _, err := os.Lstat(filepath.Join(target, src, "a.txt")); !os.IsNotExist(err) {
		t.Errorf("unselected file a.txt was restored (err %v)", err)
	}
}

// TestRestoreInPlace restores to "/" when asked explicitly: with the
// default replace policy (never) a changed file stays as it is and a
// deleted one comes back; with --replace always the changed file is put
// back too.
func TestRestoreInPlace(t *testing.T) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
	id := mustRun(t, c, "backup-c1")
	orig, err := os.ReadFile(filepath.Join(src, "a.txt"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("changed after the backup"), 0o644))
	must(t, os.Remove(filepath.Join(src, "exec.sh")))

	mustOK(t, c.Ferry("restore", "--job", id, "--to", "/", "--wait"), "restore in place, replace never")
	if got, _ := os.ReadFile(filepath.Join(src, "a.txt")); string(got) != "changed after the backup" {
		t.Errorf("replace never overwrote a.txt: %q", got)
	}
	if _, err := os.Stat(filepath.Join(src, "exec.sh")); err != nil {
		t.Errorf("deleted exec.sh not restored: %v", err)
	}
	mustOK(t, c.Ferry("restore", "--job", id, "--to", "/", "--replace", "always", "--wait"), "restore in place, replace always")
	if got, _ := os.ReadFile(filepath.Join(src, "a.txt")); string(got) != string(orig) {
		t.Errorf("replace always did not put a.txt back: %q", got)
	}
}
