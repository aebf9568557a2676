package bus_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/bustest"
	"github.com/ferrybackup/ferry/schemas"
)

// logBuf collects a connection's log lines (and passes them to t.Log).
type logBuf struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog polls until the log holds want after position from.
func (l *logBuf) waitLog(t *testing.T, from int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := l.String()[from:]
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log does not say %q:\n%s", want, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// envelope builds an envelope by hand, bypassing schemas.Encode's checks.
func envelope(t *testing.T, typ string, version int, body []byte) []byte {
	t.Helper()
	b, err := msgpack.Marshal(&schemas.Envelope{Type: typ, Version: version, Body: body})
	must(t, err)
	return b
}

// nested returns n one-element arrays around a nil.
func nested(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n), 0xc0) }

// hostileInputs are messages a peer on the bus could send in place of a
// message of type typ: each must be refused (with an error reply, for a
// request) and logged, saying why (logs).
func hostileInputs(t *testing.T, typ string, maxPayload int) []struct {
	name string
	data []byte
	logs string
} {
	runBody, err := msgpack.Marshal(&schemas.RunRequest{Job: "j"})
	must(t, err)
	wrongType, err := schemas.Encode(schemas.JobsRequest{Limit: 1})
	must(t, err)
	huge := []byte{0xdd, 0xff, 0xff, 0xff, 0xff} // array32 of 2^32-1 items
	return []struct {
		name string
		data []byte
		logs string
	}{
		{"empty", nil, "empty envelope"},
		{"malformed msgpack", []byte("\xc1garbage"), "malformed"},
		{"truncated envelope", envelope(t, typ, schemas.Version, runBody)[:7], "malformed"},
		{"not a map", []byte{0x93, 1, 2, 3}, "malformed"},
		{"unknown version", envelope(t, typ, 99, runBody), "unsupported envelope version: 99"},
		{"version zero", envelope(t, typ, 0, runBody), "unsupported envelope version: 0"},
		{"unknown type name", envelope(t, "no_such_type", schemas.Version, runBody), "unknown message type"},
		{"wrong type for the subject", wrongType, "unexpected message type"},
		{"huge count claim in the body", envelope(t, typ, schemas.Version, huge), "declares 4294967295 items"},
		{"huge count claim in the envelope", append([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, 0xa1, 't'), "malformed"},
		{"huge string claim", envelope(t, typ, schemas.Version, []byte{0x81, 0xa3, 'j', 'o', 'b', 0xdb, 0x7f, 0xff, 0xff, 0xff}), "malformed"},
		{"hostile nesting near the limit", envelope(t, typ, schemas.Version, nested(maxPayload-64)), "nesting deeper"},
		{"hostile nesting in the envelope", append([]byte{0x81, 0xa1, 'x'}, nested(maxPayload/2)...), "nesting deeper"},
	}
}

// TestHostileRequests: a live handler served with bus.Serve gets hostile
// input from a raw NATS client: each request is refused with an error reply
// and logged with its subject, and the handler answers a valid request
// after each one.
func TestHostileRequests(t *testing.T) {
	srv := bustest.Server(t)
	logs := &logBuf{t: t}
	a, err := bus.Connect(srv.ClientURL(), bus.Options{Name: "handler"}, slog.New(slog.NewTextHandler(logs, nil)))
	must(t, err)
	t.Cleanup(a.Close)
	b := bustest.Conn(t, srv, "caller")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	subj, _ := schemas.APIRun.Subject()
	const typ = "run_request"
	_, err = bus.Serve(ctx, a, bus.On(schemas.APIRun, subj, func(_ context.Context, _ string, r schemas.RunRequest) (schemas.RunReply, error) {
		return schemas.RunReply{JobID: int64(len(r.Job))}, nil
	}))
	must(t, err)
	must(t, a.Flush(ctx))
	nc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	defer nc.Close()

	for _, in := range hostileInputs(t, typ, a.MaxPayload()) {
		t.Run(in.name, func(t *testing.T) {
			if len(in.data) > a.MaxPayload() {
				t.Fatalf("input of %d bytes is over the max payload %d", len(in.data), a.MaxPayload())
			}
			from := len(logs.String())
			m, err := nc.Request(subj, in.data, 10*time.Second)
			must(t, err)
			_, err = schemas.Decode[schemas.RunReply](m.Data)
			var re *schemas.RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("reply %v, want an error reply", err)
			}
			if !strings.Contains(re.Msg, in.logs) {
				t.Errorf("error reply %q does not say %q", re.Msg, in.logs)
			}
			logs.waitLog(t, from, "bad request rejected", "subject="+subj, in.logs)
			if got, err := bus.Request(ctx, b, schemas.APIRun, schemas.RunRequest{Job: "ok"}); err != nil || got.JobID != 2 {
				t.Fatalf("after %s: %+v, %v", in.name, got, err)
			}
		})
	}

	t.Run("oversized fails at the sender", func(t *testing.T) {
		big := schemas.RunRequest{Job: strings.Repeat("x", a.MaxPayload())}
		if _, err := bus.Request(ctx, b, schemas.APIRun, big); !errors.Is(err, nats.ErrMaxPayload) {
			t.Fatalf("err %v, want %v", err, nats.ErrMaxPayload)
		}
		if _, err := nc.Request(subj, make([]byte, a.MaxPayload()+1), time.Second); !errors.Is(err, nats.ErrMaxPayload) {
			t.Fatalf("raw request: err %v, want %v", err, nats.ErrMaxPayload)
		}
	})
	t.Run("oversized from a client that ignores the limit", func(t *testing.T) {
		reply := rawOversized(t, srv.ClientURL(), subj, a.MaxPayload()+1)
		if !strings.Contains(reply, "Maximum Payload") {
			t.Errorf("the server said %q, want a max payload violation", reply)
		}
	})
	t.Run("no reply subject", func(t *testing.T) {
		from := len(logs.String())
		must(t, nc.Publish(subj, envelope(t, typ, 99, nil)))
		logs.waitLog(t, from, "bad request rejected", "unsupported envelope version")
	})
	if got, err := bus.Request(ctx, b, schemas.APIRun, schemas.RunRequest{Job: "last"}); err != nil || got.JobID != 4 {
		t.Fatalf("at the end: %+v, %v", got, err)
	}
}

// rawOversized speaks the NATS protocol over TCP and publishes a message of
// n bytes, above the server's limit; it returns what the server says.
func rawOversized(t *testing.T, clientURL, subj string, n int) string {
	t.Helper()
	u, err := url.Parse(clientURL)
	must(t, err)
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	must(t, err)
	defer c.Close()
	must(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("server greeting %q, %v", line, err)
	}
	fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB %s _INBOX.x %d\r\n", subj, n)
	go func() { _, _ = c.Write(append(make([]byte, n), '\r', '\n')) }()
	var said strings.Builder
	for {
		line, err := r.ReadString('\n')
		said.WriteString(line)
		if err != nil || strings.HasPrefix(line, "-ERR") {
			if err != nil && err != io.EOF && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				t.Logf("reading the server: %v", err)
			}
			return said.String()
		}
	}
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// TestHostileSubscribe: a subscriber bound with bus.Listen drops and logs
// hostile messages and still receives a valid one.
func TestHostileSubscribe(t *testing.T) {
	srv := bustest.Server(t)
	logs := &logBuf{t: t}
	a, err := bus.Connect(srv.ClientURL(), bus.Options{Name: "listener"}, slog.New(slog.NewTextHandler(logs, nil)))
	must(t, err)
	t.Cleanup(a.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan schemas.Progress, 16)
	_, err = bus.Serve(ctx, a, bus.Listen(schemas.JobProgress, schemas.JobProgress.Wildcard(), func(_ string, p schemas.Progress) { got <- p }))
	must(t, err)
	must(t, a.Flush(ctx))
	nc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	defer nc.Close()
	subj, _ := schemas.JobProgress.Subject("7")
	const typ = "progress"
	valid, err := schemas.Encode(schemas.Progress{JobID: 7, Bytes: 1})
	must(t, err)

	for _, in := range hostileInputs(t, typ, a.MaxPayload()) {
		t.Run(in.name, func(t *testing.T) {
			from := len(logs.String())
			must(t, nc.Publish(subj, in.data))
			logs.waitLog(t, from, "bad message dropped", "subject="+subj, in.logs)
			must(t, nc.Publish(subj, valid))
			select {
			case p := <-got:
				if p.JobID != 7 {
					t.Fatalf("got %+v", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the subscriber stopped receiving")
			}
			if len(got) != 0 {
				t.Fatalf("a hostile message was delivered: %+v", <-got)
			}
		})
	}
}
