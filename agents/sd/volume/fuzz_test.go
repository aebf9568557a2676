package volume

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// volumeTail returns the bytes after the label of a small real volume.
func volumeTail(f *testing.F, endSecond bool) []byte {
	dir := f.TempDir()
	v, err := Create(dir, "fz")
	if err != nil {
		f.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	writeSession(f, v, rng, sessionSpec{id: 1, records: 3, maxSize: 16, status: SessionOK})
	spec := sessionSpec{id: 2, records: 2, maxSize: 8}
	if endSecond {
		spec.status = SessionFailed
	}
	writeSession(f, v, rng, spec)
	if !endSecond {
		v.sess.flush() // leave a data block of the unended session
	}
	v.Close()
	b, err := os.ReadFile(filepath.Join(dir, "fz"))
	if err != nil {
		f.Fatal(err)
	}
	return b[labelSize():]
}

func labelSize() int { return HeaderSize + labelFixed + len("fz") }

func FuzzReader(f *testing.F) {
	whole := volumeTail(f, true)
	f.Add(whole)
	f.Add(volumeTail(f, false))
	f.Add(whole[:len(whole)-7])
	f.Add(whole[:100])
	f.Add([]byte("FBLK\x01\x03"))
	label := make([]byte, HeaderSize, labelSize())
	label = appendLabel(label, "fz", time.Unix(0, 0))
	sealBlock(label, KindLabel, 0, 0)
	f.Fuzz(func(t *testing.T, tail []byte) {
		file := append(label[:len(label):len(label)], tail...)
		infos := exerciseReader(t, file)
		exerciseRecovery(t, file, infos)
	})
}

// memFile is a volume in memory: the fuzz loop stays off the file system.
type memFile struct{ *bytes.Reader }

func (m memFile) Close() error               { return nil }
func (m memFile) Stat() (os.FileInfo, error) { return memInfo(m.Size()), nil }

type memInfo int64

func (n memInfo) Name() string       { return "fz" }
func (n memInfo) Size() int64        { return int64(n) }
func (n memInfo) Mode() os.FileMode  { return 0o600 }
func (n memInfo) ModTime() time.Time { return time.Time{} }
func (n memInfo) IsDir() bool        { return false }
func (n memInfo) Sys() any           { return nil }

func memReader(t *testing.T, file []byte) *Reader {
	r, err := newReader(memFile{bytes.NewReader(file)}, "fz")
	if err != nil {
		t.Fatalf("newReader: %v", err)
	}
	return r
}

func exerciseReader(t *testing.T, file []byte) []SessionInfo {
	r := memReader(t, file)
	size := int64(len(file))
	infos, err := r.Sessions()
	var ce *CorruptError
	if err != nil && (!errors.As(err, &ce) || ce.Offset < int64(labelSize()) || ce.Offset >= size) {
		t.Fatalf("Sessions: %v", err)
	}
	last := int64(labelSize())
	for _, in := range infos {
		if in.Start < last || in.End <= in.Start || in.End > size {
			t.Fatalf("session %+v out of order or bounds (size %d)", in, size)
		}
		last = in.End
		readSession(t, r, in, size)
	}
	for _, off := range []int64{0, int64(labelSize()), size / 2, size - 1} {
		r.ReadBlockAt(off)
		r.ReadSession(1, off, func(Position, []byte) error { return nil })
	}
	if cap(r.buf) > len(file) {
		t.Fatalf("a buffer of %d bytes for a %d-byte volume", cap(r.buf), len(file))
	}
	return infos
}

func readSession(t *testing.T, r *Reader, in SessionInfo, size int64) {
	err := r.ReadSession(in.ID, in.Start, func(pos Position, p []byte) error {
		if pos.Block < in.Start || pos.Block+HeaderSize+int64(len(p)) > size {
			t.Fatalf("block %+v of %d bytes outside session %+v", pos, len(p), in)
		}
		return nil
	})
	if in.Complete && err != nil {
		t.Fatalf("ReadSession of complete session %+v: %v", in, err)
	}
	if !in.Complete && err == nil {
		t.Fatalf("ReadSession of incomplete session %+v succeeded", in)
	}
}

// exerciseRecovery does what OpenAppend does, in memory, and checks that
// the cut volume is clean and keeps the sessions before the cut.
func exerciseRecovery(t *testing.T, file []byte, infos []SessionInfo) {
	end, rec, err := memReader(t, file).validEnd()
	if err != nil {
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("validEnd: %v", err)
		}
		return
	}
	if rec != nil && (rec.ValidEnd != end || end < int64(labelSize()) || end >= rec.OldSize) {
		t.Fatalf("Recovery %+v with valid end %d", rec, end)
	}
	r := memReader(t, file[:end])
	after, err := r.Sessions()
	if err != nil || r.TornAt() != -1 || len(after) != len(infos) {
		t.Fatalf("after the cut: %d sessions (want %d), %v, torn at %d", len(after), len(infos), err, r.TornAt())
	}
}
