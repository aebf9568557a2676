package main

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Dataset sizes at scale 1.
const (
	largeFiles    = 8
	largeFileSize = 256 << 20
	smallFiles    = 20000
	smallMaxSize  = 64 << 10
	smallMeanSize = 8 << 10
	smallTop      = 20 // top-level folders of the small tree
	smallSub      = 10 // folders in each
)

// dataset is one generated tree.
type dataset struct {
	name  string
	dir   string // absolute
	files int64  // regular files
	dirs  int64  // folders below dir (dir itself not counted)
	bytes int64  // content bytes
	// compress: its fileset says compression = "zstd" (a second fileset
	// of the same folder, see zstd.go)
	compress bool
}

// seed of the PRNG stream named name: the same bytes on every run.
func seed(name string) [32]byte {
	var s [32]byte
	copy(s[:], "ferrybench/v1/")
	h := uint64(1469598103934665603)
	for _, c := range []byte(name) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	binary.LittleEndian.PutUint64(s[24:], h)
	return s
}

// makeLarge writes n incompressible files of size bytes (ChaCha8 streams).
func makeLarge(dir string, n int, size int64) (dataset, error) {
	d := dataset{name: "large", dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return d, err
	}
	buf := make([]byte, 4<<20)
	for i := range n {
		name := fmt.Sprintf("f%d.bin", i)
		rng := rand.NewChaCha8(seed("large/" + name))
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return d, err
		}
		for left := size; left > 0; {
			b := buf[:min(int64(len(buf)), left)]
			_, _ = rng.Read(b)
			if _, err := f.Write(b); err != nil {
				f.Close()
				return d, err
			}
			left -= int64(len(b))
		}
		if err := f.Close(); err != nil {
			return d, err
		}
		d.files++
		d.bytes += size
	}
	return d, nil
}

// words of the compressible half of the small tree.
var words = strings.Fields(`backup restore volume session storage director client
daemon catalog record header trailer stream socket ferry bus subject job level full
incremental differential file folder block checksum blake3 label media offset the of
and to in is that for on with as by this at from or an be are was it not`)

// makeSmall writes n files in a nested tree (smallTop folders of smallSub
// folders, a few files directly in each folder too): sizes 0..64 KiB,
// exponential with mean 8 KiB, even-numbered files text, odd ones random.
func makeSmall(dir string, n int) (dataset, error) {
	d := dataset{name: "small", dir: dir}
	rng := rand.New(rand.NewPCG(0xfe77, 0xbe7c))
	stream := rand.NewChaCha8(seed("small"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return d, err
	}
	var folders []string
	for t := range smallTop {
		top := filepath.Join(dir, fmt.Sprintf("d%02d", t))
		folders = append(folders, top)
		for s := range smallSub {
			folders = append(folders, filepath.Join(top, fmt.Sprintf("s%02d", s)))
		}
	}
	for _, f := range folders {
		if err := os.MkdirAll(f, 0o755); err != nil {
			return d, err
		}
		d.dirs++
	}
	buf := make([]byte, 0, smallMaxSize+64)
	for i := range n {
		// Most files in the leaf folders, one in eleven in a top folder.
		folder := folders[i%len(folders)]
		size := int(math.Min(rng.ExpFloat64()*smallMeanSize, smallMaxSize))
		buf = buf[:0]
		if i%2 == 0 {
			for len(buf) < size {
				buf = append(buf, words[rng.IntN(len(words))]...)
				if rng.IntN(12) == 0 {
					buf = append(buf, '\n')
				} else {
					buf = append(buf, ' ')
				}
			}
			buf = buf[:size]
		} else {
			buf = buf[:size]
			_, _ = stream.Read(buf)
		}
		p := filepath.Join(folder, fmt.Sprintf("f%05d.%s", i, map[bool]string{true: "txt", false: "bin"}[i%2 == 0]))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return d, err
		}
		d.files++
		d.bytes += int64(size)
	}
	return d, nil
}

// treeInfo is what a tree holds: regular files by relative path, with
// sizes, and the folder count.
type treeInfo struct {
	sizes map[string]int64
	dirs  int64
	bytes int64
}

func scanTree(root string) (treeInfo, error) {
	t := treeInfo{sizes: map[string]int64{}}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case e.IsDir():
			if rel != "." {
				t.dirs++
			}
		case e.Type().IsRegular():
			fi, err := e.Info()
			if err != nil {
				return err
			}
			t.sizes[rel] = fi.Size()
			t.bytes += fi.Size()
		default:
			return fmt.Errorf("%s: unexpected %v", p, e.Type())
		}
		return nil
	})
	return t, err
}

// verify checks that got holds the same files, sizes and folders as want;
// with content, byte for byte.
func verify(want dataset, got string, content bool) error {
	w, err := scanTree(want.dir)
	if err != nil {
		return err
	}
	g, err := scanTree(got)
	if err != nil {
		return fmt.Errorf("restored tree: %w", err)
	}
	if len(g.sizes) != len(w.sizes) || g.dirs != w.dirs || g.bytes != w.bytes {
		return fmt.Errorf("restored tree %s: %d files, %d folders, %d bytes; want %d, %d, %d",
			got, len(g.sizes), g.dirs, g.bytes, len(w.sizes), w.dirs, w.bytes)
	}
	for rel, n := range w.sizes {
		if g.sizes[rel] != n {
			return fmt.Errorf("restored %s: size %d, want %d", rel, g.sizes[rel], n)
		}
	}
	if !content {
		return nil
	}
	for rel := range w.sizes {
		if err := sameContent(filepath.Join(want.dir, rel), filepath.Join(got, rel)); err != nil {
			return err
		}
	}
	return nil
}

func sameContent(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); ; {
		na, ea := fa.ReadAt(ba, off)
		nb, _ := fb.ReadAt(bb, off)
		if na != nb || string(ba[:na]) != string(bb[:nb]) {
			return fmt.Errorf("restored %s differs from %s near offset %d", b, a, off)
		}
		if ea != nil {
			return nil
		}
		off += int64(na)
	}
}
