package sd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/schemas"
)

// TestChunkSenderOrder: chunks are delivered in order, one at a time, and
// send does not wait for the director while the queue has room.
func TestChunkSenderOrder(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []int
	cs := newChunkSender(context.Background(), func(ctx context.Context, seq int, _ []schemas.FileEntry) error {
		<-release
		mu.Lock()
		got = append(got, seq)
		mu.Unlock()
		return nil
	})
	start := time.Now()
	for seq := range chunkQueue + 1 { // one in delivery, the rest queued
		if err := cs.send(seq, nil); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("send blocked %s while the queue had room", d)
	}
	close(release)
	if err := cs.wait(); err != nil {
		t.Fatal(err)
	}
	for i, seq := range got {
		if seq != i {
			t.Fatalf("delivered %v, want in order", got)
		}
	}
	if len(got) != chunkQueue+1 {
		t.Fatalf("delivered %d chunks, want %d", len(got), chunkQueue+1)
	}
}

// TestChunkSenderError: a failed delivery fails the later sends and wait.
func TestChunkSenderError(t *testing.T) {
	boom := errors.New("director away")
	cs := newChunkSender(context.Background(), func(ctx context.Context, seq int, _ []schemas.FileEntry) error {
		if seq == 1 {
			return boom
		}
		return nil
	})
	var err error
	for seq := 0; seq < 100 && err == nil; seq++ {
		err = cs.send(seq, nil)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("send: %v, want %v", err, boom)
	}
	if err := cs.wait(); !errors.Is(err, boom) {
		t.Fatalf("wait: %v, want %v", err, boom)
	}
	cs.stop() // after wait: harmless
}
