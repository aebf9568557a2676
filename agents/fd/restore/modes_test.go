package restore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// TestSmallFileModes restores small files of every kind of mode into a
// folder the restore makes, where the writers create them (with their
// final mode when the umask allows, without a chmod): each comes back
// with exactly its mode, special bits included, whatever the umask.
func TestSmallFileModes(t *testing.T) {
	modes := []uint32{0o000, 0o200, 0o400, 0o444, 0o600, 0o640, 0o644, 0o660, 0o664, 0o666, 0o700, 0o755, 0o777,
		0o1644, 0o2755, 0o4755, 0o6711, 0o7777}
	src := t.TempDir()
	if err := os.Mkdir(src+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	for i, m := range modes {
		p := fmt.Sprintf("%s/sub/f%02d-%04o", src, i, m)
		if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, os.FileMode(m&0o777)|unixModeBits(m)); err != nil {
			t.Fatal(err)
		}
	}
	var stream bytes.Buffer
	if _, err := backup.Send(context.Background(), datapath.NewWriter(&stream), fileset.Spec{Include: []string{src + "/sub"}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, mask := range []int{0o022, 0o077, 0o000} {
		t.Run(fmt.Sprintf("umask%03o", mask), func(t *testing.T) {
			old := unix.Umask(mask)
			defer unix.Umask(old)
			target := t.TempDir() + "/r"
			r := datapath.NewReader(bytes.NewReader(stream.Bytes()))
			if _, _, err := restore.Receive(context.Background(), r, target, restore.Options{}, nil, nil); err != nil {
				t.Fatal(err)
			}
			for i, m := range modes {
				p := fmt.Sprintf("%s%s/sub/f%02d-%04o", target, src, i, m)
				var st unix.Stat_t
				if err := unix.Lstat(p, &st); err != nil {
					t.Fatal(err)
				}
				if got := st.Mode & 0o7777; got != m {
					t.Errorf("%s: mode %04o, want %04o", p, got, m)
				}
			}
		})
	}
}

// unixModeBits turns setuid, setgid and sticky into os.FileMode bits.
func unixModeBits(m uint32) os.FileMode {
	var f os.FileMode
	if m&unix.S_ISUID != 0 {
		f |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		f |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		f |= os.ModeSticky
	}
	return f
}
