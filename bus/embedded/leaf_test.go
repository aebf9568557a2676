package embedded_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/ferrybackup/ferry/schemas"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hubAndLeaf starts a hub whose configuration comes from natsconf with one
// passive client, and that client's own server; password is what the hub
// presents.
func hubAndLeaf(t *testing.T, password string) (*embedded.Server, *embedded.Server, *bus.Conn, *bus.Conn) {
	t.Helper()
	leafPort := freePort(t)
	leaf, err := embedded.StartLeaf(embedded.LeafConfig{Name: "fd-db1", Listen: "127.0.0.1:" + strconv.Itoa(leafPort), User: "db1", Password: "right"}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leaf.Shutdown)
	conf, err := natsconf.Config(natsconf.Server{Name: "hub", Listen: "127.0.0.1:0", StoreDir: t.TempDir(),
		Passive: []natsconf.Passive{{Name: "db1", Address: "127.0.0.1", LeafPort: leafPort, Password: password}}})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := embedded.Start(embedded.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), JetStream: true, Name: "hub", ConfText: conf}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	dir, err := bus.Connect(hub.ClientURL(), bus.Options{Name: "director"}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dir.Close)
	fd, err := bus.Connect("", bus.Options{Name: "fd db1", Extra: []natsOption{leaf.InProcess()}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fd.Close)
	return hub, leaf, dir, fd
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeafLink(t *testing.T) {
	hub, leaf, dir, fd := hubAndLeaf(t, "right")
	waitFor(t, "the hub links to the passive client", func() bool { return leaf.LeafLinks() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	prep, _ := schemas.FDPrepare.Subject("db1")
	_, err := bus.Handle(ctx, fd, schemas.FDPrepare, prep, func(_ context.Context, _ string, r schemas.PrepareJob) (schemas.Ack, error) {
		return schemas.Ack{Note: "prepared " + strconv.FormatInt(r.JobID, 10)}, nil
	})
	must(t, err)
	report, _ := schemas.DirReport.Subject("fd", "db1")
	got := make(chan int64, 1)
	_, err = bus.Handle(ctx, dir, schemas.DirReport, report, func(_ context.Context, _ string, r schemas.AgentReport) (schemas.Ack, error) {
		got <- r.JobID
		return schemas.Ack{}, nil
	})
	must(t, err)
	beats := make(chan schemas.Heartbeat, 8)
	_, err = bus.Subscribe(dir, schemas.Presence, schemas.Presence.Wildcard(), func(_ string, hb schemas.Heartbeat) { beats <- hb })
	must(t, err)
	must(t, dir.Flush(ctx))
	must(t, fd.Flush(ctx))

	t.Run("director command reaches the passive fd", func(t *testing.T) {
		var ack schemas.Ack
		waitFor(t, "the fd's subscription crossed the link", func() bool {
			var err error
			ack, err = bus.Request(ctx, dir, schemas.FDPrepare, schemas.PrepareJob{JobID: 7}, "db1")
			return err == nil
		})
		if ack.Note != "prepared 7" {
			t.Fatalf("ack %+v", ack)
		}
	})
	t.Run("fd report reaches the director", func(t *testing.T) {
		_, err := bus.Deliver(ctx, fd, schemas.DirReport, schemas.AgentReport{JobID: 9, OK: true}, "fd", "db1")
		must(t, err)
		if id := <-got; id != 9 {
			t.Fatalf("job %d", id)
		}
	})
	t.Run("fd heartbeat reaches the director", func(t *testing.T) {
		waitFor(t, "a heartbeat", func() bool {
			must(t, bus.Publish(fd, schemas.Presence, schemas.Heartbeat{Name: "db1", Role: "fd"}, "fd", "db1"))
			select {
			case hb := <-beats:
				return hb.Name == "db1"
			case <-time.After(100 * time.Millisecond):
				return false
			}
		})
	})
	t.Run("the fd cannot reach what is not its own", func(t *testing.T) {
		_, err := bus.Request(ctx, fd, schemas.APIRun, schemas.RunRequest{Job: "x"})
		if !errors.Is(err, bus.ErrNoResponders) {
			t.Fatalf("console API from a passive fd: %v, want no responders", err)
		}
		_, err = bus.Request(ctx, fd, schemas.DirReport, schemas.AgentReport{JobID: 1}, "fd", "web1")
		if !errors.Is(err, bus.ErrNoResponders) {
			t.Fatalf("report in another client's name: %v, want no responders", err)
		}
	})
	t.Run("JetStream works in the Ferry account", func(t *testing.T) {
		must(t, bus.EnsureEventStream(ctx, dir, time.Hour, 1<<20))
		must(t, bus.PublishEvent(ctx, dir, schemas.JobEvent{JobID: 1, Event: schemas.EventCreated}))
	})
	t.Run("link status", func(t *testing.T) {
		links := hub.Links()
		if len(links) != 1 || !links[0].Up || links[0].Account != "FD_db1" {
			t.Fatalf("links %+v", links)
		}
	})
}

func TestLeafWrongPassword(t *testing.T) {
	hub, leaf, _, _ := hubAndLeaf(t, "wrong")
	waitFor(t, "a link error is recorded", func() bool {
		l := hub.Links()
		return len(l) == 1 && l[0].LastError != ""
	})
	if leaf.LeafLinks() != 0 || hub.Links()[0].Up {
		t.Fatal("a hub with the wrong password got a link")
	}
	if e := hub.Links()[0].LastError; strings.Contains(e, "wrong") {
		t.Fatalf("the password leaks into the link error: %s", e)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
