package volume

import (
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
	writeSession(f, v, rng, sessionSpec{id: 1, records: 20, maxSize: 100, status: SessionOK})
	spec := sessionSpec{id: 2, records: 3, maxSize: 50}
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
		dir := t.TempDir()
		file := append(label[:len(label):len(label)], tail...)
		if err := os.WriteFile(filepath.Join(dir, "fz"), file, 0o600); err != nil {
			t.Fatal(err)
		}
		exerciseReader(t, dir, int64(len(file)))
		exerciseRecovery(t, dir)
	})
}

func exerciseReader(t *testing.T, dir string, size int64) {
	r := openReader(t, dir, "fz")
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

// exerciseRecovery does what OpenAppend does, without its fsyncs (slow and
// pointless in a fuzz loop), and checks that the result is clean.
func exerciseRecovery(t *testing.T, dir string) {
	r := openReader(t, dir, "fz")
	end, rec, err := r.validEnd()
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
	if err := os.Truncate(filepath.Join(dir, "fz"), end); err != nil {
		t.Fatal(err)
	}
	r = openReader(t, dir, "fz")
	if _, err := r.Sessions(); err != nil || r.TornAt() != -1 {
		t.Fatalf("after OpenAppend: %v, torn at %d", err, r.TornAt())
	}
}
