package sd

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

// TestOpenRefusesDataSocketMode: a session whose data socket this sd may
// not run is refused before it takes a volume or a listener slot.
func TestOpenRefusesDataSocketMode(t *testing.T) {
	id, err := identity.New()
	if err != nil {
		t.Fatal(err)
	}
	fdKey := "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
	tests := []struct {
		name    string
		cfg     Config
		req     schemas.SessionOpen
		wantErr error
	}{
		{"plain on a secure sd", Config{Identity: id}, schemas.SessionOpen{Plain: true}, datapath.ErrPlainRefused},
		{"tls without identity", Config{}, schemas.SessionOpen{PeerKey: fdKey}, datapath.ErrNoIdentity},
		{"tls without identity on an insecure sd", Config{Insecure: true}, schemas.SessionOpen{PeerKey: fdKey}, datapath.ErrNoIdentity},
		{"tls without the fd's identity", Config{Identity: id}, schemas.SessionOpen{}, datapath.ErrNoPeerKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name = "sd1"
			// No volumes, no listener: reaching them would panic.
			a := &Agent{cfg: tc.cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), sessions: map[int64]*session{}}
			req := tc.req
			req.JobID, req.Kind, req.Client, req.Initiator = 7, schemas.KindBackup, "client1", schemas.InitiatorFD
			_, err := a.onOpen(context.Background(), "", req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(a.sessions) != 0 {
				t.Fatal("a refused session was registered")
			}
		})
	}
}
