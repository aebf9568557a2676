package datapath

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestChannel: the socket arrives whoever dials; start and abort reach
// the waiting side; a channel nobody connects to gives up within its limit.
func TestChannel(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", RoleSD, Security{Identity: ids[RoleSD]}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ln.Serve(ctx)
	key := NewKey()

	listening, dialing := NewChannel(), NewChannel()
	defer listening.Close()
	defer dialing.Close()
	listening.ExpectOn(ln, 5, RoleFD, key, ids[RoleFD].PublicKey())
	if _, err := dialing.Dial(ln.Addr().String(), RoleFD, 5, key, ids[RoleSD].PublicKey(), 5*time.Second, Security{Identity: ids[RoleFD]}); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]*Channel{"listening side": listening, "dialing side": dialing} {
		c, err := ch.Wait(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Close()
	}

	dialing.Start()
	if err := dialing.WaitStart(); err != nil {
		t.Fatalf("after Start: %v", err)
	}
	cause := errors.New("canceled by operator")
	listening.Abort(cause)
	if err := listening.WaitStart(); !errors.Is(err, cause) {
		t.Fatalf("after Abort: %v, want the cause", err)
	}

	idle := NewChannel()
	defer idle.Close()
	if _, err := idle.Wait(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nobody connected: %v", err)
	}
}
