package restore_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

type warnings []string

func (w *warnings) Warn(path []byte, msg string) { *w = append(*w, string(path)+": "+msg) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// streamOf returns the records fn writes.
func streamOf(t *testing.T, fn func(w *datapath.Writer)) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	w := datapath.NewWriter(&buf)
	fn(w)
	must(t, w.Flush())
	return &buf
}

// withEnd writes fn's records followed by a stream end whose totals match
// them (entries and data bytes), as a real sender does.
func withEnd(t *testing.T, fn func(w *datapath.Writer)) *bytes.Buffer {
	t.Helper()
	body := streamOf(t, fn)
	var end datapath.StreamEnd
	r := datapath.NewReader(bytes.NewReader(body.Bytes()))
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		switch rec.Kind {
		case datapath.KindFileHeader:
			end.Files++
		case datapath.KindData:
			end.Bytes += int64(len(rec.Payload))
		}
	}
	w := datapath.NewWriter(body)
	must(t, w.End(&end))
	return body
}

// fileRecs writes a regular file's records with a correct trailer.
func fileRecs(w *datapath.Writer, path string, content string, mtime int64) {
	w.Header(&datapath.FileHeader{Path: []byte(path), Type: datapath.TypeRegular, Mode: 0o644, Mtime: mtime, Atime: mtime, Size: int64(len(content))})
	if content != "" {
		w.Data([]byte(content))
	}
	sum := blake3.Sum256([]byte(content))
	w.Trailer(&datapath.FileTrailer{Algo: datapath.AlgoBLAKE3, Sum: sum[:], Bytes: int64(len(content))})
}

func dirRecs(w *datapath.Writer, path string, mode uint32, mtime int64) {
	w.Header(&datapath.FileHeader{Path: []byte(path), Type: datapath.TypeDir, Mode: mode, Mtime: mtime, Atime: mtime})
	w.Trailer(&datapath.FileTrailer{})
}

func symlinkRecs(w *datapath.Writer, path, target string) {
	w.Header(&datapath.FileHeader{Path: []byte(path), Type: datapath.TypeSymlink, Mode: 0o777, LinkTarget: []byte(target)})
	w.Trailer(&datapath.FileTrailer{})
}

func receive(t *testing.T, stream io.Reader, target string, opt restore.Options) (restore.Totals, datapath.StreamEnd, warnings, error) {
	t.Helper()
	var warn warnings
	tot, end, err := restore.Receive(context.Background(), datapath.NewReader(stream), target, opt, &warn, nil)
	return tot, end, warn, err
}

// listing returns every path below dir (relative, sorted), long paths too.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	defer unix.Close(fd)
	var out []string
	var rec func(fd int, prefix string)
	rec = func(fd int, prefix string) {
		for _, name := range readNames(t, fd) {
			out = append(out, prefix+name)
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
			if err != nil {
				continue
			}
			rec(sub, prefix+name+"/")
			unix.Close(sub)
		}
	}
	rec(fd, "")
	slices.Sort(out)
	return out
}

func readNames(t *testing.T, fd int) []string {
	t.Helper()
	buf := make([]byte, 8192)
	var names []string
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := unix.ReadDirent(fd, buf)
		must(t, err)
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	slices.Sort(names)
	return names
}

// openDir opens absolute directory path component by component, without
// following symlinks, so paths beyond PATH_MAX work.
func openDir(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	for _, c := range strings.Split(strings.Trim(path, "/"), "/") {
		if c == "" {
			continue
		}
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("open %s at %q: %v", path, c, err)
		}
		fd = next
	}
	return fd
}

// mkdirAllLong creates absolute directory path component by component.
func mkdirAllLong(t *testing.T, path string, mode uint32) {
	t.Helper()
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	for _, c := range strings.Split(strings.Trim(path, "/"), "/") {
		if err := unix.Mkdirat(fd, c, mode); err != nil && err != unix.EEXIST {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		unix.Close(fd)
		must(t, err)
		fd = next
	}
	unix.Close(fd)
}

// splitLong returns the open parent directory of path and its base name.
func splitLong(t *testing.T, path string) (int, string) {
	t.Helper()
	i := strings.LastIndexByte(path, '/')
	return openDir(t, path[:i]), path[i+1:]
}

func lstatLong(t *testing.T, path string) (unix.Stat_t, error) {
	t.Helper()
	dir, name := splitLong(t, path)
	defer unix.Close(dir)
	var st unix.Stat_t
	err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}
