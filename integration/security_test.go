package integration

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/ferrybackup/ferry/integration/harness"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectAs opens a raw NATS connection with id's key over the cluster's
// TLS, with subscription refusals reported on the subscription.
func connectAs(t *testing.T, c *harness.Cluster, id *identity.Identity, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	all := append([]nats.Option{
		nats.Nkey(id.PublicKey(), id.Sign), nats.CustomInboxPrefix(natsconf.InboxPrefix(id.PublicKey())),
		nats.Secure(c.Keys.ClientTLS(t)), nats.PermissionErrOnSubscribe(true), nats.MaxReconnects(0),
	}, opts...)
	return nats.Connect(c.NATSURL, all...)
}

// tap listens, with the director's own key, on the subjects the director
// hears, and records every payload that carries marker.
type tap struct {
	mu   sync.Mutex
	seen []string
}

func newTap(t *testing.T, c *harness.Cluster, marker string) *tap {
	t.Helper()
	nc, err := connectAs(t, c, c.Keys.ID("dir1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	tp := &tap{}
	for _, info := range schemas.Subjects() {
		if !slicesHas(info.Sub, schemas.RoleDirector) || info.Transport == schemas.TransportStream {
			continue
		}
		if _, err := nc.Subscribe(info.Pattern, func(m *nats.Msg) {
			if strings.Contains(string(m.Data), marker) {
				tp.mu.Lock()
				tp.seen = append(tp.seen, m.Subject)
				tp.mu.Unlock()
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return tp
}

func (tp *tap) got() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]string(nil), tp.seen...)
}

func slicesHas(rs []schemas.Role, r schemas.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// spoof publishes, as a plain publish and as a request, a message marked
// with marker on each subject.
func spoof(nc *nats.Conn, marker string, subjects ...string) {
	for _, s := range subjects {
		_ = nc.Publish(s, []byte(marker))
		_, _ = nc.Request(s, []byte(marker), 200*time.Millisecond)
	}
	_ = nc.Flush()
}

// TestImpersonation: fd web1 tries to read fd web2's commands, to publish
// a director command and a console command, and to report in web2's name;
// each is refused, and the director never hears it. A passive client,
// whose own server refuses nothing, gets as far as its hub: the test runs
// db1's passive server itself, with db1's real key and password, and its
// messages in others' names never reach the director.
func TestImpersonation(t *testing.T) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{NoStart: []string{"db1"}, Clients: []harness.Client{
		{Name: "web1", Include: []string{src}}, {Name: "web2", Include: []string{src}}, {Name: "db1", Passive: true, Include: []string{src}},
	}})
	const marker = "IMPERSONATION-MARKER-7f3a"
	tp := newTap(t, c, marker)

	t.Run("active", func(t *testing.T) {
		var mu sync.Mutex
		var denied []string
		nc, err := connectAs(t, c, c.Keys.ID("web1"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			denied = append(denied, err.Error())
			mu.Unlock()
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		for _, s := range []string{"ferry.fd.web2.prepare", "ferry.fd.web2.>", "ferry.fd.*.prepare", ">"} {
			sub, err := nc.SubscribeSync(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sub.NextMsg(500 * time.Millisecond); !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("fd web1 subscribing to %s: %v, want a permission violation", s, err)
			}
		}
		spoof(nc, marker, "ferry.fd.web2.prepare", "ferry.sd.site1.open", "ferry.api.run", "ferry.api.agents.decide",
			"ferry.presence.fd.web2", "ferry.dir.report.fd.web2", "ferry.dir.log.fd.web2", "ferry.dir.files.site1", "ferry.enrol."+c.Keys.Public("web2"))
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(denied)
			mu.Unlock()
			if n >= 9 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		if len(denied) < 9 {
			t.Errorf("publish refusals reported to fd web1: %d, want at least 9: %q", len(denied), denied)
		}
		mu.Unlock()
	})

	t.Run("passive", func(t *testing.T) {
		leaf := startLeaf(t, "db1", c.FDs["db1"].LeafListen, leafPassword(t, c, "db1"), c.Keys.ID("db1"))
		waitLink(t, c, "db1", "up")
		nc, err := nats.Connect("", leaf.InProcess())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		// A message in its own name does reach the director: the link is
		// up and the tap hears what crosses it.
		hb, _ := schemas.Encode(schemas.Heartbeat{Name: "db1", Role: "fd", Version: marker, Passive: true})
		if err := nc.Publish("ferry.presence.fd.db1", hb); err != nil {
			t.Fatal(err)
		}
		waitSeen(t, tp, "ferry.presence.fd.db1")
		spoof(nc, marker, "ferry.presence.fd.web1", "ferry.dir.report.fd.web1", "ferry.dir.log.fd.web2", "ferry.api.run",
			"ferry.fd.web1.prepare", "ferry.sd.site1.open", "ferry.dir.files.site1", "ferry.events.job.1.finished")
	})

	time.Sleep(time.Second) // anything that did get through has arrived by now
	for _, s := range tp.got() {
		if s != "ferry.presence.fd.db1" {
			t.Errorf("the director heard a spoofed message on %s", s)
		}
	}
	r := c.Ferry("status")
	mustOK(t, r, "ferry status")
	if !strings.Contains(r.Stdout, "permission violations") || strings.Contains(r.Stdout, " 0 permission violations") {
		t.Errorf("ferry status does not count the violations:\n%s", r.Stdout)
	}
}

func waitSeen(t *testing.T, tp *tap, subject string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range tp.got() {
			if s == subject {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the director never heard %s", subject)
}

// startLeaf runs a passive client's bus server as the test, with id's
// certificate on the leafnode listener.
func startLeaf(t *testing.T, name, listen, password string, id *identity.Identity) *embedded.Server {
	t.Helper()
	cert, err := id.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := embedded.StartLeaf(embedded.LeafConfig{Name: "test-" + name, Listen: listen, User: name, Password: password,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leaf.Shutdown)
	return leaf
}

// leafPassword is the leafnode password the hub presents to client.
func leafPassword(t *testing.T, c *harness.Cluster, client string) string {
	t.Helper()
	pw, err := os.ReadFile(c.FDs[client].Secret)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pw))
}

// noLink runs a passive client's server at client's leafnode address with
// password and id, and checks that it gets no bus link over several of the
// hub's re-dials.
func noLink(t *testing.T, c *harness.Cluster, client, password string, id *identity.Identity, failure string) {
	t.Helper()
	leaf := startLeaf(t, client, c.FDs[client].LeafListen, password, id)
	defer leaf.Shutdown()
	waitLink(t, c, client, "down")
	time.Sleep(3 * time.Second) // several re-dials
	reason := waitLink(t, c, client, "down")
	if leaf.LeafLinks() != 0 {
		t.Fatal(failure)
	}
	t.Logf("link error shown: %s", reason)
}

// waitLink waits until the director's status shows client's bus link in
// state ("up" or "down") and returns the link error.
func waitLink(t *testing.T, c *harness.Cluster, client, state string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last schemas.AgentStatus
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := bus.Request(ctx, c.Bus(), schemas.APIStatus, schemas.StatusRequest{})
		cancel()
		if err == nil {
			for _, a := range st.Agents {
				if a.Name == client {
					last = a
					if a.Link == state {
						return a.LinkError
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("client %s's bus link not %s within 20 s: %+v", client, state, last)
	return ""
}

// TestKeyStates: an unknown key may only enrol; a pending agent waits
// until an operator accepts it and then works; a rejected key and a
// revoked key get nothing, and revoking cuts the live links; an impostor
// at a passive client's leafnode address gets no link; a plain client
// cannot use the bus port.
func TestKeyStates(t *testing.T) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{NoStart: []string{"web1", "db1", "db2"}, Unlisted: []string{"web1", "db2"},
		Clients: []harness.Client{{Name: "web1", Include: []string{src}}, {Name: "db1", Passive: true, Include: []string{src}},
			{Name: "db2", Passive: true, Include: []string{src}}}})

	t.Run("plain client", func(t *testing.T) {
		if nc, err := nats.Connect(strings.Replace(c.NATSURL, "tls://", "nats://", 1), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatal("a plain-text client connected to the bus port")
		}
		id := c.Keys.ID("console")
		if nc, err := nats.Connect(c.NATSURL, nats.Nkey(id.PublicKey(), id.Sign), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatal("a client without TLS, holding a valid key, connected")
		}
	})

	t.Run("pending then accepted", func(t *testing.T) {
		c.StartFD("web1")
		c.FDs["web1"].Proc.WaitLog(t, "not let onto the bus yet")
		r := c.Ferry("agents", "list", "--state", "pending")
		mustOK(t, r, "agents list")
		if !strings.Contains(r.Stdout, c.Keys.Public("web1")) {
			t.Fatalf("web1's key is not pending:\n%s", r.Stdout)
		}
		// While pending, its key may enrol and nothing else.
		nc, err := connectAs(t, c, c.Keys.ID("web1"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		sub, _ := nc.SubscribeSync("ferry.fd.web1.prepare")
		if _, err := sub.NextMsg(500 * time.Millisecond); !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("a pending key subscribed to its commands: %v", err)
		}
		mustOK(t, c.Ferry("agents", "accept", "web1"), "agents accept web1")
		c.WaitOnline("web1")
		r = c.Ferry("run", "backup-web1", "--wait")
		mustOK(t, r, "backup by a freshly accepted fd")
	})

	t.Run("revoked", func(t *testing.T) {
		nc, err := connectAs(t, c, c.Keys.ID("web1"))
		if err != nil {
			t.Fatal(err)
		}
		closed := make(chan struct{})
		nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		mustOK(t, c.Ferry("agents", "revoke", "web1"), "agents revoke web1")
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("a revoked key's live connection was not cut")
		}
		c.FDs["web1"].Proc.WaitLog(t, "bus disconnected")
		if nc, err := connectAs(t, c, c.Keys.ID("web1")); err == nil {
			nc.Close()
			t.Fatal("a revoked key connected again")
		}
		r := c.Ferry("run", "backup-web1", "--wait")
		if r.Code == 0 {
			t.Fatalf("a backup of a revoked client succeeded:\n%s", r.Stdout)
		}
	})

	t.Run("rejected and unknown", func(t *testing.T) {
		stranger, err := identity.New()
		if err != nil {
			t.Fatal(err)
		}
		nc, err := connectAs(t, c, stranger)
		if err != nil {
			t.Fatalf("an unknown key cannot even enrol: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := bus.Connect(c.NATSURL, bus.Options{Name: "stranger", Key: stranger.PublicKey(), Sign: stranger.Sign, TLS: c.Keys.ClientTLS(t)},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := bus.Request(ctx, conn, schemas.Enrol, schemas.EnrolRequest{Role: "sd", Name: "site9"}, stranger.PublicKey())
		conn.Close()
		if err != nil || rep.State != "pending" {
			t.Fatalf("enrolment of an unknown key: %+v %v", rep, err)
		}
		// Only its enrolment: another key's subject is refused.
		sub, _ := nc.SubscribeSync("ferry.sd.site9.open")
		if _, err := sub.NextMsg(500 * time.Millisecond); !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("an unknown key subscribed to sd commands: %v", err)
		}
		nc.Close()
		mustOK(t, c.Ferry("agents", "reject", "site9"), "agents reject site9")
		if nc, err := connectAs(t, c, stranger); err == nil {
			nc.Close()
			t.Fatal("a rejected key connected")
		}
	})

	t.Run("passive client refuses a hub without its password", func(t *testing.T) {
		// The real key, so the hub's pinning passes; but the client expects
		// another password than the one the hub presents.
		noLink(t, c, "db1", "not-the-password-the-hub-has", c.Keys.ID("db1"), "the passive client's server linked to a hub with the wrong password")
	})

	t.Run("impostor at a passive client's address", func(t *testing.T) {
		impostor, err := identity.New()
		if err != nil {
			t.Fatal(err)
		}
		noLink(t, c, "db1", leafPassword(t, c, "db1"), impostor, "the hub linked to an impostor holding the right password")
		c.StartFD("db1")
		waitLink(t, c, "db1", "up")
		mustOK(t, c.Ferry("run", "backup-db1", "--wait"), "backup of the real db1")
	})

	t.Run("passive key taken on the first dial", func(t *testing.T) {
		// db2's key is not in the configuration: the hub records it when it
		// first dials, and links only once an operator accepted it.
		c.StartFD("db2")
		waitLink(t, c, "db2", "down")
		deadline := time.Now().Add(20 * time.Second)
		for {
			r := c.Ferry("agents", "list", "--state", "pending")
			if strings.Contains(r.Stdout, c.Keys.Public("db2")) && strings.Contains(r.Stdout, "hub dial") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("db2's key was not taken as pending on the hub's dial:\n%s", r.Stdout)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r := c.Ferry("run", "backup-db2", "--wait"); r.Code == 0 {
			t.Fatalf("a backup of a passive client with a pending key succeeded")
		}
		mustOK(t, c.Ferry("agents", "accept", "db2"), "agents accept db2")
		waitLink(t, c, "db2", "up")
		c.WaitOnline("db2")
		mustOK(t, c.Ferry("run", "backup-db2", "--wait"), "backup of db2 once accepted")
	})

	t.Run("passive revoked", func(t *testing.T) {
		mustOK(t, c.Ferry("agents", "revoke", "db2"), "agents revoke db2")
		waitLink(t, c, "db2", "down")
		time.Sleep(2 * time.Second) // re-dials are refused
		waitLink(t, c, "db2", "down")
		if r := c.Ferry("run", "backup-db2", "--wait"); r.Code == 0 {
			t.Fatalf("a backup of a revoked passive client succeeded")
		}
	})

	r := c.Ferry("status")
	mustOK(t, r, "status")
	if !strings.Contains(r.Stdout, "Security: TLS and keys") || strings.Contains(r.Stdout, "refused since start: 0 connections") {
		t.Errorf("status does not count the refusals:\n%s", r.Stdout)
	}
	if !strings.Contains(c.Director.LogText(), "bus connection refused") || !strings.Contains(c.Director.LogText(), "passive client's bus link refused") {
		t.Errorf("the director's log does not name the refusals")
	}
}

// TestSecretsStayOut runs backups and restores of a passive and an active
// client, catching every session key on the bus (the sd's replies to the
// director), then searches every daemon's log, every job's `ferry job`
// output and every message of the JetStream event stream for any seed,
// leafnode password, private key or session key: none may appear.
func TestSecretsStayOut(t *testing.T) {
	work := t.TempDir()
	src := harness.SimpleTree(t, work)
	c := harness.NewCluster(t, bin, harness.Options{Clients: []harness.Client{
		{Name: "web1", Include: []string{src}}, {Name: "db1", Passive: true, Include: []string{src}},
	}})
	nc, err := connectAs(t, c, c.Keys.ID("dir1"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	var sessionKeys [][]byte
	if _, err := nc.Subscribe(natsconf.InboxPrefix(c.Keys.Public("dir1"))+".>", func(m *nats.Msg) {
		if rep, err := schemas.Decode[schemas.SessionOpened](m.Data); err == nil && len(rep.Key) > 0 {
			mu.Lock()
			sessionKeys = append(sessionKeys, rep.Key)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var outputs []string
	for _, client := range []string{"web1", "db1"} {
		r := c.Ferry("run", "backup-"+client, "--wait")
		mustOK(t, r, "backup "+client)
		id := jobID(t, r)
		r = c.Ferry("restore", "--job", id, "--to", t.TempDir(), "--wait")
		mustOK(t, r, "restore "+client)
		for _, j := range []string{id, jobID(t, r)} {
			out := c.Ferry("job", j)
			mustOK(t, out, "ferry job")
			outputs = append(outputs, out.Stdout+out.Stderr)
		}
	}
	mu.Lock()
	keys := append([][]byte(nil), sessionKeys...)
	mu.Unlock()
	if len(keys) != 4 {
		t.Fatalf("caught %d session keys on the bus, want 4 (one per job)", len(keys))
	}

	secrets := map[string]string{}
	for i, k := range keys {
		for form, v := range encodings(k) {
			secrets[v] = "session key " + string(rune('1'+i)) + " (" + form + ")"
		}
	}
	entries, err := os.ReadDir(c.Keys.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(c.Keys.Dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		text := strings.TrimSpace(string(b))
		switch {
		case strings.HasSuffix(e.Name(), ".nkey"), strings.HasSuffix(e.Name(), ".secret"):
			secrets[text] = e.Name()
		case strings.HasSuffix(e.Name(), ".key"):
			for _, line := range strings.Split(text, "\n") {
				if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
					secrets[line] = e.Name()
				}
			}
		}
	}
	if len(secrets) < 10 {
		t.Fatalf("only %d secrets to look for", len(secrets))
	}

	hay := map[string]string{}
	for name, p := range map[string]*harness.Proc{"director": c.Director, "sd": c.SD, "fd web1": c.FDs["web1"].Proc, "fd db1": c.FDs["db1"].Proc} {
		hay[name+" log"] = p.LogText()
	}
	for i, o := range outputs {
		hay["ferry job output "+string(rune('1'+i))] = o
	}
	js, err := jetstreamOf(nc)
	if err != nil {
		t.Fatal(err)
	}
	events := js()
	if len(events) == 0 {
		t.Fatal("the event stream is empty")
	}
	hay["JetStream "+schemas.EventStreamName] = events
	for where, text := range hay {
		for secret, what := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %s", where, what)
			}
		}
	}
}

// encodings are the forms a key could be printed in.
func encodings(k []byte) map[string]string {
	return map[string]string{
		"raw":       string(k),
		"hex":       hex.EncodeToString(k),
		"HEX":       strings.ToUpper(hex.EncodeToString(k)),
		"base64":    base64.StdEncoding.EncodeToString(k),
		"base64raw": base64.RawStdEncoding.EncodeToString(k),
		"base64url": base64.RawURLEncoding.EncodeToString(k),
		"go bytes":  fmt.Sprint(k),
	}
}

// jetstreamOf returns a reader of every message the event stream holds,
// payloads and headers, as one text.
func jetstreamOf(nc *nats.Conn) (func() string, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, schemas.EventStreamName)
		if err != nil {
			return ""
		}
		info, err := s.Info(ctx)
		if err != nil {
			return ""
		}
		var b strings.Builder
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue
			}
			b.WriteString(m.Subject)
			b.Write(m.Data)
			for k, vs := range m.Header {
				b.WriteString(k + strings.Join(vs, ","))
			}
		}
		return b.String()
	}, nil
}
