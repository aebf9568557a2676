package sd

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/bustest"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// TestStoreSkipsHeartbeats: a stream from a sender with heartbeats on is
// stored without them (the volume holds the file's records only), counts
// and totals agree, and the first data time is the header's, not the
// first heartbeat's.
func TestStoreSkipsHeartbeats(t *testing.T) {
	conn := bustest.Conn(t, bustest.Server(t), "sd-test")
	dir := t.TempDir()
	v, err := volume.Create(dir, "vol1")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	vs, err := v.BeginSession(testJob, []byte("job=42"))
	if err != nil {
		t.Fatal(err)
	}
	s := &session{open: schemas.SessionOpen{JobID: testJob, Kind: schemas.KindBackup, Client: "c1"}, vol: v, ch: datapath.NewChannel()}
	defer s.ch.Close()
	st := &storeState{a: &Agent{cfg: Config{Name: "sd1", VolumeDir: dir}, bus: conn}, s: s, vs: vs}
	st.files = bus.NewBatcher(conn, entrySize, st.sendChunk)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	w := datapath.NewWriter(pw)
	stop := w.StartHeartbeats(ctx, 5*time.Millisecond)
	defer stop()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	headerAt := make(chan time.Time, 1)
	sent := make(chan error, 1)
	go func() {
		defer pw.Close()
		quiet := func() { time.Sleep(40 * time.Millisecond) }
		quiet()
		headerAt <- time.Now()
		err := w.Header(&datapath.FileHeader{Path: []byte("slow/file"), Type: datapath.TypeRegular, Size: int64(len(data))})
		if err == nil {
			quiet()
			err = w.Data(data)
		}
		if err == nil {
			quiet()
			err = w.Trailer(&datapath.FileTrailer{Bytes: int64(len(data))})
		}
		if err == nil {
			quiet()
			err = w.End(&datapath.StreamEnd{Files: 1, Bytes: int64(len(data))})
		}
		sent <- err
	}()
	var wire bytes.Buffer
	if err := st.receive(datapath.NewReader(io.TeeReader(pr, &wire))); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	stop()
	beats := 0
	if err := datapath.SplitRecords(wire.Bytes(), func(k datapath.Kind, _, _ []byte) error {
		if k == datapath.KindHeartbeat {
			beats++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if beats < 4 {
		t.Fatalf("%d heartbeats on the wire in four quiet periods of 40 ms with a 5 ms period", beats)
	}
	if st.records != 3 || st.nfiles != 1 || st.nbytes != int64(len(data)) {
		t.Fatalf("stored %d records, %d files, %d bytes; want 3, 1, %d", st.records, st.nfiles, st.nbytes, len(data))
	}
	if at := <-headerAt; st.first.Before(at) {
		t.Errorf("first data at %s, before the header was written (%s): a heartbeat counted as data", st.first, at)
	}
	if _, err := vs.End(volume.SessionOK, volume.Totals{Files: 1, Bytes: uint64(len(data)), Records: st.records}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := volume.OpenReader(filepath.Join(dir, "vol1"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var stored []datapath.Kind
	if err := r.ReadSession(testJob, vs.StartOffset(), func(_ volume.Position, payload []byte) error {
		return datapath.SplitRecords(payload, func(k datapath.Kind, _, _ []byte) error {
			stored = append(stored, k)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	want := []datapath.Kind{datapath.KindFileHeader, datapath.KindData, datapath.KindFileTrailer}
	if len(stored) != len(want) || stored[0] != want[0] || stored[1] != want[1] || stored[2] != want[2] {
		t.Fatalf("volume holds %v, want %v (%d heartbeats were sent)", stored, want, beats)
	}
}
