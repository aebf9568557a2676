package integration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/treecmp"
)

// TestHostileSwapRace: the symlink swap race through real processes. A
// backup of d/big (8 MiB) then d/small is restored with a bandwidth limit;
// once a progress event shows the restore inside d/big, the test replaces
// <target>/d with a symlink to a folder outside the target. d/small must
// not land outside; the job ends failed (or ok_warnings) naming d; the
// target's parent is unchanged outside the target; and the fd then serves
// a normal restore.
func TestHostileSwapRace(t *testing.T) {
	const size = 8 << 20
	src := filepath.Join(t.TempDir(), "hsrc")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	writeRandom(t, filepath.Join(src, "d", "big"), size)
	must(t, os.WriteFile(filepath.Join(src, "d", "small"), []byte("small\n"), 0o644))
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{{Name: "c1", Include: []string{src}}}})
	backup := mustRun(t, c, "backup-c1")

	parent := t.TempDir()
	target, outside := filepath.Join(parent, "target"), filepath.Join(parent, "outside")
	must(t, os.Mkdir(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "keep"), []byte("x"), 0o644))
	must(t, os.Mkdir(target, 0o755))
	before := hostileSnapshot(t, parent, target)

	prog := c.WatchProgress()
	r := c.Ferry("restore", "--job", backup, "--to", target, "--bandwidth", "2MiB")
	mustOK(t, r, "restore")
	m := startedRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("restore without --wait printed %q", r.Stdout)
	}
	rid, _ := strconv.ParseInt(m[1], 10, 64)
	for {
		p := prog.WaitFor("/d/big")
		if p.JobID == rid && p.Bytes < size {
			t.Logf("restore %d inside d/big at %d of %d bytes: swapping d", rid, p.Bytes, size)
			break
		}
	}
	d := filepath.Join(target, src, "d")
	must(t, os.Rename(d, d+".old"))
	must(t, os.Symlink(outside, d))

	ev := c.WaitEnd(rid)
	t.Logf("restore %d: %s: %s", rid, ev.Status, ev.Reason)
	named := strings.Contains(ev.Reason, `hsrc/d"`)
	if !named && ev.Status == "ok_warnings" {
		job := c.Ferry("job", strconv.FormatInt(rid, 10))
		named = strings.Contains(job.Stdout, "hsrc/d")
	}
	if (ev.Status != "failed" && ev.Status != "ok_warnings") || !named {
		t.Errorf("restore %d ended %s (%q); want failed or ok_warnings naming hsrc/d", rid, ev.Status, ev.Reason)
	}
	if _, err := os.Lstat(filepath.Join(outside, "small")); err == nil {
		t.Error("d/small landed outside the target")
	}
	if _, err := os.Lstat(filepath.Join(d+".old", "small")); err == nil {
		t.Error("d/small followed the old d")
	}
	if after := hostileSnapshot(t, parent, target); after != before {
		t.Errorf("the restore changed the target's parent outside the target:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	again := filepath.Join(t.TempDir(), "r")
	mustOK(t, c.Ferry("restore", "--job", backup, "--to", again, "--wait"), "normal restore afterwards")
	treecmp.Equal(t, src, filepath.Join(again, src), treecmp.Options{DirMtimes: true, Owner: os.Geteuid() == 0})
}

// hostileSnapshot lists dir's tree except below skip: name, mode, size and
// mtime of each entry, symlinks not followed.
func hostileSnapshot(t *testing.T, dir, skip string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if p == skip { // its mtime changes with what the restore writes in it
			lines = append(lines, fmt.Sprintf("%s %s", rel, fi.Mode()))
			return fs.SkipDir
		}
		lines = append(lines, fmt.Sprintf("%s %s %d %d", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	must(t, err)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
