package datapath

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// streamRecorder collects what a Writer puts on the wire, with the time
// each chunk arrived.
type streamRecorder struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	at    []time.Time
	wrote chan struct{} // one token per Write, never blocks
}

func newStreamRecorder() *streamRecorder { return &streamRecorder{wrote: make(chan struct{}, 1024)} }

func (s *streamRecorder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	s.at = append(s.at, time.Now())
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *streamRecorder) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

// kinds returns the record kinds of a whole stream.
func kinds(t *testing.T, stream []byte) []Kind {
	t.Helper()
	var out []Kind
	if err := SplitRecords(stream, func(k Kind, p, _ []byte) error {
		if k == KindHeartbeat && len(p) != 0 {
			t.Errorf("heartbeat with a %d-byte payload", len(p))
		}
		out = append(out, k)
		return nil
	}); err != nil {
		t.Fatalf("stream does not split into records: %v", err)
	}
	return out
}

func count(ks []Kind, k Kind) int {
	n := 0
	for _, x := range ks {
		if x == k {
			n++
		}
	}
	return n
}

// An idle sender with heartbeats on emits heartbeat records, each flushed
// at once, and none after the stream end.
func TestHeartbeatsWhenIdle(t *testing.T) {
	const every = 20 * time.Millisecond
	out := newStreamRecorder()
	w := NewWriter(out)
	stop := w.StartHeartbeats(testCtx(t), every)
	defer stop()
	start := time.Now()
	time.Sleep(10 * every)
	if n := count(kinds(t, out.bytes()), KindHeartbeat); n < 3 {
		t.Fatalf("%d heartbeats in %s of quiet with a %s period, want several", n, time.Since(start), every)
	}
	if err := w.Header(&FileHeader{Path: []byte("a"), Type: TypeRegular, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Data([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.Trailer(&FileTrailer{Bytes: 3}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * every)
	if err := w.End(&StreamEnd{Files: 1, Bytes: 3}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * every)
	stop()
	ks := kinds(t, out.bytes())
	if ks[len(ks)-1] != KindStreamEnd {
		t.Fatalf("records after the stream end: %v", ks)
	}
	// Heartbeats only between records: the file's records arrive whole and
	// in order.
	var rest []Kind
	for _, k := range ks {
		if k != KindHeartbeat {
			rest = append(rest, k)
		}
	}
	if want := []Kind{KindFileHeader, KindData, KindFileTrailer, KindStreamEnd}; !equalKinds(rest, want) {
		t.Fatalf("records without heartbeats %v, want %v", rest, want)
	}
}

func equalKinds(a, b []Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Records still in the buffer are pushed out after a quiet period, instead
// of a heartbeat: a slow walk reaches the receiver at most a period late.
func TestHeartbeatsFlushBufferedRecords(t *testing.T) {
	const every = 30 * time.Millisecond
	out := newStreamRecorder()
	w := NewWriter(out)
	stop := w.StartHeartbeats(testCtx(t), every)
	defer stop()
	if err := w.Header(&FileHeader{Path: []byte("slow/file"), Type: TypeRegular}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(testDeadline)
	for len(out.bytes()) == 0 {
		select {
		case <-out.wrote:
		case <-deadline:
			t.Fatal("a buffered header never went out")
		}
	}
	if ks := kinds(t, out.bytes()); ks[0] != KindFileHeader {
		t.Fatalf("first records %v, want the buffered header first", ks)
	}
}

// A sender that keeps writing (and flushing) more often than the period
// gets no heartbeats.
func TestNoHeartbeatsWhileBusy(t *testing.T) {
	const every = 300 * time.Millisecond
	out := newStreamRecorder()
	w := NewWriter(out)
	stop := w.StartHeartbeats(testCtx(t), every)
	for end := time.Now().Add(3 * every); time.Now().Before(end); {
		if err := w.Data([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if n := count(kinds(t, out.bytes()), KindHeartbeat); n != 0 {
		t.Fatalf("%d heartbeats while the sender wrote every 5 ms", n)
	}
}

// Heartbeats and a sender writing from another goroutine never interleave
// inside a record (run with -race).
func TestHeartbeatsConcurrentWithRecords(t *testing.T) {
	pr, pw := io.Pipe()
	w := NewWriter(pw)
	stop := w.StartHeartbeats(testCtx(t), time.Millisecond)
	chunk := pattern(MaxChunk + 1000) // two data records
	const files = 40
	sent := make(chan error, 1)
	go func() {
		defer pw.Close()
		for i := range files {
			if err := w.Header(&FileHeader{Path: []byte("f"), Type: TypeRegular, Size: int64(len(chunk))}); err != nil {
				sent <- err
				return
			}
			if i%8 == 0 {
				time.Sleep(30 * time.Millisecond) // quiet: heartbeats go out
			}
			if err := w.Data(chunk); err != nil {
				sent <- err
				return
			}
			if err := w.Trailer(&FileTrailer{Bytes: int64(len(chunk))}); err != nil {
				sent <- err
				return
			}
		}
		sent <- w.End(&StreamEnd{Files: files, Bytes: files * int64(len(chunk))})
	}()
	r := NewReader(pr)
	var beats, data int
	var got []byte
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("after %d data records: %v", data, err)
		}
		if rec.Kind == KindStreamEnd {
			break
		}
		switch rec.Kind {
		case KindHeartbeat:
			beats++
		case KindData:
			data++
			got = append(got, rec.Payload...)
			if len(got) == len(chunk) {
				if !bytes.Equal(got, chunk) {
					t.Fatal("data changed on the way")
				}
				got = got[:0]
			}
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	stop()
	if data != 2*files {
		t.Fatalf("%d data records, want %d", data, 2*files)
	}
	if beats == 0 {
		t.Fatal("no heartbeat in 150 ms of pauses with a 1 ms period")
	}
	t.Logf("%d heartbeats among %d records", beats, 3*files+1)
}

// Heartbeats end with the context, with stop, and after a failed write; a
// zero period starts nothing.
func TestHeartbeatsStop(t *testing.T) {
	w := NewWriter(io.Discard)
	w.StartHeartbeats(context.Background(), 0)() // nothing to stop

	ctx, cancel := context.WithCancel(context.Background())
	out := newStreamRecorder()
	w = NewWriter(out)
	stop := w.StartHeartbeats(ctx, time.Millisecond)
	cancel()
	done := make(chan struct{})
	go func() { stop(); stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(testDeadline):
		t.Fatal("stop did not return after the context ended")
	}
	n := len(out.bytes())
	time.Sleep(20 * time.Millisecond)
	if len(out.bytes()) != n {
		t.Fatal("heartbeats after stop")
	}

	// A failed heartbeat ends the heartbeats; the sender gets its error.
	fw := &failingWriter{err: errors.New("connection reset")}
	w = NewWriter(fw)
	stop = w.StartHeartbeats(context.Background(), time.Millisecond)
	defer stop()
	deadline := time.Now().Add(testDeadline)
	for fw.calls() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if c := fw.calls(); c != 1 {
		t.Fatalf("%d writes to a failed stream, want the one that failed", c)
	}
	if err := w.Header(&FileHeader{Path: []byte("x")}); err == nil || err.Error() != "connection reset" {
		t.Fatalf("sender after a failed heartbeat: %v, want the heartbeat's error", err)
	}
}

type failingWriter struct {
	mu  sync.Mutex
	n   int
	err error
}

func (f *failingWriter) Write([]byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return 0, f.err
}

func (f *failingWriter) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func TestKeepAliveFromMs(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want time.Duration
	}{
		{0, DefaultKeepAlive}, // absent: an older director
		{-1, 0},               // off
		{-5000, 0},
		{1500, 1500 * time.Millisecond},
		{30000, 30 * time.Second},
	} {
		if got := KeepAliveFromMs(tc.ms); got != tc.want {
			t.Errorf("KeepAliveFromMs(%d) = %s, want %s", tc.ms, got, tc.want)
		}
	}
}

func TestKeepAliveConfig(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		count int
	}{
		{2 * time.Second, 30},        // a silent peer is dropped after 2 s + 60 s
		{500 * time.Millisecond, 60}, // the kernel probes every second
		{1500 * time.Millisecond, 30},
		{15 * time.Second, 9}, // at least 9 probes, as Linux by default
		{time.Hour, 9},
	} {
		c := KeepAliveConfig(tc.every)
		if !c.Enable || c.Idle != tc.every || c.Interval != tc.every || c.Count != tc.count {
			t.Errorf("KeepAliveConfig(%s) = %+v, want idle and interval %s, %d probes", tc.every, c, tc.every, tc.count)
		}
	}
	if c := KeepAliveConfig(0); c.Enable {
		t.Errorf("KeepAliveConfig(0) = %+v, want disabled", c)
	}
}

// SetKeepAlive reaches the kernel on both ends of a data socket.
func TestSetKeepAlive(t *testing.T) {
	l, _ := startListener(t)
	key := NewKey()
	x := expect(l, 9, RoleSD, key)
	dialed := mustDial(t, l, RoleSD, 9, key)
	accepted := mustWait(t, x)
	for _, c := range []net.Conn{dialed, accepted} {
		if err := SetKeepAlive(c, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := sockopts(t, c); got != [4]int{1, 2, 2, 30} {
			t.Errorf("%s: keepalive, idle, interval, count = %v, want [1 2 2 30]", c.LocalAddr(), got)
		}
		if err := SetKeepAlive(c, 0); err != nil {
			t.Fatal(err)
		}
		if got := sockopts(t, c); got[0] != 0 {
			t.Errorf("%s: keepalive still on after SetKeepAlive(0)", c.LocalAddr())
		}
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := SetKeepAlive(a, time.Second); err != nil {
		t.Errorf("SetKeepAlive on a pipe: %v", err)
	}
}

// sockopts reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
func sockopts(t *testing.T, c net.Conn) [4]int {
	t.Helper()
	rc, err := rawConn(c).(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var out [4]int
	var gerr error
	err = rc.Control(func(fd uintptr) {
		for i, o := range []struct{ level, opt int }{
			{unix.SOL_SOCKET, unix.SO_KEEPALIVE},
			{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
			{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
			{unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
		} {
			v, err := unix.GetsockoptInt(int(fd), o.level, o.opt)
			if err != nil {
				gerr = err
				return
			}
			out[i] = v
		}
	})
	if err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return out
}
