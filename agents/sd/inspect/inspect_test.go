package inspect_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/sd/inspect"
	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
)

// TestListCompleteAndIncomplete: every file of a complete session comes
// back with its metadata, content count, checksum and position; an unended
// session is listed as far as its blocks go and marked incomplete.
func TestListCompleteAndIncomplete(t *testing.T) {
	path, ws := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK}, spec{id: 43, files: incompleteFiles()})
	for _, verify := range []bool{false, true} {
		t.Run(fmt.Sprintf("verify=%v", verify), func(t *testing.T) {
			l := list(t, path, inspect.Options{Verify: verify})
			if l.err != nil {
				t.Fatalf("Volume: %v", l.err)
			}
			var order []string
			for _, it := range l.items {
				order = append(order, it.Kind.String())
			}
			want := "session start,file,file,file,file,file,session end,session start,file,file,session end"
			if got := strings.Join(order, ","); got != want {
				t.Fatalf("items %s\nwant  %s", got, want)
			}
			checkComplete(t, l, ws[0], verify)
			checkIncomplete(t, l, ws[1], verify)
			s := l.sum
			if s.Volume != "v1" || s.Sessions != 2 || s.Incomplete != 1 || s.Damaged != 0 || s.Corrupt != 0 ||
				s.BadFiles != 0 || s.TornAt != -1 || s.Files != 7 {
				t.Fatalf("summary %+v", s)
			}
		})
	}
}

func checkComplete(t *testing.T, l listing, w wrote, verify bool) {
	t.Helper()
	st := l.kinds(inspect.ItemSessionStart)[0].Start
	if st.ID != 42 || st.Offset != w.start || st.Lost || string(st.Meta) != "job=x client=c1" {
		t.Fatalf("session start %+v", st)
	}
	files := l.files(42)
	for i, tf := range completeFiles() {
		f := files[i]
		h := tf.hdr
		if !bytes.Equal(f.Path, h.Path) || f.Type != h.Type || f.Mode != h.Mode || f.UID != h.UID || f.GID != h.GID ||
			f.Mtime != h.Mtime || f.Size != h.Size || !bytes.Equal(f.LinkTarget, h.LinkTarget) {
			t.Errorf("file %d: got %+v, want header %+v", i, f, h)
		}
		if f.Pos != w.files[i].header || f.Bytes != int64(len(tf.content)) || !f.Trailer || f.TrailerBytes != f.Bytes ||
			f.Flags != tf.flags || f.Damaged || len(f.Problems) != 0 {
			t.Errorf("file %q: %+v", f.Path, f)
		}
		if h.Type == datapath.TypeRegular {
			sum := blake3.Sum256(tf.content)
			if f.Algo != datapath.AlgoBLAKE3 || f.SumHex() != fmt.Sprintf("%x", sum) || f.Verified != verify {
				t.Errorf("file %q: algo %d sum %s verified %v", f.Path, f.Algo, f.SumHex(), f.Verified)
			}
		} else if f.Algo != datapath.AlgoNone || f.Verified {
			t.Errorf("file %q: algo %d verified %v", f.Path, f.Algo, f.Verified)
		}
	}
	if !files[4].Changed() || files[3].Changed() {
		t.Error("changed-while-read flag lost")
	}
	e := l.end(t, 42)
	want := w.totals
	want.DataBlocks = e.Totals.DataBlocks
	if !e.Complete || e.Status != volume.SessionOK || e.Totals != want || e.Start != w.start || e.End != w.end ||
		e.Files != 5 || e.Bytes != int64(w.totals.Bytes) || e.Records != w.totals.Records || e.DataBlocks != 4 || e.Damaged || len(e.Problems) != 0 {
		t.Fatalf("session end %+v, want totals %+v", e, want)
	}
}

func checkIncomplete(t *testing.T, l listing, w wrote, verify bool) {
	t.Helper()
	files := l.files(43)
	if len(files) != 2 {
		t.Fatalf("incomplete session: %d files", len(files))
	}
	a, b := files[0], files[1]
	if string(a.Path) != "a" || !a.Trailer || a.Bytes != 4 || a.Verified != verify || len(a.Problems) != 0 {
		t.Errorf("file a: %+v", a)
	}
	if string(b.Path) != "b" || b.Trailer || b.Bytes != 1<<20 || b.Verified || len(b.Problems) != 0 || b.Damaged ||
		b.Pos != w.files[1].header {
		t.Errorf("file b: %+v", b)
	}
	e := l.end(t, 43)
	if e.Complete || e.Start != w.start || e.Files != 1 || e.Bytes != 4+1<<20 || e.DataBlocks != 2 || e.Damaged {
		t.Fatalf("incomplete session end %+v", e)
	}
}

// TestCorruptDataBlock: a flipped byte is reported with the volume, the
// block's offset and seq; the walk goes on to the next session and the
// result is an error.
func TestCorruptDataBlock(t *testing.T) {
	path, ws := writeVolume(t,
		spec{id: 42, files: completeFiles(), status: volume.SessionOK},
		spec{id: 43, files: incompleteFiles()[:1], status: volume.SessionFailed})
	big := ws[0].files[3]
	bad := big.data[0].Block // seq 2: the first MiB of big.bin
	flipByte(t, path, bad+volume.HeaderSize+1000)
	l := list(t, path, inspect.Options{})
	var ce *volume.CorruptError
	if !errors.As(l.err, &ce) || ce.Volume != "v1" || ce.Offset != bad || ce.Seq != 2 || ce.Reason != "checksum mismatch" {
		t.Fatalf("Volume error %v, want a CorruptError at offset %d seq 2", l.err, bad)
	}
	wantMsg := fmt.Sprintf("volume %q: block at offset %d (seq 2): checksum mismatch", "v1", bad)
	if l.err.Error() != wantMsg {
		t.Fatalf("error %q, want %q", l.err, wantMsg)
	}
	if c := l.kinds(inspect.ItemCorrupt); len(c) != 1 || c[0].Corrupt.Offset != bad {
		t.Fatalf("corrupt items %+v", c)
	}
	f := l.file(t, 42, "big.bin")
	if !f.Damaged || f.Trailer || len(f.Problems) != 1 || !strings.Contains(f.Problems[0], fmt.Sprint(bad)) {
		t.Fatalf("big.bin: %+v", f)
	}
	if got := len(l.files(42)); got != 5 { // big.bin (damaged) and the file after it
		t.Fatalf("session 42: %d files", got)
	}
	e := l.end(t, 42)
	if !e.Complete || !e.Damaged || e.Status != volume.SessionOK || e.End != ws[0].end {
		t.Fatalf("session 42 end %+v", e)
	}
	e = l.end(t, 43)
	if !e.Complete || e.Damaged || e.Status != volume.SessionFailed || len(l.files(43)) != 1 {
		t.Fatalf("session 43 end %+v", e)
	}
	if l.sum.Corrupt != 1 || l.sum.Damaged != 1 || l.sum.Sessions != 2 || l.sum.TornAt != -1 {
		t.Fatalf("summary %+v", l.sum)
	}
}

// TestCorruptStartBlock: the session whose start block is bad is still
// found by its data blocks and listed, marked lost.
func TestCorruptStartBlock(t *testing.T) {
	path, ws := writeVolume(t,
		spec{id: 42, files: completeFiles()[:2], status: volume.SessionOK},
		spec{id: 43, files: completeFiles()[:3], status: volume.SessionOK})
	flipByte(t, path, ws[1].start+volume.HeaderSize+2)
	l := list(t, path, inspect.Options{Verify: true})
	var ce *volume.CorruptError
	if !errors.As(l.err, &ce) || ce.Offset != ws[1].start || ce.Seq != 0 {
		t.Fatalf("Volume error %v", l.err)
	}
	starts := l.kinds(inspect.ItemSessionStart)
	if len(starts) != 2 || !starts[1].Start.Lost || starts[1].Start.ID != 43 || starts[1].Start.Offset != ws[1].start {
		t.Fatalf("starts %+v %+v", starts[0].Start, starts[len(starts)-1].Start)
	}
	if e := l.end(t, 43); !e.Complete || !e.Damaged || !e.Lost || len(l.files(43)) != 3 {
		t.Fatalf("session 43 end %+v, %d files", e, len(l.files(43)))
	}
}

// TestMissingBlock: a whole data block cut out of the middle (valid blocks
// on both sides) is a sequence gap, reported as corruption.
func TestMissingBlock(t *testing.T) {
	path, ws := writeVolume(t,
		spec{id: 42, files: completeFiles(), status: volume.SessionOK},
		spec{id: 43, files: completeFiles()[:1], status: volume.SessionOK})
	big := ws[0].files[3]
	from, to := big.data[0].Block, big.data[1].Block
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b[:from:from], b[to:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	l := list(t, path, inspect.Options{})
	var ce *volume.CorruptError
	if !errors.As(l.err, &ce) || ce.Offset != from || ce.Seq != 3 || !strings.Contains(ce.Reason, "out of sequence") {
		t.Fatalf("Volume error %v", l.err)
	}
	if f := l.file(t, 42, "big.bin"); !f.Damaged {
		t.Fatalf("big.bin %+v", f)
	}
	if e := l.end(t, 42); !e.Complete || !e.Damaged {
		t.Fatalf("session 42 end %+v", e)
	}
	if len(l.files(43)) != 1 {
		t.Fatal("session 43 not listed")
	}
}

// TestTornTail: a volume cut in its last block reports the torn tail, is
// not an error, and still lists what comes before.
func TestTornTail(t *testing.T) {
	path, ws := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK}, spec{id: 43, files: incompleteFiles()})
	last := ws[1].files[1].data[0].Block // b's data block ends the file
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-100); err != nil {
		t.Fatal(err)
	}
	l := list(t, path, inspect.Options{Verify: true})
	if l.err != nil {
		t.Fatalf("Volume: %v", l.err)
	}
	if l.sum.TornAt != last || l.sum.TornReason == "" || l.sum.Corrupt != 0 {
		t.Fatalf("summary %+v, want torn at %d", l.sum, last)
	}
	checkComplete(t, l, ws[0], true)
	e := l.end(t, 43)
	files := l.files(43)
	if e.Complete || e.End != last || len(files) != 2 || !files[0].Trailer || files[1].Trailer || files[1].Bytes != 0 {
		t.Fatalf("session 43 end %+v, files %d", e, len(files))
	}
}

// TestVerify: content changed with the block's CRC made valid again passes
// the block check and the byte count; only --verify's checksum catches it,
// naming the file.
func TestVerify(t *testing.T) {
	path, ws := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK})
	pos := ws[0].files[3].data[1] // big.bin's second MiB
	patchBlock(t, path, pos.Block, func(p []byte) { p[int(pos.Within)+datapath.PrefixLen+12345] ^= 1 })
	if l := list(t, path, inspect.Options{}); l.err != nil {
		t.Fatalf("without verify: %v", l.err)
	}
	l := list(t, path, inspect.Options{Verify: true})
	var fe *inspect.FileError
	if !errors.As(l.err, &fe) || string(fe.Path) != "big.bin" || fe.Session != 42 || fe.Block != ws[0].files[3].header.Block ||
		!strings.Contains(fe.Reason, "checksum mismatch") {
		t.Fatalf("Volume error %v, want a checksum mismatch of big.bin", l.err)
	}
	if !strings.Contains(l.err.Error(), `file "big.bin"`) {
		t.Fatalf("error %q does not name the file", l.err)
	}
	for _, f := range l.files(42) {
		bad := string(f.Path) == "big.bin"
		if f.Verified != (f.Type == datapath.TypeRegular && !bad) || bad != (len(f.Problems) == 1) {
			t.Errorf("file %q: verified %v problems %q", f.Path, f.Verified, f.Problems)
		}
	}
	if l.sum.BadFiles != 1 || l.sum.Corrupt != 0 {
		t.Fatalf("summary %+v", l.sum)
	}
}

// TestVerifyCompressed: zdata records are counted as the content they
// hold and verified after decoding; one that no longer decodes fails its
// file, not the walk.
func TestVerifyCompressed(t *testing.T) {
	path, ws := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK, zstd: true})
	l := list(t, path, inspect.Options{Verify: true})
	if l.err != nil {
		t.Fatal(l.err)
	}
	for _, f := range l.files(42) {
		if f.Verified != (f.Type == datapath.TypeRegular) || len(f.Problems) != 0 || f.Bytes != f.Size {
			t.Errorf("file %q: verified %v, %d bytes of %d, problems %q", f.Path, f.Verified, f.Bytes, f.Size, f.Problems)
		}
	}
	if want := ws[0].totals.Bytes; l.sum.Bytes != int64(want) {
		t.Errorf("summary counts %d bytes, the content is %d", l.sum.Bytes, want)
	}
	pos := ws[0].files[3].data[1] // big.bin's second MiB, compressed
	patchBlock(t, path, pos.Block, func(p []byte) { p[int(pos.Within)+datapath.PrefixLen+40] ^= 0x55 })
	l = list(t, path, inspect.Options{Verify: true})
	var fe *inspect.FileError
	if !errors.As(l.err, &fe) || string(fe.Path) != "big.bin" {
		t.Fatalf("Volume error %v, want a problem of big.bin", l.err)
	}
	if l.sum.BadFiles != 1 || l.sum.Corrupt != 0 {
		t.Fatalf("summary %+v", l.sum)
	}
}

// TestTrailerBytesMismatch: a trailer whose byte count disagrees with the
// data records is reported without --verify.
func TestTrailerBytesMismatch(t *testing.T) {
	path, ws := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK})
	pos := ws[0].files[1].trailer // etc/hosts
	patchBlock(t, path, pos.Block, func(p []byte) {
		// prefix, algo, sum length, 32-byte sum, flags, then bytes
		p[int(pos.Within)+datapath.PrefixLen+1+1+32+4]++
	})
	l := list(t, path, inspect.Options{})
	var fe *inspect.FileError
	if !errors.As(l.err, &fe) || string(fe.Path) != "etc/hosts" || !strings.Contains(fe.Reason, "trailer counts 21 content bytes, the data records hold 20") {
		t.Fatalf("Volume error %v", l.err)
	}
}

// TestMalformedRecord: a record that does not decode, in a block with a
// valid CRC, is corruption of that block.
func TestMalformedRecord(t *testing.T) {
	path, ws := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK})
	pos := ws[0].files[1].header // etc/hosts
	patchBlock(t, path, pos.Block, func(p []byte) { p[pos.Within] = 99 })
	l := list(t, path, inspect.Options{})
	var ce *volume.CorruptError
	if !errors.As(l.err, &ce) || ce.Offset != pos.Block || ce.Seq != 1 || !strings.Contains(ce.Reason, "unknown record kind 99") {
		t.Fatalf("Volume error %v", l.err)
	}
	e := l.end(t, 42)
	if !e.Damaged || len(e.Problems) != 1 || !strings.Contains(e.Problems[0], "2 records") {
		t.Fatalf("session end %+v", e)
	}
	if len(l.files(42)) != 4 { // hosts is gone, the others are listed
		t.Fatalf("%d files", len(l.files(42)))
	}
}

func TestNotAVolume(t *testing.T) {
	path := t.TempDir() + "/junk"
	if err := os.WriteFile(path, bytes.Repeat([]byte("junk"), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := inspect.Volume(path, inspect.Options{}, func(inspect.Item) error { return nil }); !errors.Is(err, volume.ErrNotVolume) {
		t.Fatalf("Volume(junk) = %v", err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	path, _ := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK})
	stop := errors.New("stop")
	n := 0
	_, err := inspect.Volume(path, inspect.Options{}, func(it inspect.Item) error {
		n++
		if it.Kind == inspect.ItemFile {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("Volume = %v after %d items, want the callback's error after 2", err, n)
	}
}

// TestAnyFlippedByte: wherever one byte is flipped, the damage is reported
// (an error, or a torn tail when it hits the last block), never skipped, and
// the bad block is classified as volume.Reader.Sessions classifies it.
func TestAnyFlippedByte(t *testing.T) {
	path, _ := writeVolume(t,
		spec{id: 42, files: completeFiles(), status: volume.SessionOK},
		spec{id: 43, files: incompleteFiles()},
		spec{id: 44, files: completeFiles()[:3], status: volume.SessionCanceled})
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		off := rng.IntN(len(orig))
		b := bytes.Clone(orig)
		b[off] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l := list(t, path, inspect.Options{Verify: true})
		r, rerr := volume.OpenReader(path)
		if rerr != nil {
			if !errors.Is(l.err, volume.ErrNotVolume) {
				t.Fatalf("flip at %d: reader %v, Volume %v", off, rerr, l.err)
			}
			continue
		}
		_, serr := r.Sessions()
		torn := r.TornAt()
		r.Close()
		var ce *volume.CorruptError
		switch {
		case l.err == nil && l.sum.TornAt < 0:
			t.Fatalf("flip at %d: no error and no torn tail", off)
		case errors.As(serr, &ce):
			c := l.kinds(inspect.ItemCorrupt)
			if len(c) == 0 || c[0].Corrupt.Offset != ce.Offset || c[0].Corrupt.Seq != ce.Seq {
				t.Fatalf("flip at %d: Sessions says %v, Volume %v", off, serr, l.err)
			}
		case serr != nil:
			t.Fatalf("flip at %d: Sessions: %v", off, serr)
		case torn != l.sum.TornAt:
			t.Fatalf("flip at %d: torn at %d, Volume says %d (%v)", off, torn, l.sum.TornAt, l.err)
		}
	}
}

// TestBadLengthCannotSkipBlocks: a bad block whose length field was changed
// to land on a later block must not hide the valid blocks it jumps over.
func TestBadLengthCannotSkipBlocks(t *testing.T) {
	path, ws := writeVolume(t, spec{id: 42, files: completeFiles(), status: volume.SessionOK})
	d1, d3 := ws[0].files[0].header.Block, ws[0].files[3].data[1].Block
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[d1+20:], uint32(d3-d1-volume.HeaderSize))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	l := list(t, path, inspect.Options{})
	c := l.kinds(inspect.ItemCorrupt)
	if len(c) != 2 || c[0].Corrupt.Offset != d1 || c[0].Corrupt.Reason != "checksum mismatch" ||
		c[1].Corrupt.Offset != d3 || !strings.Contains(c[1].Corrupt.Reason, "out of sequence, want seq 2") {
		t.Fatalf("corrupt items %v; error %v", c, l.err)
	}
	if !strings.Contains(l.err.Error(), "out of sequence") {
		t.Fatalf("error %v", l.err)
	}
}

// TestCorruptEndBlock: a session whose end block is bad is incomplete and
// damaged; the next session is still listed.
func TestCorruptEndBlock(t *testing.T) {
	path, ws := writeVolume(t,
		spec{id: 42, files: completeFiles()[:2], status: volume.SessionOK},
		spec{id: 43, files: completeFiles()[:2], status: volume.SessionOK})
	flipByte(t, path, ws[1].start-3) // in the end block of job 42
	l := list(t, path, inspect.Options{})
	var ce *volume.CorruptError
	if !errors.As(l.err, &ce) || ce.Seq != 2 {
		t.Fatalf("Volume error %v", l.err)
	}
	if e := l.end(t, 42); e.Complete || !e.Damaged || len(l.files(42)) != 2 {
		t.Fatalf("job 42 end %+v", e)
	}
	if e := l.end(t, 43); !e.Complete || e.Damaged || len(l.files(43)) != 2 {
		t.Fatalf("job 43 end %+v", e)
	}
}

// TestMemoryFlat: listing and verifying a 32 MiB file allocates about one
// block's worth, not the file's size.
func TestMemoryFlat(t *testing.T) {
	path, _ := writeVolume(t, spec{id: 42, files: []tfile{regular("huge", pattern(32<<20, 1))}, status: volume.SessionOK})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := list(t, path, inspect.Options{Verify: true})
	runtime.ReadMemStats(&after)
	if l.err != nil || !l.files(42)[0].Verified {
		t.Fatalf("Volume: %v", l.err)
	}
	n := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes", n)
	if n > 8<<20 {
		t.Fatalf("listing a 32 MiB file allocated %d bytes", n)
	}
}
