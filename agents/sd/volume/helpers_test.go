package volume

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// written is one record as added, with where Add said it went.
type written struct {
	pos Position
	rec []byte
}

// sessionSpec describes a session a test writes.
type sessionSpec struct {
	id      uint64
	records int
	maxSize int    // records are 1..maxSize bytes
	status  Status // 0: leave the session unended
}

// wrote is what writeSession did.
type wrote struct {
	spec       sessionSpec
	start, end int64
	recs       []written
}

func randRecord(rng *rand.Rand, maxSize int) []byte {
	n := 1 + rng.IntN(maxSize)
	if rng.IntN(4) == 0 { // bias towards small records so blocks pack several
		n = 1 + rng.IntN(min(maxSize, 4096))
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func createVolume(t testing.TB, name string) (string, *Volume) {
	t.Helper()
	dir := t.TempDir()
	v, err := Create(dir, name)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return dir, v
}

func writeSession(t testing.TB, v *Volume, rng *rand.Rand, spec sessionSpec) wrote {
	t.Helper()
	s, err := v.BeginSession(spec.id, startMeta(spec.id))
	if err != nil {
		t.Fatalf("BeginSession(%d): %v", spec.id, err)
	}
	w := wrote{spec: spec, start: s.StartOffset()}
	for range spec.records {
		rec := randRecord(rng, spec.maxSize)
		pos, err := s.Add(rec)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		w.recs = append(w.recs, written{pos, rec})
	}
	if spec.status == 0 {
		return w
	}
	w.end, err = s.End(spec.status, totalsFor(w), endMeta(spec.id))
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	return w
}

func startMeta(id uint64) []byte { return []byte{'s', byte(id)} }
func endMeta(id uint64) []byte   { return []byte{'e', byte(id), 'x'} }

func totalsFor(w wrote) Totals {
	t := Totals{Files: uint64(len(w.recs) / 2), Records: uint64(len(w.recs))}
	for _, r := range w.recs {
		t.Bytes += uint64(len(r.rec))
	}
	return t
}

func openReader(t testing.TB, dir, name string) *Reader {
	t.Helper()
	r, err := OpenReader(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAll reads a session's data blocks, returning the payloads joined and
// the number of blocks.
func readAll(r *Reader, id uint64, start int64) ([]byte, int, error) {
	var all []byte
	n := 0
	err := r.ReadSession(id, start, func(pos Position, p []byte) error {
		all = append(all, p...)
		n++
		return nil
	})
	return all, n, err
}

func joined(recs []written) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, r.rec...)
	}
	return b
}

// checkPositions verifies that every position points at its record.
func checkPositions(t *testing.T, r *Reader, recs []written) {
	t.Helper()
	for i, w := range recs {
		h, p, err := r.ReadBlockAt(w.pos.Block)
		if err != nil {
			t.Fatalf("record %d: ReadBlockAt(%d): %v", i, w.pos.Block, err)
		}
		end := int(w.pos.Within) + len(w.rec)
		if h.Kind != KindData || end > len(p) || !bytes.Equal(p[w.pos.Within:end], w.rec) {
			t.Fatalf("record %d at %+v: wrong bytes (kind %s, payload %d)", i, w.pos, h.Kind, len(p))
		}
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func asCorrupt(t *testing.T, err error) *CorruptError {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("want *CorruptError, got %v", err)
	}
	return ce
}
