package volume

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// twoSessions writes a complete session and a second one (complete or not)
// and closes the volume.
func twoSessions(t *testing.T, endSecond bool) (string, []wrote) {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 4))
	dir, v := createVolume(t, "v1")
	second := sessionSpec{id: 2, records: 12, maxSize: 700 << 10}
	if endSecond {
		second.status = SessionOK
	}
	ws := []wrote{
		writeSession(t, v, rng, sessionSpec{id: 1, records: 15, maxSize: 700 << 10, status: SessionOK}),
		writeSession(t, v, rng, second),
	}
	v.Close()
	return dir, ws
}

// lastDataBlock returns the offset and payload length of the last data block
// of the session starting at start.
func lastDataBlock(t *testing.T, dir string, w wrote) (int64, int) {
	t.Helper()
	r := openReader(t, dir, "v1")
	var off int64 = -1
	var n int
	r.ReadSession(w.spec.id, w.start, func(pos Position, p []byte) error {
		off, n = pos.Block, len(p)
		return nil
	})
	if off < 0 {
		t.Fatal("session has no data block")
	}
	return off, n
}

func TestOpenAppendRecovery(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string, lastBlock int64, lastLen int) // returns nothing; mutates the file
		cutToLB bool                                                          // valid end is the last data block's offset
	}{
		{"truncated mid-payload", func(t *testing.T, path string, lb int64, n int) {
			os.Truncate(path, lb+HeaderSize+int64(n)/2)
		}, true},
		{"truncated mid-header", func(t *testing.T, path string, lb int64, n int) {
			os.Truncate(path, lb+HeaderSize/2)
		}, true},
		{"zeroed last block", func(t *testing.T, path string, lb int64, n int) {
			os.Truncate(path, lb)
			os.Truncate(path, lb+HeaderSize+int64(n))
		}, true},
		{"garbage appended", func(t *testing.T, path string, lb int64, n int) {
			appendBytes(t, path, garbage(100<<10))
		}, false},
		{"a torn block header appended", func(t *testing.T, path string, lb int64, n int) {
			b := make([]byte, HeaderSize+1000)
			sealBlock(b, KindData, 2, 99)
			appendBytes(t, path, b[:HeaderSize+500])
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ws := twoSessions(t, false)
			path := filepath.Join(dir, "v1")
			before := fileSize(t, path)
			lb, n := lastDataBlock(t, dir, ws[1])
			tt.damage(t, path, lb, n)
			old := fileSize(t, path)
			wantEnd := before
			if tt.cutToLB {
				wantEnd = lb
			}
			v, rec, err := OpenAppend(dir, "v1")
			if err != nil {
				t.Fatalf("OpenAppend: %v", err)
			}
			if rec == nil || rec.Path != path || rec.ValidEnd != wantEnd || rec.OldSize != old || rec.Reason == "" {
				t.Fatalf("Recovery = %+v, want end %d old size %d", rec, wantEnd, old)
			}
			if got := fileSize(t, path); got != wantEnd || v.Size() != wantEnd {
				t.Fatalf("size after recovery %d (volume says %d), want %d", got, v.Size(), wantEnd)
			}
			w3 := writeSession(t, v, rand.New(rand.NewPCG(5, 5)), sessionSpec{id: 3, records: 5, maxSize: 1000, status: SessionOK})
			v.Close()
			r := openReader(t, dir, "v1")
			infos, err := r.Sessions()
			if err != nil || len(infos) != 3 || infos[1].Complete || !infos[2].Complete || r.TornAt() != -1 {
				t.Fatalf("Sessions after recovery: %+v %v (torn at %d)", infos, err, r.TornAt())
			}
			checkSessionData(t, r, ws[0])
			checkPositions(t, r, ws[0].recs)
			checkSessionData(t, r, w3)
		})
	}
}

func TestOpenAppendClean(t *testing.T) {
	dir, ws := twoSessions(t, true)
	v, rec, err := OpenAppend(dir, "v1")
	if err != nil || rec != nil {
		t.Fatalf("OpenAppend on a clean volume: %+v %v", rec, err)
	}
	if v.Size() != ws[1].end {
		t.Fatalf("Size = %d, want %d", v.Size(), ws[1].end)
	}
	v.Close()
}

func TestSessionsReportsTornTail(t *testing.T) {
	dir, ws := twoSessions(t, true)
	path := filepath.Join(dir, "v1")
	appendBytes(t, path, garbage(5000))
	r := openReader(t, dir, "v1")
	infos, err := r.Sessions()
	if err != nil || len(infos) != 2 || !infos[1].Complete || r.TornAt() != ws[1].end {
		t.Fatalf("Sessions: %+v %v torn at %d, want %d", infos, err, r.TornAt(), ws[1].end)
	}
}

func TestCorruptBlock(t *testing.T) {
	tests := []struct {
		name   string
		at     func(off int64, n int) int64 // byte to flip, given the block
		reason string
	}{
		{"payload byte", func(off int64, n int) int64 { return off + HeaderSize + int64(n)/3 }, "checksum mismatch"},
		{"last payload byte", func(off int64, n int) int64 { return off + HeaderSize + int64(n) - 1 }, "checksum mismatch"},
		{"crc field", func(off int64, n int) int64 { return off + 29 }, "checksum mismatch"},
		{"magic", func(off int64, n int) int64 { return off }, "bad block magic"},
		{"length field high byte", func(off int64, n int) int64 { return off + 23 }, "payload length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ws := twoSessions(t, true)
			path := filepath.Join(dir, "v1")
			lb, n := lastDataBlock(t, dir, ws[0])
			flipByte(t, path, tt.at(lb, n))
			r := openReader(t, dir, "v1")

			var got [][]byte
			err := r.ReadSession(1, ws[0].start, func(pos Position, p []byte) error {
				if pos.Block == lb {
					t.Fatal("corrupt block handed to fn")
				}
				got = append(got, bytes.Clone(p))
				return nil
			})
			ce := asCorrupt(t, err)
			if ce.Volume != "v1" || ce.Offset != lb || !bytes.Contains([]byte(ce.Error()), []byte(tt.reason)) {
				t.Fatalf("CorruptError = %v, want offset %d and %q", ce, lb, tt.reason)
			}
			if tt.reason == "checksum mismatch" && ce.Seq != uint32(len(got)+1) {
				t.Fatalf("CorruptError seq %d, want %d", ce.Seq, len(got)+1)
			}
			if _, err := r.Sessions(); asCorrupt(t, err).Offset != lb {
				t.Fatalf("Sessions: %v", err)
			}
			if _, _, err := r.ReadBlockAt(lb); asCorrupt(t, err).Offset != lb {
				t.Fatalf("ReadBlockAt: %v", err)
			}
			if _, _, err := OpenAppend(dir, "v1"); asCorrupt(t, err).Offset != lb {
				t.Fatalf("OpenAppend: %v", err)
			}
			checkSessionData(t, r, ws[1])
		})
	}
}

func TestCorruptErrorMessage(t *testing.T) {
	e := &CorruptError{Volume: "v1", Offset: 123, Seq: 4, Reason: "checksum mismatch"}
	if got, want := e.Error(), `volume "v1": block at offset 123 (seq 4): checksum mismatch`; got != want {
		t.Fatalf("Error() = %s, want %s", got, want)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	f.ReadAt(b, off)
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func garbage(n int) []byte {
	rng := rand.New(rand.NewPCG(6, 6))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// faultyFile injects write and fsync failures and counts writes after one.
type faultyFile struct {
	f          *os.File
	writeLimit int64 // bytes accepted before writes fail; <0 no limit
	failSync   bool
	failed     bool
	lateWrites int // write calls after a failure: must stay 0
}

var errInjected = errors.New("injected I/O error")

func (ff *faultyFile) Write(p []byte) (int, error) {
	if ff.failed {
		ff.lateWrites++
	}
	if ff.writeLimit < 0 || int64(len(p)) <= ff.writeLimit {
		ff.writeLimit -= int64(len(p))
		return ff.f.Write(p)
	}
	ff.failed = true
	n, _ := ff.f.Write(p[:ff.writeLimit]) // a short write leaves a torn block
	return n, errInjected
}

func (ff *faultyFile) Sync() error {
	if ff.failSync {
		ff.failed = true
		return errInjected
	}
	return ff.f.Sync()
}

func (ff *faultyFile) Close() error { return ff.f.Close() }

func TestFailedVolumeRefusesWrites(t *testing.T) {
	tests := []struct {
		name   string
		inject func(v *Volume) *faultyFile
	}{
		{"file closed under it", func(v *Volume) *faultyFile {
			v.f.(*os.File).Close()
			return nil
		}},
		{"short write", func(v *Volume) *faultyFile {
			ff := &faultyFile{f: v.f.(*os.File), writeLimit: 3 << 20}
			v.f = ff
			return ff
		}},
		{"fsync error", func(v *Volume) *faultyFile {
			ff := &faultyFile{f: v.f.(*os.File), writeLimit: -1, failSync: true}
			v.f = ff
			return ff
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, v := createVolume(t, "v1")
			ok := writeSession(t, v, rand.New(rand.NewPCG(7, 7)), sessionSpec{id: 1, records: 5, maxSize: 1000, status: SessionOK})
			ff := tt.inject(v)
			err := failSession(v)
			if !errors.Is(err, ErrFailed) || !errors.Is(v.Failed(), ErrFailed) {
				t.Fatalf("session error %v, Failed() %v: want ErrFailed", err, v.Failed())
			}
			if _, err := v.BeginSession(3, nil); !errors.Is(err, ErrFailed) {
				t.Fatalf("BeginSession on failed volume: %v", err)
			}
			if ff != nil && ff.lateWrites != 0 {
				t.Fatalf("%d writes after the failure", ff.lateWrites)
			}
			v.Close()
			// What reached the file is still recoverable up to the last good session.
			v2, _, err := OpenAppend(dir, "v1")
			if err != nil {
				t.Fatalf("OpenAppend after failure: %v", err)
			}
			v2.Close()
			checkSessionData(t, openReader(t, dir, "v1"), ok)
		})
	}
}

// failSession drives a session into the injected failure and checks that
// every later call refuses.
func failSession(v *Volume) error {
	s, err := v.BeginSession(2, nil)
	if err != nil {
		return err
	}
	rec := make([]byte, 700<<10)
	for range 8 {
		if _, err = s.Add(rec); err != nil {
			break
		}
	}
	if err == nil {
		_, err = s.End(SessionOK, Totals{}, nil)
	}
	if _, err2 := s.Add(rec); err2 == nil {
		return errors.New("Add after failure succeeded")
	}
	if err2 := s.Abort(nil); err2 == nil && !s.done {
		return errors.New("Abort after failure succeeded")
	}
	return err
}
