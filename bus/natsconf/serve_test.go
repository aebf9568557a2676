package natsconf_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
)

// connect joins the bus as m the way an agent will: bus.Connect with its
// nkey and inbox prefix. The refusals this test provokes are checked by
// their outcome; the handler keeps nats.go from printing each one.
func connect(t *testing.T, url string, m *member) *bus.Conn {
	t.Helper()
	opts := append(authOpts(m), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	c, err := bus.Connect(url, bus.Options{Name: m.String(), Extra: opts}, quiet())
	if err != nil {
		t.Fatalf("%s: %v", m, err)
	}
	t.Cleanup(c.Close)
	return c
}

func find(ms []*member, name string) *member {
	for _, m := range ms {
		if m.name == name {
			return m
		}
	}
	panic("no member " + name)
}

// TestPermissionsServe runs the bus's real request/reply, heartbeat and
// event paths under the generated permissions: services answer through
// allow_responses alone, consoles and hooks follow the event stream with
// only the consumer subjects, and what an agent may not do fails.
func TestPermissionsServe(t *testing.T) {
	ms := roster(t)
	srv := startSecured(t, ms, nil)
	url := srv.ClientURL()
	dir := connect(t, url, find(ms, "dir1"))
	web1 := connect(t, url, find(ms, "web1"))
	site1 := connect(t, url, find(ms, "site1"))
	ops := connect(t, url, find(ms, "ops"))
	hook := connect(t, url, find(ms, "hook"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	reports := map[string]int{}
	beats := map[string]int{}
	_, err := bus.Handle(ctx, dir, schemas.DirReport, schemas.DirReport.Wildcard(), func(_ context.Context, subj string, r schemas.AgentReport) (schemas.Ack, error) {
		mu.Lock()
		reports[subj]++
		mu.Unlock()
		return schemas.Ack{Note: "report " + strconv.FormatInt(r.JobID, 10)}, nil
	})
	must(err)
	_, err = bus.Handle(ctx, dir, schemas.DirFiles, schemas.DirFiles.Wildcard(), func(_ context.Context, subj string, _ schemas.FileChunk) (schemas.Ack, error) {
		return schemas.Ack{Note: subj}, nil
	})
	must(err)
	_, err = bus.Handle(ctx, dir, schemas.APIStatus, schemas.APIStatus.Wildcard(), func(context.Context, string, schemas.StatusRequest) (schemas.StatusReply, error) {
		return schemas.StatusReply{}, nil
	})
	must(err)
	_, err = bus.Subscribe(dir, schemas.Presence, schemas.Presence.Wildcard(), func(subj string, _ schemas.Heartbeat) {
		mu.Lock()
		beats[subj]++
		mu.Unlock()
	})
	must(err)
	prep, _ := schemas.FDPrepare.Subject("web1")
	_, err = bus.Handle(ctx, web1, schemas.FDPrepare, prep, func(_ context.Context, _ string, r schemas.PrepareJob) (schemas.Ack, error) {
		return schemas.Ack{Note: "prepared " + strconv.FormatInt(r.JobID, 10)}, nil
	})
	must(err)
	for _, c := range []*bus.Conn{dir, web1, site1, ops, hook} {
		must(c.Ready(ctx))
	}

	// Requests both ways: each answer goes through allow_responses.
	ack, err := bus.Request(ctx, dir, schemas.FDPrepare, schemas.PrepareJob{JobID: 7}, "web1")
	if err != nil || ack.Note != "prepared 7" {
		t.Fatalf("director → fd web1 prepare: %v %v", ack, err)
	}
	if ack, err = bus.Deliver(ctx, web1, schemas.DirReport, schemas.AgentReport{JobID: 7}, "fd", "web1"); err != nil || ack.Note != "report 7" {
		t.Fatalf("fd web1 → director report: %v %v", ack, err)
	}
	if ack, err = bus.Request(ctx, site1, schemas.DirFiles, schemas.FileChunk{JobID: 7}, "site1"); err != nil || ack.Note != "ferry.dir.files.site1" {
		t.Fatalf("sd site1 → director files: %v %v", ack, err)
	}
	if _, err = bus.Request(ctx, ops, schemas.APIStatus, schemas.StatusRequest{}); err != nil {
		t.Fatalf("console → director status: %v", err)
	}

	// Refused publishes reach nobody: the requests time out.
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 300*time.Millisecond) }
	sctx, scancel := short()
	_, err = bus.Request(sctx, web1, schemas.DirReport, schemas.AgentReport{JobID: 7}, "fd", "web2")
	scancel()
	if err == nil {
		t.Error("fd web1 delivered a report as web2")
	}
	sctx, scancel = short()
	_, err = bus.Request(sctx, ops, schemas.FDPrepare, schemas.PrepareJob{JobID: 8}, "web1")
	scancel()
	if err == nil {
		t.Error("console commanded fd web1")
	}
	sctx, scancel = short()
	_, err = bus.Request(sctx, web1, schemas.APIStatus, schemas.StatusRequest{})
	scancel()
	if err == nil {
		t.Error("fd web1 used the console API")
	}

	// Heartbeats: only in the agent's own name.
	must(bus.Publish(web1, schemas.Presence, schemas.Heartbeat{Name: "web1", Role: "fd"}, "fd", "web1"))
	must(bus.Publish(web1, schemas.Presence, schemas.Heartbeat{Name: "web2", Role: "fd"}, "fd", "web2"))
	must(web1.Flush(ctx))
	must(dir.Flush(ctx))
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if beats["ferry.presence.fd.web1"] != 1 || beats["ferry.presence.fd.web2"] != 0 {
		t.Errorf("director heard %v", beats)
	}
	if reports["ferry.dir.report.fd.web2"] != 0 {
		t.Errorf("director got reports %v", reports)
	}
	mu.Unlock()

	// Events: the director keeps the stream; a console and a hook replay
	// and follow it; an fd cannot open a consumer.
	must(bus.EnsureEventStream(ctx, dir, time.Hour, 1<<20))
	must(bus.PublishEvent(ctx, dir, schemas.JobEvent{JobID: 42, Event: schemas.EventFinished}))
	filter, _ := schemas.JobEvents.Filter("42", "*")
	for name, c := range map[string]*bus.Conn{"ops": ops, "hook": hook} {
		events, err := bus.WatchEvents(ctx, c, filter, true)
		if err != nil {
			t.Fatalf("%s: watch: %v", name, err)
		}
		select {
		case ev := <-events:
			if ev.JobID != 42 {
				t.Errorf("%s: event %+v", name, ev)
			}
		case <-ctx.Done():
			t.Fatalf("%s: no event", name)
		}
	}
	live, err := bus.WatchEvents(ctx, ops, schemas.JobEvents.Wildcard(), false)
	must(err)
	must(bus.PublishEvent(ctx, dir, schemas.JobEvent{JobID: 43, Event: schemas.EventFinished}))
	select {
	case ev := <-live:
		if ev.JobID != 43 {
			t.Errorf("live event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("console: no live event")
	}
	sctx, scancel = context.WithTimeout(ctx, time.Second)
	_, err = bus.WatchEvents(sctx, web1, filter, true)
	scancel()
	if err == nil {
		t.Error("fd web1 opened a consumer on the event stream")
	}
	// A console cannot change the stream.
	sctx, scancel = short()
	err = bus.EnsureEventStream(sctx, ops, time.Minute, 1<<10)
	scancel()
	if err == nil {
		t.Error("console updated the event stream")
	}
}

// TestPermissionsPassive: with users in the FERRY account, a passive
// client still serves and reports through its own account: the director
// answers the client's requests (whose replies the server maps across the
// accounts) with allow_responses too.
func TestPermissionsPassive(t *testing.T) {
	ms := roster(t)
	leafPort := freePort(t)
	leaf, err := embedded.StartLeaf(embedded.LeafConfig{Name: "fd-p1", Listen: "127.0.0.1:" + strconv.Itoa(leafPort), User: "p1", Password: "pw"}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leaf.Shutdown)
	srv := startSecured(t, ms, []natsconf.Passive{{Name: "p1", Address: "127.0.0.1", LeafPort: leafPort, Password: "pw"}})
	dir := connect(t, srv.ClientURL(), find(ms, "dir1"))
	p1, err := bus.Connect("", bus.Options{Name: "fd p1", Extra: []nats.Option{leaf.InProcess()}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p1.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	deadline := time.Now().Add(10 * time.Second)
	for leaf.LeafLinks() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the hub did not link to the passive client")
		}
		time.Sleep(20 * time.Millisecond)
	}
	prep, _ := schemas.FDPrepare.Subject("p1")
	if _, err := bus.Handle(ctx, p1, schemas.FDPrepare, prep, func(_ context.Context, _ string, r schemas.PrepareJob) (schemas.Ack, error) {
		return schemas.Ack{Note: "prepared " + strconv.FormatInt(r.JobID, 10)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Handle(ctx, dir, schemas.DirReport, schemas.DirReport.Wildcard(), func(_ context.Context, subj string, _ schemas.AgentReport) (schemas.Ack, error) {
		return schemas.Ack{Note: subj}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p1.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dir.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	// Interest crosses the leafnode link asynchronously: retry until the
	// passive client's service is reachable.
	var ack schemas.Ack
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		ack, err = bus.Request(rctx, dir, schemas.FDPrepare, schemas.PrepareJob{JobID: 9}, "p1")
		rcancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || ack.Note != "prepared 9" {
		t.Fatalf("director → passive p1: %v %v", ack, err)
	}
	ack, err = bus.Deliver(ctx, p1, schemas.DirReport, schemas.AgentReport{JobID: 9}, "fd", "p1")
	if err != nil || ack.Note != "ferry.dir.report.fd.p1" {
		t.Fatalf("passive p1 → director: %v %v", ack, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
