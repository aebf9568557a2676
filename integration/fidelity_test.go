package integration

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/integration/testenv"
	"github.com/ferrybackup/ferry/integration/treecmp"
)

// TestTrickyTree backs up and restores every kind of entry, for a passive
// and an active client, and compares with the independent comparer on
// everything it knows: content, full mode, owner, nanosecond mtimes of
// files, directories and symlinks, xattrs (ACL and capability included),
// hole layout and hardlink groups. The socket is recorded with a note and
// not re-created.
func TestTrickyTree(t *testing.T) {
	testenv.RequireRoot(t)
	for _, mode := range []string{"passive", "active"} {
		t.Run(mode, func(t *testing.T) {
			work := t.TempDir()
			root, sock := harness.TrickyTree(t, work)
			c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{
				{Name: "c1", Passive: mode == "passive", Include: []string{root}}}})
			r := c.Ferry("run", "backup-c1", "--wait")
			mustOK(t, r, "backup")
			if !strings.Contains(r.Stdout, ": ok,") {
				t.Errorf("backup did not end plainly ok: %s", r.Stdout)
			}
			id := jobID(t, r)
			if log := c.Ferry("job", id).Stdout; !strings.Contains(log, "socket recorded") {
				t.Errorf("job log has no note about the socket:\n%s", log)
			}
			target := filepath.Join(work, "restore")
			mustOK(t, c.Ferry("restore", "--job", id, "--to", target, "--wait"), "restore")
			treecmp.Equal(t, root, filepath.Join(target, root), treecmp.Options{
				Owner: true, DirMtimes: true, Xattrs: true, Sparse: true, Hardlinks: true,
				Ignore: func(rel []byte) bool { return bytes.Equal(rel, []byte(sock)) },
			})
		})
	}
}
