package fileset_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/integration/testenv"
)

// lsetxattr sets an attribute on path itself, a symlink too.
func lsetxattr(t *testing.T, path, name, value string) error {
	t.Helper()
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW, 0)
	must(t, err)
	defer unix.Close(fd)
	return unix.Setxattr("/proc/self/fd/"+strconv.Itoa(fd), name, []byte(value), 0)
}

func TestEntryXattrs(t *testing.T) {
	testenv.RequireRoot(t) // trusted.*
	base := t.TempDir()
	root := base + "/root"
	must(t, os.Mkdir(root, 0o755))
	write(t, root+"/f", "content")
	must(t, os.Symlink("f", root+"/link"))
	must(t, unix.Mkfifo(root+"/fifo", 0o600))
	must(t, os.Mkdir(root+"/d", 0o755))
	write(t, root+"/plain", "")
	must(t, lsetxattr(t, root+"/f", "user.b", "2"))
	must(t, lsetxattr(t, root+"/f", "user.a", "1"))
	must(t, lsetxattr(t, root+"/f", "trusted.z", "\x00\xff"))
	must(t, lsetxattr(t, root+"/link", "trusted.l", "on the link"))
	must(t, lsetxattr(t, root+"/fifo", "trusted.p", "fifo"))
	must(t, lsetxattr(t, root+"/d", "user.dir", "d"))
	must(t, lsetxattr(t, root, "user.root", "r"))
	must(t, lsetxattr(t, base, "user.ancestor", "anc"))
	selinux := lsetxattr(t, root+"/plain", "security.selinux", "system_u:object_r:tmp_t:s0") == nil

	got := map[string]string{}
	err := fileset.Walk(context.Background(), fileset.Spec{Include: []string{root}}, func(e *fileset.Entry, open func() (*os.File, error)) error {
		var f *os.File
		if e.Header.Type == datapath.TypeRegular && string(e.Header.Path) == root[1:]+"/f" {
			var err error
			if f, err = open(); err != nil {
				return err
			}
			defer f.Close()
		}
		xs, err := e.Xattrs(f)
		if err != nil {
			t.Errorf("%s: %v", e.Header.Path, err)
			return nil
		}
		if err := datapath.CheckXattrs(xs); err != nil {
			t.Errorf("%s: %v", e.Header.Path, err)
		}
		var l []string
		for _, x := range xs {
			l = append(l, string(x.Name)+"="+string(x.Value))
		}
		got["/"+string(e.Header.Path)] = strings.Join(l, ",")
		return nil
	}, nil)
	must(t, err)
	tests := []struct {
		name, path, want string
	}{
		{"opened file, sorted", root + "/f", "trusted.z=\x00\xff,user.a=1,user.b=2"},
		{"symlink itself, not its target", root + "/link", "trusted.l=on the link"},
		{"fifo, never opened", root + "/fifo", "trusted.p=fifo"},
		{"directory", root + "/d", "user.dir=d"},
		{"include root", root, "user.root=r"},
		{"ancestor of the root", base, "user.ancestor=anc"},
		{"SELinux label skipped", root + "/plain", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == root+"/plain" && !selinux {
				t.Log("security.selinux cannot be set here: checking an entry without attributes")
			}
			v, ok := got[tc.path]
			if !ok {
				t.Fatal("not walked")
			}
			if v != tc.want {
				t.Errorf("attributes %q, want %q", v, tc.want)
			}
		})
	}
}
