package volume

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		sessions []sessionSpec
	}{
		{"empty session", []sessionSpec{{id: 1, status: SessionOK}}},
		{"small records pack into blocks", []sessionSpec{{id: 7, records: 3000, maxSize: 2000, status: SessionOK}}},
		{"several sessions random sizes up to 2 MiB", []sessionSpec{
			{id: 10, records: 40, maxSize: MaxRecord, status: SessionOK},
			{id: 11, records: 25, maxSize: MaxRecord, status: SessionCanceled},
			{id: 12, records: 60, maxSize: 300 << 10, status: SessionFailed},
		}},
		{"single one-byte record", []sessionSpec{{id: 3, records: 1, maxSize: 1, status: SessionOK}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(tt.name))))
			dir, v := createVolume(t, "v1")
			var ws []wrote
			for _, spec := range tt.sessions {
				ws = append(ws, writeSession(t, v, rng, spec))
			}
			if err := v.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			r := openReader(t, dir, "v1")
			if r.Name() != "v1" {
				t.Fatalf("Name = %q", r.Name())
			}
			checkSessions(t, r, ws)
			for _, w := range ws {
				checkSessionData(t, r, w)
				checkPositions(t, r, w.recs)
			}
		})
	}
}

func TestExactTargetRecord(t *testing.T) {
	dir, v := createVolume(t, "v1")
	s, _ := v.BeginSession(1, nil)
	rec := bytes.Repeat([]byte{7}, BlockTarget)
	p1, _ := s.Add(rec)
	p2, _ := s.Add([]byte{1})
	if p1.Within != 0 || p2.Within != 0 || p2.Block != p1.Block+HeaderSize+BlockTarget {
		t.Fatalf("positions %+v %+v: a full block must be written at once", p1, p2)
	}
	if _, err := s.End(SessionOK, Totals{}, nil); err != nil {
		t.Fatal(err)
	}
	v.Close()
	infos, err := openReader(t, dir, "v1").Sessions()
	if err != nil || infos[0].Totals.DataBlocks != 2 {
		t.Fatalf("Sessions: %+v %v", infos, err)
	}
}

func checkSessions(t *testing.T, r *Reader, ws []wrote) {
	t.Helper()
	infos, err := r.Sessions()
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	if len(infos) != len(ws) || r.TornAt() != -1 {
		t.Fatalf("Sessions: %d sessions, torn at %d; want %d, -1", len(infos), r.TornAt(), len(ws))
	}
	for i, w := range ws {
		in := infos[i]
		want := totalsFor(w)
		want.DataBlocks = in.Totals.DataBlocks
		complete := w.spec.status != 0
		if in.ID != w.spec.id || in.Start != w.start || in.Complete != complete || in.Status != w.spec.status {
			t.Errorf("session %d: got %+v", i, in)
		}
		if complete && (in.End != w.end || in.Totals != want || !bytes.Equal(in.EndMeta, endMeta(w.spec.id))) {
			t.Errorf("session %d: end %d totals %+v meta %q; want %d %+v", i, in.End, in.Totals, in.EndMeta, w.end, want)
		}
		if !bytes.Equal(in.StartMeta, startMeta(w.spec.id)) {
			t.Errorf("session %d: start meta %q", i, in.StartMeta)
		}
	}
}

func checkSessionData(t *testing.T, r *Reader, w wrote) {
	t.Helper()
	got, blocks, err := readAll(r, w.spec.id, w.start)
	if w.spec.status == 0 {
		if !errors.Is(err, ErrIncomplete) {
			t.Fatalf("ReadSession of unended session: %v, want ErrIncomplete", err)
		}
	} else if err != nil {
		t.Fatalf("ReadSession(%d): %v", w.spec.id, err)
	}
	want := joined(w.recs)
	if w.spec.status == 0 {
		want = want[:len(got)] // unflushed records never reached the file
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("session %d: read %d bytes in %d blocks, want %d", w.spec.id, len(got), blocks, len(want))
	}
}

func TestIncompleteSession(t *testing.T) {
	tests := []struct {
		name     string
		sessions []sessionSpec
	}{
		{"only session unended", []sessionSpec{{id: 1, records: 30, maxSize: 200 << 10}}},
		{"complete then incomplete", []sessionSpec{
			{id: 1, records: 20, maxSize: 500 << 10, status: SessionOK},
			{id: 2, records: 30, maxSize: 200 << 10},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, 2))
			dir, v := createVolume(t, "v1")
			var ws []wrote
			for _, spec := range tt.sessions {
				ws = append(ws, writeSession(t, v, rng, spec))
			}
			if err := v.Close(); !errors.Is(err, ErrBusy) {
				t.Fatalf("Close with open session: %v, want ErrBusy", err)
			}
			r := openReader(t, dir, "v1")
			checkSessions(t, r, ws)
			for _, w := range ws {
				checkSessionData(t, r, w)
			}
		})
	}
}

func TestIncompleteThenAppended(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	dir, v := createVolume(t, "v1")
	w1 := writeSession(t, v, rng, sessionSpec{id: 1, records: 10, maxSize: 400 << 10})
	v.Close()
	v, rec, err := OpenAppend(dir, "v1")
	if err != nil || rec != nil {
		t.Fatalf("OpenAppend: %v %+v", err, rec)
	}
	w2 := writeSession(t, v, rng, sessionSpec{id: 2, records: 10, maxSize: 400 << 10, status: SessionOK})
	v.Close()
	r := openReader(t, dir, "v1")
	checkSessions(t, r, []wrote{w1, w2})
	checkSessionData(t, r, w1)
	checkSessionData(t, r, w2)
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, dir string, v *Volume) error
		want error
	}{
		{"second open session", func(t *testing.T, dir string, v *Volume) error {
			v.BeginSession(1, nil)
			_, err := v.BeginSession(2, nil)
			return err
		}, ErrBusy},
		{"record too large", func(t *testing.T, dir string, v *Volume) error {
			s, _ := v.BeginSession(1, nil)
			_, err := s.Add(make([]byte, MaxRecord+1))
			return err
		}, ErrTooLarge},
		{"add after end", func(t *testing.T, dir string, v *Volume) error {
			s, _ := v.BeginSession(1, nil)
			s.End(SessionOK, Totals{}, nil)
			if err := s.Abort(nil); err != nil {
				t.Errorf("Abort after End: %v", err)
			}
			_, err := s.Add([]byte("x"))
			return err
		}, ErrClosed},
		{"begin after close", func(t *testing.T, dir string, v *Volume) error {
			v.Close()
			_, err := v.BeginSession(1, nil)
			return err
		}, ErrClosed},
		{"create existing", func(t *testing.T, dir string, v *Volume) error {
			_, err := Create(dir, "v1")
			return err
		}, os.ErrExist},
		{"reader on a non-volume", func(t *testing.T, dir string, v *Volume) error {
			p := filepath.Join(dir, "junk")
			os.WriteFile(p, []byte("hello, this is not a volume at all, no"), 0o600)
			_, err := OpenReader(p)
			return err
		}, ErrNotVolume},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, v := createVolume(t, "v1")
			defer v.Close()
			if err := tt.run(t, dir, v); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	dir, v := createVolume(t, "v1")
	defer v.Close()
	if _, err := v.BeginSession(0, nil); err == nil {
		t.Error("BeginSession(0) succeeded")
	}
	s, _ := v.BeginSession(5, nil)
	if _, err := s.End(Status(9), Totals{}, nil); err == nil {
		t.Error("End with invalid status succeeded")
	}
	if err := s.Abort([]byte("boom")); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	for _, name := range []string{"", "..", "a/b"} {
		if _, err := Create(dir, name); err == nil {
			t.Errorf("Create(%q) succeeded", name)
		}
	}
	os.Rename(filepath.Join(dir, "v1"), filepath.Join(dir, "v2"))
	if _, _, err := OpenAppend(dir, "v2"); err == nil {
		t.Error("OpenAppend of a renamed volume succeeded")
	}
}

func TestAbortRecordsFailure(t *testing.T) {
	dir, v := createVolume(t, "v1")
	s, _ := v.BeginSession(9, []byte("m"))
	s.Add([]byte("abc"))
	s.Add([]byte("de"))
	if err := s.Abort([]byte("why")); err != nil {
		t.Fatal(err)
	}
	v.Close()
	infos, err := openReader(t, dir, "v1").Sessions()
	want := SessionInfo{ID: 9, Start: s.StartOffset(), End: fileSize(t, filepath.Join(dir, "v1")), Complete: true,
		Status: SessionFailed, Totals: Totals{Records: 2, DataBlocks: 1}, StartMeta: []byte("m"), EndMeta: []byte("why")}
	if err != nil || len(infos) != 1 || !equalInfo(infos[0], want) {
		t.Fatalf("Sessions: %+v %v, want %+v", infos, err, want)
	}
}

func equalInfo(a, b SessionInfo) bool {
	return a.ID == b.ID && a.Start == b.Start && a.End == b.End && a.Complete == b.Complete &&
		a.Status == b.Status && a.Totals == b.Totals && bytes.Equal(a.StartMeta, b.StartMeta) && bytes.Equal(a.EndMeta, b.EndMeta)
}

func TestStatusWhileWriting(t *testing.T) {
	_, v := createVolume(t, "v1")
	defer v.Close()
	s, _ := v.BeginSession(1, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			if v.Size() < 0 || v.Failed() != nil {
				t.Error("bad status")
			}
		}
	}()
	rec := make([]byte, 100<<10)
	for range 50 {
		if _, err := s.Add(rec); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if _, err := s.End(SessionOK, Totals{}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestReadSessionStopsOnCallbackError(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	dir, v := createVolume(t, "v1")
	w := writeSession(t, v, rng, sessionSpec{id: 4, records: 10, maxSize: 600 << 10, status: SessionOK})
	v.Close()
	stop := errors.New("stop")
	calls := 0
	err := openReader(t, dir, "v1").ReadSession(4, w.start, func(Position, []byte) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Fatalf("ReadSession = %v after %d calls, want the callback's error after 1", err, calls)
	}
}
