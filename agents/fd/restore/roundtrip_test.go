package restore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// node is one entry of the source tree of the round trip.
type node struct {
	path     string
	kind     uint32 // S_IFxxx
	mode     uint32
	content  []byte
	link     string
	uid, gid int
}

var longDir = "long/" + strings.Repeat(strings.Repeat("d", 200)+"/", 24) + strings.Repeat("e", 200)

func sourceNodes() []node {
	big := make([]byte, 3<<20+12345)
	for i := range big {
		big[i] = byte(i * 31)
	}
	return []node{
		{path: "empty", kind: unix.S_IFREG, mode: 0o600},
		{path: "small", kind: unix.S_IFREG, mode: 0o644, content: []byte("hello, world\n")},
		{path: "big", kind: unix.S_IFREG, mode: 0o640, content: big},
		{path: "name with spaces", kind: unix.S_IFREG, mode: 0o644, content: []byte("spaces")},
		{path: "new\nline", kind: unix.S_IFREG, mode: 0o644, content: []byte("newline")},
		{path: "bad\xff\xfeutf8", kind: unix.S_IFREG, mode: 0o644, content: []byte("latin1")},
		{path: "setuid", kind: unix.S_IFREG, mode: 0o4755, content: []byte("#!/bin/true\n"), uid: 1234, gid: 5678},
		{path: "setgid", kind: unix.S_IFREG, mode: 0o2710, content: []byte("g")},
		{path: "d1", kind: unix.S_IFDIR, mode: 0o750},
		{path: "d1/d2", kind: unix.S_IFDIR, mode: 0o705, uid: 42, gid: 43},
		{path: "d1/d2/d3", kind: unix.S_IFDIR, mode: 0o711},
		{path: "d1/rel", kind: unix.S_IFLNK, link: "../small"},
		{path: "ro", kind: unix.S_IFDIR, mode: 0o500},
		{path: "ro/f", kind: unix.S_IFREG, mode: 0o400, content: []byte("read only")},
		{path: "emptydir", kind: unix.S_IFDIR, mode: 0o700},
		{path: "sticky", kind: unix.S_IFDIR, mode: 0o1777},
		{path: "dangling", kind: unix.S_IFLNK, link: "no/such/\xfftarget", uid: 7, gid: 8},
		{path: "fifo", kind: unix.S_IFIFO, mode: 0o640},
		{path: "sock", kind: unix.S_IFSOCK, mode: 0o600},
		{path: "long", kind: unix.S_IFDIR, mode: 0o755},
		{path: longDir + "/deep", kind: unix.S_IFREG, mode: 0o644, content: []byte("deep down")},
	}
}

// buildTree creates nodes under root with their modes, owners and distinct
// nanosecond times (set deepest first, directories after their contents).
func buildTree(t *testing.T, root string, nodes []node) {
	t.Helper()
	mkdirAllLong(t, root+"/"+longDir, 0o755)
	for _, n := range nodes {
		makeNode(t, root+"/"+n.path, n)
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		setTimes(t, root+"/"+nodes[i].path, int64(i))
	}
}

func makeNode(t *testing.T, path string, n node) {
	t.Helper()
	dir, name := splitLong(t, path)
	defer unix.Close(dir)
	var err error
	switch n.kind {
	case unix.S_IFDIR:
		if err = unix.Mkdirat(dir, name, 0o700); err == unix.EEXIST {
			err = nil
		}
	case unix.S_IFREG:
		var fd int
		if fd, err = unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o600); err == nil {
			_, err = unix.Write(fd, n.content)
			unix.Close(fd)
		}
	case unix.S_IFLNK:
		err = unix.Symlinkat(n.link, dir, name)
	default:
		err = unix.Mknodat(dir, name, n.kind|0o600, 0)
	}
	must(t, err)
	must(t, unix.Fchownat(dir, name, n.uid, n.gid, unix.AT_SYMLINK_NOFOLLOW))
	if n.kind != unix.S_IFLNK {
		must(t, unix.Fchmodat(dir, name, n.mode, 0))
	}
}

func setTimes(t *testing.T, path string, i int64) {
	t.Helper()
	dir, name := splitLong(t, path)
	defer unix.Close(dir)
	mtime := int64(1_600_000_000_000_000_000) + i*1_000_000_007
	ts := []unix.Timespec{unix.NsecToTimespec(mtime + 12345), unix.NsecToTimespec(mtime)}
	must(t, unix.UtimesNanoAt(dir, name, ts, unix.AT_SYMLINK_NOFOLLOW))
}

func TestRoundTrip(t *testing.T) {
	base := t.TempDir()
	src := base + "/src"
	mkdirAllLong(t, src, 0o755)
	nodes := sourceNodes()
	buildTree(t, src, nodes)
	if len(src)+1+len(longDir)+len("/deep") <= unix.PathMax {
		t.Fatal("long path is not longer than PATH_MAX")
	}
	tests := []struct {
		name      string
		transport func(t *testing.T, target string) (backup.Totals, restore.Totals, datapath.StreamEnd, warnings, warnings)
	}{
		{"bytes.Buffer", viaBuffer(src)},
		{"io.Pipe", viaPipe(src)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := base + "/" + strings.ReplaceAll(tc.name, "/", "_")
			sent, got, end, bwarn, rwarn := tc.transport(t, target)
			if len(bwarn) != 0 {
				t.Errorf("backup warnings %q (a socket is recorded with a note, not a warning)", bwarn)
			}
			if len(rwarn) != 0 {
				t.Errorf("restore warnings %q", rwarn)
			}
			if end != (datapath.StreamEnd{Files: sent.Files, Bytes: sent.Bytes, Warnings: sent.Warnings}) {
				t.Errorf("stream end %+v, sent %+v", end, sent)
			}
			if got.Received != sent.Files || got.Files != sent.Files-1 || got.Bytes != sent.Bytes || got.Warnings != 0 {
				t.Errorf("restored %+v, sent %+v", got, sent)
			}
			compareRestored(t, src, target+src, nodes)
		})
	}
}

func viaBuffer(src string) func(t *testing.T, target string) (backup.Totals, restore.Totals, datapath.StreamEnd, warnings, warnings) {
	return func(t *testing.T, target string) (backup.Totals, restore.Totals, datapath.StreamEnd, warnings, warnings) {
		var buf bytes.Buffer
		var bwarn warnings
		sent, err := backup.Send(context.Background(), datapath.NewWriter(&buf), fileset.Spec{Include: []string{src}}, &bwarn, nil)
		must(t, err)
		got, end, rwarn, err := receive(t, &buf, target, restore.Options{Owner: true})
		must(t, err)
		return sent, got, end, bwarn, rwarn
	}
}

func viaPipe(src string) func(t *testing.T, target string) (backup.Totals, restore.Totals, datapath.StreamEnd, warnings, warnings) {
	return func(t *testing.T, target string) (backup.Totals, restore.Totals, datapath.StreamEnd, warnings, warnings) {
		pr, pw := io.Pipe()
		type result struct {
			tot  backup.Totals
			warn warnings
			err  error
		}
		done := make(chan result, 1)
		go func() {
			var r result
			r.tot, r.err = backup.Send(context.Background(), datapath.NewWriter(pw), fileset.Spec{Include: []string{src}}, &r.warn, nil)
			pw.CloseWithError(r.err)
			done <- r
		}()
		var progress int
		var rwarn warnings
		got, end, err := restore.Receive(context.Background(), datapath.NewReader(pr), target, restore.Options{Owner: true}, &rwarn,
			func(files, bytes int64, path []byte) { progress++ })
		pr.Close()
		sent := <-done
		must(t, sent.err)
		must(t, err)
		if progress == 0 {
			t.Error("restore progress never called")
		}
		return sent.tot, got, end, sent.warn, rwarn
	}
}

// compareRestored compares the restored tree dst with src entry by entry,
// lstat and content, walking both through directory descriptors.
func compareRestored(t *testing.T, src, dst string, nodes []node) {
	t.Helper()
	sfd, dfd := openDir(t, src), openDir(t, dst)
	defer unix.Close(sfd)
	defer unix.Close(dfd)
	var sst, dst2 unix.Stat_t
	must(t, unix.Fstat(sfd, &sst))
	must(t, unix.Fstat(dfd, &dst2))
	compareStat(t, "(root)", &sst, &dst2)
	seen := map[string]bool{}
	compareDir(t, sfd, dfd, "", seen)
	for _, n := range nodes {
		if n.kind != unix.S_IFSOCK && !seen[n.path] {
			t.Errorf("%q not compared", n.path)
		}
	}
	if !seen[longDir+"/deep"] {
		t.Error("long path not restored")
	}
	// The ancestors of the include root keep their modes.
	for p := src; p != "/"; p = p[:strings.LastIndexByte(p, '/')] {
		if p == "" {
			break
		}
		s, err1 := lstatLong(t, p)
		d, err2 := lstatLong(t, dst[:len(dst)-len(src)]+p)
		if err1 != nil || err2 != nil || s.Mode != d.Mode || s.Uid != d.Uid {
			t.Errorf("ancestor %s: mode %#o/%#o (%v %v)", p, s.Mode, d.Mode, err1, err2)
		}
	}
}

func compareDir(t *testing.T, sfd, dfd int, prefix string, seen map[string]bool) {
	t.Helper()
	var want []string
	for _, name := range readNames(t, sfd) {
		var st unix.Stat_t
		must(t, unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW))
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			want = append(want, name)
		}
	}
	if got := readNames(t, dfd); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("directory %q holds %q, want %q", prefix, got, want)
		return
	}
	for _, name := range want {
		rel := prefix + name
		seen[rel] = true
		var s, d unix.Stat_t
		must(t, unix.Fstatat(sfd, name, &s, unix.AT_SYMLINK_NOFOLLOW))
		must(t, unix.Fstatat(dfd, name, &d, unix.AT_SYMLINK_NOFOLLOW))
		compareStat(t, rel, &s, &d)
		compareContent(t, sfd, dfd, name, rel, s.Mode&unix.S_IFMT)
		if s.Mode&unix.S_IFMT == unix.S_IFDIR {
			subS, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
			must(t, err)
			subD, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
			must(t, err)
			compareDir(t, subS, subD, rel+"/", seen)
			unix.Close(subS)
			unix.Close(subD)
		}
	}
}

func compareStat(t *testing.T, rel string, s, d *unix.Stat_t) {
	t.Helper()
	if s.Mode != d.Mode || s.Uid != d.Uid || s.Gid != d.Gid || s.Mtim != d.Mtim {
		t.Errorf("%q: restored mode %#o uid %d gid %d mtime %v, source %#o %d %d %v", rel, d.Mode, d.Uid, d.Gid, d.Mtim, s.Mode, s.Uid, s.Gid, s.Mtim)
	}
	switch s.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFIFO: // not read (O_NOATIME), so atime is the stored one
		if s.Atim != d.Atim {
			t.Errorf("%q: restored atime %v, source %v", rel, d.Atim, s.Atim)
		}
		if s.Size != d.Size {
			t.Errorf("%q: restored size %d, source %d", rel, d.Size, s.Size)
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if s.Rdev != d.Rdev {
			t.Errorf("%q: rdev %#x, source %#x", rel, d.Rdev, s.Rdev)
		}
	}
}

func compareContent(t *testing.T, sfd, dfd int, name, rel string, kind uint32) {
	t.Helper()
	switch kind {
	case unix.S_IFREG:
		s, d := readAt(t, sfd, name), readAt(t, dfd, name)
		if !bytes.Equal(s, d) {
			t.Errorf("%q: content differs (%d bytes restored, %d in source)", rel, len(d), len(s))
		}
	case unix.S_IFLNK:
		s, d := make([]byte, 4096), make([]byte, 4096)
		ns, err1 := unix.Readlinkat(sfd, name, s)
		nd, err2 := unix.Readlinkat(dfd, name, d)
		if err := errors.Join(err1, err2); err != nil || !bytes.Equal(s[:ns], d[:nd]) {
			t.Errorf("%q: link %q, source %q (%v)", rel, d[:nd], s[:ns], err)
		}
	}
}

func readAt(t *testing.T, dir int, name string) []byte {
	t.Helper()
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOATIME, 0)
	must(t, err)
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 1<<16)
	for {
		n, err := unix.Read(fd, buf)
		must(t, err)
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}
