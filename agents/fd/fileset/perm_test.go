package fileset_test

import (
	"github.com/ferrybackup/ferry/integration/testenv"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
)

// asNobody runs fn on a thread whose effective uid is 65534. The thread is
// never handed back to the runtime: it exits with its goroutine.
func asNobody(t *testing.T, fn func()) {
	t.Helper()
	testenv.RequireRoot(t)
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		// The raw system call changes this thread only (unix.Setresuid
		// changes them all).
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 65534, ^uintptr(0)); e != 0 {
			done <- e
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		testenv.SkipOrFail(t, "setresuid: "+err.Error())
	}
}

func TestWalkPermissionDenied(t *testing.T) {
	root := t.TempDir()
	for p := root; strings.HasPrefix(p, os.TempDir()+"/"); p = filepath.Dir(p) {
		must(t, os.Chmod(p, 0o755)) // t.TempDir's directories are 0700
	}
	write(t, root+"/locked/secret", "s")
	write(t, root+"/open/f", "f")
	must(t, os.Chmod(root+"/locked", 0o700))
	var res *walkResult
	var err error
	asNobody(t, func() { res, err = walkErr(t.Context(), fileset.Spec{Include: []string{root}}, nil) })
	if err != nil {
		t.Fatal(err)
	}
	r := rel(root)
	if _, ok := res.find(r + "/locked"); !ok {
		t.Errorf("locked directory not emitted: %q", res.paths())
	}
	if _, ok := res.find(r + "/open/f"); !ok {
		t.Errorf("walk stopped: %q", res.paths())
	}
	if len(res.warnings) != 1 || !strings.HasPrefix(res.warnings[0], root+"/locked: ") || !strings.Contains(res.warnings[0], "permission denied") {
		t.Errorf("warnings %q", res.warnings)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
