package bus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/bustest"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
)

func TestRequestHandle(t *testing.T) {
	srv := bustest.Server(t)
	a, b := bustest.Conn(t, srv, "a"), bustest.Conn(t, srv, "b")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subj, _ := schemas.APIRun.Subject()
	_, err := bus.Handle(ctx, a, schemas.APIRun, subj, func(_ context.Context, _ string, r schemas.RunRequest) (schemas.RunReply, error) {
		if r.Job == "bad" {
			return schemas.RunReply{}, errors.New("no job named bad")
		}
		return schemas.RunReply{JobID: int64(len(r.Job))}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	must(t, a.Flush(ctx))
	t.Run("reply", func(t *testing.T) {
		got, err := bus.Request(ctx, b, schemas.APIRun, schemas.RunRequest{Job: "abcd"})
		if err != nil || got.JobID != 4 {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("handler error reaches the caller", func(t *testing.T) {
		_, err := bus.Request(ctx, b, schemas.APIRun, schemas.RunRequest{Job: "bad"})
		var re *schemas.RemoteError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "no job named bad") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad input is refused and the handler keeps serving", func(t *testing.T) {
		nc, err := nats.Connect(srv.ClientURL())
		must(t, err)
		defer nc.Close()
		wrongType, _ := schemas.Encode(schemas.JobsRequest{Limit: 1})
		for _, in := range [][]byte{wrongType, []byte("garbage"), nil} {
			m, err := nc.Request(subj, in, 5*time.Second)
			must(t, err)
			if _, err := schemas.Decode[schemas.RunReply](m.Data); !errors.Is(err, schemas.ErrRemoteRejected) {
				t.Fatalf("input %q: reply %v, want a refusal", in, err)
			}
		}
		if got, err := bus.Request(ctx, b, schemas.APIRun, schemas.RunRequest{Job: "ok"}); err != nil || got.JobID != 2 {
			t.Fatalf("after bad requests: %+v, %v", got, err)
		}
	})
	t.Run("nobody listening fails at once", func(t *testing.T) {
		start := time.Now()
		_, err := bus.Request(ctx, b, schemas.APIJobs, schemas.JobsRequest{})
		if !errors.Is(err, bus.ErrNoResponders) {
			t.Fatalf("err = %v, want ErrNoResponders", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBatcherSplitsByBytes(t *testing.T) {
	srv := bustest.Server(t)
	c := bustest.Conn(t, srv, "a")
	budget := c.MaxPayload() / 2
	var chunks [][]int
	b := bus.NewBatcher(c, func(n int) int { return n }, func(seq int, items []int) error {
		if seq != len(chunks) {
			t.Fatalf("seq %d, want %d", seq, len(chunks))
		}
		chunks = append(chunks, append([]int(nil), items...))
		return nil
	})
	item := budget / 3
	for range 10 {
		must(t, b.Add(item))
	}
	must(t, b.Flush())
	if b.Chunks() != 4 || len(chunks) != 4 {
		t.Fatalf("%d chunks (%d flushed), want 4", b.Chunks(), len(chunks))
	}
	total := 0
	for _, ch := range chunks {
		sum := 0
		for _, n := range ch {
			sum += n
		}
		if sum > budget {
			t.Fatalf("chunk of %d bytes over the budget %d", sum, budget)
		}
		total += len(ch)
	}
	if total != 10 {
		t.Fatalf("%d items flushed, want 10", total)
	}
}

func TestDeliverWaitsForTheReceiver(t *testing.T) {
	srv := bustest.Server(t)
	a, b := bustest.Conn(t, srv, "a"), bustest.Conn(t, srv, "b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := bus.Deliver(ctx, b, schemas.DirReport, schemas.AgentReport{JobID: 7, OK: true}, "fd", "c1")
		done <- err
	}()
	// The first attempt finds nobody; the receiver subscribes only after
	// the sender has seen that (its retry is logged as a failed attempt).
	subj, _ := schemas.DirReport.Subject("fd", "c1")
	got := make(chan int64, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		_, _ = bus.Handle(ctx, a, schemas.DirReport, subj, func(_ context.Context, _ string, r schemas.AgentReport) (schemas.Ack, error) {
			got <- r.JobID
			return schemas.Ack{}, nil
		})
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != 7 {
		t.Fatalf("got job %d", id)
	}
}

func TestWatchEventsReplays(t *testing.T) {
	srv := bustest.Server(t)
	c := bustest.Conn(t, srv, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, bus.EnsureEventStream(ctx, c, time.Hour, 1<<20))
	for _, ev := range []string{schemas.EventCreated, schemas.EventFinished} {
		must(t, bus.PublishEvent(ctx, c, schemas.JobEvent{JobID: 3, Event: ev}))
	}
	filter, _ := schemas.JobEvents.Filter("3", "*")
	ch, err := bus.WatchEvents(ctx, c, filter, true)
	must(t, err)
	for _, want := range []string{schemas.EventCreated, schemas.EventFinished} {
		select {
		case ev := <-ch:
			if ev.Event != want || ev.JobID != 3 {
				t.Fatalf("got %+v, want %s", ev, want)
			}
		case <-ctx.Done():
			t.Fatal("no event")
		}
	}
}

// TestReplyOnlyToInboxes: a request whose reply subject is another agent's
// subject gets no answer there.
func TestReplyOnlyToInboxes(t *testing.T) {
	srv := bustest.Server(t)
	a := bustest.Conn(t, srv, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subj, _ := schemas.APIJobs.Subject()
	_, err := bus.Handle(ctx, a, schemas.APIJobs, subj, func(context.Context, string, schemas.JobsRequest) (schemas.JobsReply, error) {
		return schemas.JobsReply{}, nil
	})
	must(t, err)
	must(t, a.Flush(ctx))
	nc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	defer nc.Close()
	victim, err := nc.SubscribeSync("ferry.fd.web2.abort")
	must(t, err)
	req, _ := schemas.Encode(schemas.JobsRequest{})
	must(t, nc.PublishRequest(subj, "ferry.fd.web2.abort", req))
	if _, err := victim.NextMsg(500 * time.Millisecond); err == nil {
		t.Fatal("a reply landed on another agent's subject")
	}
	if _, err := bus.Request(ctx, bustest.Conn(t, srv, "b"), schemas.APIJobs, schemas.JobsRequest{}); err != nil {
		t.Fatalf("a normal request: %v", err)
	}
}
