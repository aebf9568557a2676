package datapath

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestLimitWriter: the cap holds (a functional bound, generous for a noisy
// machine) and every byte arrives.
func TestLimitWriter(t *testing.T) {
	var buf bytes.Buffer
	w := LimitWriter(context.Background(), &buf, 1<<20) // 1 MiB/s, burst 64 KiB
	data := bytes.Repeat([]byte("x"), 512<<10)
	start := time.Now()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("512 KiB at 1 MiB/s took %v: not limited", d)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatal("bytes lost")
	}
	if LimitWriter(context.Background(), &buf, 0) != &buf {
		t.Fatal("no limit should return the writer itself")
	}
}

func TestLimitWriterCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if _, err := LimitWriter(ctx, &buf, 1024).Write(make([]byte, 1<<20)); err == nil {
		t.Fatal("canceled write succeeded")
	}
}
