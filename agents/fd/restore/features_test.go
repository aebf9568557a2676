package restore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/integration/testenv"
)

// backupRestore sends src and restores the stream into target.
func backupRestore(t *testing.T, src, target string, opt restore.Options) (backup.Totals, restore.Totals, warnings, warnings) {
	t.Helper()
	var buf bytes.Buffer
	var bwarn warnings
	sent, err := backup.Send(context.Background(), datapath.NewWriter(&buf), fileset.Spec{Include: []string{src}}, &bwarn, nil)
	must(t, err)
	got, end, rwarn, err := receive(t, &buf, target, opt)
	must(t, err)
	if end.Files != sent.Files || got.Received != sent.Files || got.ReceivedBytes != sent.Bytes {
		t.Errorf("sent %+v, stream end %+v, received %+v", sent, end, got)
	}
	return sent, got, bwarn, rwarn
}

// extent is a data region or a hole of a file, as SEEK_DATA/SEEK_HOLE
// report them.
type extent struct {
	hole     bool
	off, len int64
}

func seekMap(t *testing.T, path string) ([]extent, unix.Stat_t) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	must(t, err)
	defer unix.Close(fd)
	var st unix.Stat_t
	must(t, unix.Fstat(fd, &st))
	var ext []extent
	for off := int64(0); off < st.Size; {
		d, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			d = st.Size
		} else {
			must(t, err)
		}
		if d > off {
			ext = append(ext, extent{true, off, d - off})
		}
		if d >= st.Size {
			break
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		must(t, err)
		ext = append(ext, extent{false, d, h - d})
		off = h
	}
	return ext, st
}

func pwrite(t *testing.T, path string, off int64, p []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o640)
	must(t, err)
	_, err = f.WriteAt(p, off)
	must(t, err)
	must(t, f.Close())
}

func sized(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o640)
	must(t, err)
	must(t, f.Truncate(size))
	must(t, f.Close())
}

func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13) + seed
	}
	return b
}

func TestRoundTripSparse(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		make   func(t *testing.T, p string)
		sparse bool // allocated blocks much less than the size
	}{
		{"all hole", func(t *testing.T, p string) { sized(t, p, 64*mib) }, true},
		{"leading hole, data, trailing hole", func(t *testing.T, p string) {
			sized(t, p, 256*mib)
			pwrite(t, p, 100*mib, fill(3*mib+11, 1))
		}, true},
		{"data, hole, data at the end", func(t *testing.T, p string) {
			pwrite(t, p, 0, fill(5000, 2))
			pwrite(t, p, 200*mib, fill(mib+1, 3))
		}, true},
		{"islands", func(t *testing.T, p string) {
			sized(t, p, 128*mib)
			for i := int64(0); i < 20; i++ {
				pwrite(t, p, i*6*mib+i*8192, fill(8192+int(i)*100, byte(i)))
			}
		}, true},
		{"zero pages written stay allocated", func(t *testing.T, p string) {
			pwrite(t, p, 0, make([]byte, 4*mib))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			src, target := base+"/src", base+"/target"
			must(t, os.Mkdir(src, 0o755))
			tc.make(t, src+"/f")
			unix.Sync() // settle delayed allocation before mapping
			srcMap, srcSt := seekMap(t, src+"/f")
			if tc.sparse && !slices.ContainsFunc(srcMap, func(e extent) bool { return e.hole }) {
				t.Skip("the file system under " + base + " does not report holes")
			}
			sent, got, bwarn, rwarn := backupRestore(t, src, target, restore.Options{Owner: true})
			if len(bwarn)+len(rwarn) != 0 || got.Bytes != sent.Bytes {
				t.Fatalf("warnings %q %q; sent %+v restored %+v", bwarn, rwarn, sent, got)
			}
			dst := target + src + "/f"
			dstMap, dstSt := seekMap(t, dst)
			if !slices.Equal(dstMap, srcMap) {
				t.Errorf("restored layout %+v, source %+v", dstMap, srcMap)
			}
			if dstSt.Size != srcSt.Size || dstSt.Mode != srcSt.Mode || dstSt.Mtim != srcSt.Mtim {
				t.Errorf("restored size %d mode %#o mtime %v, source %d %#o %v", dstSt.Size, dstSt.Mode, dstSt.Mtim, srcSt.Size, srcSt.Mode, srcSt.Mtim)
			}
			if tc.sparse && dstSt.Blocks*512 > dstSt.Size/4 {
				t.Errorf("not sparse: %d bytes allocated for %d", dstSt.Blocks*512, dstSt.Size)
			}
			if !tc.sparse && dstSt.Blocks*512 < dstSt.Size {
				t.Errorf("holes invented: %d bytes allocated for %d", dstSt.Blocks*512, dstSt.Size)
			}
			s, err := os.ReadFile(src + "/f")
			must(t, err)
			d, err := os.ReadFile(dst)
			must(t, err)
			if !bytes.Equal(s, d) {
				t.Error("content differs")
			}
		})
	}
}

func TestRoundTripHardlinks(t *testing.T) {
	base := t.TempDir()
	src, target := base+"/src", base+"/target"
	mkdirAllLong(t, src+"/"+longDir, 0o755)
	must(t, os.Mkdir(src+"/d", 0o750))
	must(t, os.WriteFile(src+"/a", []byte("three names"), 0o640))
	must(t, os.Link(src+"/a", src+"/d/b"))
	must(t, os.Link(src+"/a", src+"/z\xffname"))
	must(t, os.WriteFile(src+"/pair1", []byte("two names"), 0o600))
	must(t, os.Link(src+"/pair1", src+"/pair2"))
	must(t, os.Symlink("../somewhere/else", src+"/s1"))
	must(t, unix.Linkat(unix.AT_FDCWD, src+"/s1", unix.AT_FDCWD, src+"/d/s2", 0))
	must(t, unix.Fchownat(unix.AT_FDCWD, src+"/s1", 321, 654, unix.AT_SYMLINK_NOFOLLOW))
	must(t, unix.Mkfifo(src+"/p1", 0o604))
	must(t, os.Link(src+"/p1", src+"/p2"))
	must(t, os.WriteFile(src+"/single", []byte("one name"), 0o644))
	// A pair deep below PATH_MAX.
	deep := src + "/" + longDir
	dfd := openDir(t, deep)
	fd, err := unix.Openat(dfd, "deep1", unix.O_CREAT|unix.O_WRONLY, 0o600)
	must(t, err)
	_, err = unix.Write(fd, []byte("deep"))
	must(t, err)
	unix.Close(fd)
	must(t, unix.Linkat(dfd, "deep1", dfd, "deep2", 0))
	unix.Close(dfd)

	_, got, bwarn, rwarn := backupRestore(t, src, target, restore.Options{Owner: true})
	if len(bwarn)+len(rwarn) != 0 {
		t.Fatalf("warnings %q %q", bwarn, rwarn)
	}
	if got.Warnings != 0 {
		t.Errorf("restore totals %+v", got)
	}
	dst := target + src
	tests := []struct {
		name    string
		names   []string
		content string
	}{
		{"three names", []string{"a", "d/b", "z\xffname"}, "three names"},
		{"pair", []string{"pair1", "pair2"}, "two names"},
		{"hardlinked symlink", []string{"s1", "d/s2"}, ""},
		{"fifo", []string{"p1", "p2"}, ""},
		{"beyond PATH_MAX", []string{longDir + "/deep1", longDir + "/deep2"}, "deep"},
		{"single", []string{"single"}, "one name"},
	}
	inodes := map[uint64]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var first unix.Stat_t
			for i, n := range tc.names {
				s, err := lstatLong(t, src+"/"+n)
				must(t, err)
				d, err := lstatLong(t, dst+"/"+n)
				if err != nil {
					t.Fatalf("%q not restored: %v", n, err)
				}
				if i == 0 {
					first = d
					if other, ok := inodes[d.Ino]; ok {
						t.Errorf("shares its inode with %q", other)
					}
					inodes[d.Ino] = n
				} else if d.Ino != first.Ino || d.Dev != first.Dev {
					t.Errorf("%q is inode %d, %q is %d: not one inode", n, d.Ino, tc.names[0], first.Ino)
				}
				if d.Nlink != uint64(len(tc.names)) || d.Mode != s.Mode || d.Uid != s.Uid || d.Gid != s.Gid || d.Mtim != s.Mtim {
					t.Errorf("%q: nlink %d mode %#o owner %d:%d mtime %v; source nlink %d %#o %d:%d %v",
						n, d.Nlink, d.Mode, d.Uid, d.Gid, d.Mtim, len(tc.names), s.Mode, s.Uid, s.Gid, s.Mtim)
				}
				if tc.content != "" {
					dir, name := splitLong(t, dst+"/"+n)
					if b := readAt(t, dir, name); string(b) != tc.content {
						t.Errorf("%q holds %q", n, b)
					}
					unix.Close(dir)
				}
			}
		})
	}
	if l, err := os.Readlink(dst + "/d/s2"); err != nil || l != "../somewhere/else" {
		t.Errorf("d/s2 -> %q (%v)", l, err)
	}
}

// posixACL encodes a POSIX ACL xattr value by hand: version 2, then tag
// u16, perm u16, id u32 per entry, sorted by tag and id.
func posixACL(entries ...[3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

// ACL tags and the id of entries without one.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
	aclNoID     = 0xffffffff
)

// capability encodes a VFS_CAP_REVISION_2 security.capability value with
// the effective flag and the given permitted bits.
func capability(permitted uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x02000000|0x000001)
	b = binary.LittleEndian.AppendUint32(b, uint32(permitted))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(permitted>>32))
	return binary.LittleEndian.AppendUint32(b, 0)
}

// xattrsOf reads every attribute of the entry at path (a symlink itself,
// long paths too) through an O_PATH descriptor, the SELinux label aside.
func xattrsOf(t *testing.T, path string) map[string]string {
	t.Helper()
	dir, name := splitLong(t, path)
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	must(t, err)
	defer unix.Close(fd)
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	buf := make([]byte, 64<<10)
	n, err := unix.Listxattr(proc, buf)
	must(t, err)
	out := map[string]string{}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || name == "security.selinux" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Getxattr(proc, name, v)
		must(t, err)
		out[name] = string(v[:m])
	}
	return out
}

// setXattr sets an attribute on the entry at path itself (not following a
// symlink), long paths too.
func setXattr(t *testing.T, path, name string, value []byte) {
	t.Helper()
	dir, base := splitLong(t, path)
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, base, unix.O_PATH|unix.O_NOFOLLOW, 0)
	must(t, err)
	defer unix.Close(fd)
	if err := unix.Setxattr("/proc/self/fd/"+strconv.Itoa(fd), name, value, 0); err != nil {
		t.Fatalf("set %s on %s: %v", name, path, err)
	}
}

func TestRoundTripXattrs(t *testing.T) {
	testenv.RequireRoot(t) // trusted.* and security.capability
	base := t.TempDir()
	src, target := base+"/src", base+"/target"
	mkdirAllLong(t, src+"/"+longDir, 0o755)
	access := posixACL([3]uint32{aclUserObj, 6, aclNoID}, [3]uint32{aclUser, 4, 1000}, [3]uint32{aclGroupObj, 4, aclNoID},
		[3]uint32{aclGroup, 6, 2000}, [3]uint32{aclMask, 6, aclNoID}, [3]uint32{aclOther, 0, aclNoID})
	dirDefault := posixACL([3]uint32{aclUserObj, 7, aclNoID}, [3]uint32{aclUser, 5, 1001}, [3]uint32{aclGroupObj, 5, aclNoID},
		[3]uint32{aclMask, 5, aclNoID}, [3]uint32{aclOther, 0, aclNoID})
	caps := capability(1<<10 | 1<<13) // cap_net_bind_service, cap_net_raw
	tests := []struct {
		name   string
		make   func(t *testing.T, p string)
		owner  [2]int
		xattrs map[string][]byte
	}{
		{"file with user and trusted attributes", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("x"), 0o644)) }, [2]int{0, 0},
			map[string][]byte{"user.comment": []byte("hello"), "user.bin\xff": {0, 1, 2, 0xff}, "trusted.t": []byte("root only"), "user.empty": nil}},
		{"file with an ACL", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("acl"), 0o640)) }, [2]int{1000, 1000},
			map[string][]byte{"system.posix_acl_access": access}},
		{"file capabilities kept through chown", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("#!cap"), 0o755)) }, [2]int{1234, 5678},
			map[string][]byte{"security.capability": caps, "user.also": []byte("1")}},
		{"directory with a default ACL", func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o750)) }, [2]int{0, 0},
			map[string][]byte{"system.posix_acl_default": dirDefault, "user.dir": []byte("d"), "trusted.dir": []byte("t")}},
		{"symlink", func(t *testing.T, p string) { must(t, os.Symlink("elsewhere", p)) }, [2]int{0, 0},
			map[string][]byte{"trusted.link": []byte("on the link itself")}},
		{"fifo", func(t *testing.T, p string) { must(t, unix.Mkfifo(p, 0o600)) }, [2]int{0, 0},
			map[string][]byte{"trusted.fifo": []byte("f")}},
		{"beyond PATH_MAX", func(t *testing.T, p string) {
			dir, name := splitLong(t, p)
			fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_WRONLY, 0o600)
			must(t, err)
			unix.Close(fd)
			unix.Close(dir)
		}, [2]int{0, 0}, map[string][]byte{"user.deep": []byte("deep"), "system.posix_acl_access": access}},
		{"none", func(t *testing.T, p string) { must(t, os.WriteFile(p, nil, 0o600)) }, [2]int{0, 0}, nil},
	}
	path := func(tc string) string {
		if tc == "beyond PATH_MAX" {
			return src + "/" + longDir + "/deep"
		}
		return src + "/" + strings.ReplaceAll(tc, " ", "_")
	}
	for _, tc := range tests {
		p := path(tc.name)
		tc.make(t, p)
		dir, name := splitLong(t, p)
		must(t, unix.Fchownat(dir, name, tc.owner[0], tc.owner[1], unix.AT_SYMLINK_NOFOLLOW))
		unix.Close(dir)
		for n, v := range tc.xattrs {
			setXattr(t, p, n, v)
		}
	}
	// The target's top holds a default ACL: restored entries would inherit
	// it, unless the restore removes what was not stored.
	must(t, os.Mkdir(target, 0o755))
	setXattr(t, target, "system.posix_acl_default", dirDefault)

	_, _, bwarn, rwarn := backupRestore(t, src, target, restore.Options{Owner: true})
	if len(bwarn)+len(rwarn) != 0 {
		t.Fatalf("warnings %q %q", bwarn, rwarn)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := path(tc.name)
			want, got := xattrsOf(t, p), xattrsOf(t, target+p)
			if len(want) != len(tc.xattrs) {
				t.Fatalf("source holds %q, set %q", want, tc.xattrs)
			}
			if !mapsEqual(got, want) {
				t.Errorf("restored %q, source %q", got, want)
			}
			s, err := lstatLong(t, p)
			must(t, err)
			d, err := lstatLong(t, target+p)
			must(t, err)
			if s.Mode != d.Mode || s.Uid != d.Uid || s.Gid != d.Gid || s.Mtim != d.Mtim {
				t.Errorf("restored mode %#o owner %d:%d mtime %v, source %#o %d:%d %v", d.Mode, d.Uid, d.Gid, d.Mtim, s.Mode, s.Uid, s.Gid, s.Mtim)
			}
		})
	}
	if setfacl, err := exec.LookPath("getfacl"); err == nil { // cross-check with the tools, when installed
		out, err := exec.Command(setfacl, "-cn", target+path("file with an ACL")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "user:1000:r--") || !strings.Contains(string(out), "group:2000:rw-") {
			t.Errorf("getfacl: %s (%v)", out, err)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRestoreXattrRefused: an attribute the target refuses is a warning;
// the entry is restored without it.
func TestRestoreXattrRefused(t *testing.T) {
	xs := func(names ...string) []datapath.Ext {
		var l []datapath.Xattr
		for _, n := range names {
			l = append(l, datapath.Xattr{Name: []byte(n), Value: []byte("v")})
		}
		return []datapath.Ext{{Tag: datapath.ExtXattrs, Data: datapath.AppendXattrs(nil, l)}}
	}
	tests := []struct {
		name string
		hdr  datapath.FileHeader
		want string
	}{
		{"user attribute on a symlink", datapath.FileHeader{Path: []byte("l"), Type: datapath.TypeSymlink, LinkTarget: []byte("x"), Ext: xs("user.nope")}, "user.nope"},
		{"user attribute on a fifo", datapath.FileHeader{Path: []byte("p"), Type: datapath.TypeFifo, Mode: 0o600, Ext: xs("user.nope")}, "user.nope"},
		{"unknown namespace", datapath.FileHeader{Path: []byte("f"), Type: datapath.TypeRegular, Mode: 0o600, Ext: xs("bogus.x", "user.ok")}, "bogus.x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			stream := withEnd(t, func(w *datapath.Writer) {
				w.Header(&tc.hdr)
				sum := blake3.Sum256(nil)
				w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:]})
			})
			tot, _, warn, err := receive(t, stream, target, restore.Options{})
			must(t, err)
			if tot.Files != 1 || len(warn) != 1 || !strings.Contains(warn[0], tc.want) {
				t.Fatalf("totals %+v, warnings %q", tot, warn)
			}
			if _, err := os.Lstat(target + "/" + string(tc.hdr.Path)); err != nil {
				t.Fatalf("not restored: %v", err)
			}
		})
	}
}

func TestRestoreHardlinkRefused(t *testing.T) {
	link := func(w *datapath.Writer, path, to string, group uint64, typ datapath.FileType) {
		w.Header(&datapath.FileHeader{Path: []byte(path), Type: typ, Mode: 0o644, Ext: []datapath.Ext{
			{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: group, Path: []byte(to)})}}})
		w.Trailer(&datapath.FileTrailer{})
	}
	first := func(w *datapath.Writer, path string, group uint64, content string) {
		sum := blake3.Sum256([]byte(content))
		w.Header(&datapath.FileHeader{Path: []byte(path), Type: datapath.TypeRegular, Mode: 0o644, Size: int64(len(content)), Ext: []datapath.Ext{
			{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: group})}}})
		w.Data([]byte(content))
		w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:], Bytes: int64(len(content))})
	}
	tests := []struct {
		name   string
		stream func(w *datapath.Writer, outside string)
		is     error
		names  string // the error names this path
	}{
		{"a file on disk, not in the stream", func(w *datapath.Writer, _ string) { link(w, "evil", "victim", 1, datapath.TypeRegular) }, restore.ErrUnsafePath, "victim"},
		{"outside the target", func(w *datapath.Writer, _ string) {
			link(w, "evil", "../outside/secret", 1, datapath.TypeRegular)
		}, restore.ErrUnsafePath, "../outside/secret"},
		{"absolute", func(w *datapath.Writer, outside string) {
			link(w, "evil", outside+"/secret", 1, datapath.TypeRegular)
		}, restore.ErrUnsafePath, "/secret"},
		{"an earlier entry that starts no group", func(w *datapath.Writer, _ string) {
			fileRecs(w, "plain", "p", 0)
			link(w, "evil", "plain", 1, datapath.TypeRegular)
		}, restore.ErrUnsafePath, "plain"},
		{"a first entry that comes later", func(w *datapath.Writer, _ string) {
			link(w, "evil", "later", 1, datapath.TypeRegular)
			first(w, "later", 1, "x")
		}, restore.ErrUnsafePath, "later"},
		{"another group", func(w *datapath.Writer, _ string) {
			first(w, "a", 1, "x")
			link(w, "evil", "a", 2, datapath.TypeRegular)
		}, restore.ErrStream, "a"},
		{"another type", func(w *datapath.Writer, _ string) {
			first(w, "a", 1, "x")
			link(w, "evil", "a", 1, datapath.TypeFifo)
		}, restore.ErrStream, "a"},
		{"data for a later name", func(w *datapath.Writer, _ string) {
			first(w, "a", 1, "x")
			w.Header(&datapath.FileHeader{Path: []byte("evil"), Type: datapath.TypeRegular, Size: 1, Ext: []datapath.Ext{
				{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: 1, Path: []byte("a")})}}})
			w.Data([]byte("y"))
		}, restore.ErrStream, "evil"},
		{"a directory", func(w *datapath.Writer, _ string) {
			w.Header(&datapath.FileHeader{Path: []byte("evil"), Type: datapath.TypeDir, Mode: 0o755, Ext: []datapath.Ext{
				{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: 1})}}})
		}, restore.ErrStream, "evil"},
		{"malformed extension", func(w *datapath.Writer, _ string) {
			w.Header(&datapath.FileHeader{Path: []byte("evil"), Type: datapath.TypeRegular, Ext: []datapath.Ext{{Tag: datapath.ExtHardlink, Data: []byte{1, 9}}}})
		}, restore.ErrStream, "evil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			target, outside := base+"/target", base+"/outside"
			must(t, os.Mkdir(target, 0o700))
			must(t, os.Mkdir(outside, 0o700))
			must(t, os.WriteFile(target+"/victim", []byte("on disk"), 0o600))
			must(t, os.WriteFile(outside+"/secret", []byte("secret"), 0o600))
			before := listing(t, base)
			stream := withEnd(t, func(w *datapath.Writer) { tc.stream(w, outside) })
			_, _, _, err := receive(t, stream, target, restore.Options{Replace: restore.ReplaceAlways})
			if !errors.Is(err, tc.is) {
				t.Fatalf("err %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tc.names)[1:len(strconv.Quote(tc.names))-1]) {
				t.Errorf("error does not name %q: %v", tc.names, err)
			}
			after := listing(t, base)
			if !slices.Equal(onlyOutsideTarget(before), onlyOutsideTarget(after)) {
				t.Errorf("written outside the target:\nbefore %q\nafter  %q", before, after)
			}
			if _, err := os.Lstat(target + "/evil"); err == nil {
				t.Error("the link was made")
			}
			for _, p := range []string{target + "/victim", outside + "/secret"} {
				var st unix.Stat_t
				if must(t, unix.Lstat(p, &st)); st.Nlink != 1 {
					t.Errorf("%s has %d names", p, st.Nlink)
				}
			}
		})
	}
}

// TestRestoreHardlinkPolicy: the replace policy applies to a later name's
// own path; a group whose first entry was not restored is not linked, with
// a warning, never to the entry on disk.
func TestRestoreHardlinkPolicy(t *testing.T) {
	stream := func(w *datapath.Writer) {
		sum := blake3.Sum256([]byte("new"))
		ext := func(to string) []datapath.Ext {
			return []datapath.Ext{{Tag: datapath.ExtHardlink, Data: datapath.AppendHardlink(nil, datapath.Hardlink{Group: 5, Path: []byte(to)})}}
		}
		w.Header(&datapath.FileHeader{Path: []byte("a"), Type: datapath.TypeRegular, Mode: 0o644, Size: 3, Mtime: 2e18, Ext: ext("")})
		w.Data([]byte("new"))
		w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:], Bytes: 3})
		w.Header(&datapath.FileHeader{Path: []byte("b"), Type: datapath.TypeRegular, Mode: 0o644, Size: 3, Mtime: 2e18, Ext: ext("a")})
		w.Trailer(&datapath.FileTrailer{})
	}
	tests := []struct {
		name     string
		replace  string
		existing []string // files in the target before, holding "old"
		a, b     string   // contents after
		linked   bool
		warnings int
	}{
		{"empty target", restore.ReplaceNever, nil, "new", "new", true, 0},
		{"later name exists, never", restore.ReplaceNever, []string{"b"}, "new", "old", false, 1},
		{"later name exists, always", restore.ReplaceAlways, []string{"b"}, "new", "new", true, 0},
		{"first name exists, never: not linked to the file on disk", restore.ReplaceNever, []string{"a"}, "old", "", false, 2},
		{"both exist, always", restore.ReplaceAlways, []string{"a", "b"}, "new", "new", true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			for _, p := range tc.existing {
				must(t, os.WriteFile(filepath.Join(target, p), []byte("old"), 0o644))
			}
			tot, _, warn, err := receive(t, withEnd(t, stream), target, restore.Options{Replace: tc.replace})
			must(t, err)
			if len(warn) != tc.warnings || tot.Warnings != int64(tc.warnings) {
				t.Errorf("warnings %q", warn)
			}
			for p, want := range map[string]string{"a": tc.a, "b": tc.b} {
				b, err := os.ReadFile(filepath.Join(target, p))
				if want == "" {
					if err == nil {
						t.Errorf("%s restored", p)
					}
					continue
				}
				if err != nil || string(b) != want {
					t.Errorf("%s holds %q (%v), want %q", p, b, err, want)
				}
			}
			var a, b unix.Stat_t
			errA, errB := unix.Lstat(target+"/a", &a), unix.Lstat(target+"/b", &b)
			if linked := errA == nil && errB == nil && a.Ino == b.Ino; linked != tc.linked {
				t.Errorf("linked %v, want %v", linked, tc.linked)
			}
			for _, p := range listing(t, target) {
				if strings.Contains(p, ".ferry-restore") {
					t.Errorf("temporary entry left: %q", p)
				}
			}
		})
	}
}
