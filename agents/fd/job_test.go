package fd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/datapath"
	"github.com/ferrybackup/ferry/schemas"
)

// TestPrepareRefusesDataSocketMode: a job whose data socket this fd may
// not run is refused when the director prepares it.
func TestPrepareRefusesDataSocketMode(t *testing.T) {
	id, err := identity.New()
	if err != nil {
		t.Fatal(err)
	}
	sdKey := "UBWJ6ZRJ7T2SS4DOKI6ZKTULDPSJLSDHZCJLOMDI6WQBTVX2WQM3KXMU"
	tests := []struct {
		name    string
		cfg     Config
		req     schemas.PrepareJob
		wantErr error
	}{
		{"plain on a secure fd", Config{Identity: id}, schemas.PrepareJob{Plain: true}, datapath.ErrPlainRefused},
		{"plain on an fd with nothing", Config{}, schemas.PrepareJob{Plain: true}, datapath.ErrPlainRefused},
		{"tls without identity", Config{Insecure: true}, schemas.PrepareJob{PeerKey: sdKey}, datapath.ErrNoIdentity},
		{"tls without the sd's identity", Config{Identity: id}, schemas.PrepareJob{}, datapath.ErrNoPeerKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name = "client1"
			a := &Agent{cfg: tc.cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), jobs: map[int64]*job{}}
			req := tc.req
			req.JobID, req.Kind, req.Initiator, req.Key = 7, schemas.KindBackup, schemas.InitiatorFD, datapath.NewKey()
			_, err := a.onPrepare(context.Background(), "", req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err.Error() != "job 7: "+tc.wantErr.Error() {
				t.Errorf("message %q", err)
			}
			if len(a.jobs) != 0 {
				t.Fatal("a refused job was registered")
			}
		})
	}
}
