package natsconf_test

import (
	"errors"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nats.go"
)

// member is one user of the bus in the permission tests.
type member struct {
	role schemas.Role
	name string
	id   *identity.Identity
}

func (m member) String() string { return string(m.role) + " " + m.name }

// roster is every role, with two of each agent role so that each agent
// has a neighbour it must not reach.
func roster(t *testing.T) []*member {
	ms := []*member{
		{role: schemas.RoleDirector, name: "dir1"},
		{role: schemas.RoleSD, name: "site1"}, {role: schemas.RoleSD, name: "site2"},
		{role: schemas.RoleFD, name: "web1"}, {role: schemas.RoleFD, name: "web2"},
		{role: schemas.RoleConsole, name: "ops"},
		{role: schemas.RoleAny, name: "hook"},
		{role: schemas.RolePending},
	}
	for _, m := range ms {
		m.id = newIdentity(t)
		if m.role == schemas.RolePending {
			m.name = m.id.PublicKey() // a pending connection is known by its key alone
		}
	}
	// The enrolment subject takes keys: the pending member's own and another.
	paramValues["key"] = []string{pendingOf(ms).name, newIdentity(t).PublicKey()}
	return ms
}

func pendingOf(ms []*member) *member {
	for _, m := range ms {
		if m.role == schemas.RolePending {
			return m
		}
	}
	panic("no pending member")
}

// startSecured starts a hub from the configuration generated for ms.
func startSecured(t *testing.T, ms []*member, passive []natsconf.Passive) *embedded.Server {
	t.Helper()
	var users []natsconf.User
	for _, m := range ms {
		users = append(users, natsconf.User{Name: m.name, Role: m.role, NKey: m.id.PublicKey()})
	}
	conf, err := natsconf.Config(natsconf.Server{Name: "hub", Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Users: users, Passive: passive})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := embedded.Start(embedded.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), JetStream: true, Name: "hub", ConfText: conf}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// authOpts are the options an agent connects with: its nkey and its inbox.
func authOpts(m *member) []nats.Option {
	return []nats.Option{
		nats.Name(m.String()),
		nats.Nkey(m.id.PublicKey(), m.id.Sign),
		nats.CustomInboxPrefix(natsconf.InboxPrefix(m.id.PublicKey())),
	}
}

// paramValues are the values each registry parameter takes in the matrix.
var paramValues = map[string][]string{
	"client":  {"web1", "web2"},
	"storage": {"site1", "site2"},
	"agent":   {"web1", "web2", "site1", "site2"},
	"role":    {"fd", "sd"},
	"job":     {"42"},
	"event":   {"finished"},
}

// instance is a subject the matrix tries.
type instance struct {
	subject string
	info    *schemas.SubjectInfo // nil for the extra subjects
	values  map[string]string    // nil for the registry wildcard
}

// instances fills every registered subject with every combination of
// paramValues, and adds each pattern as it stands (the wildcard the
// director subscribes to).
func instances(t *testing.T) []instance {
	var out []instance
	for _, info := range schemas.Subjects() {
		info := info
		combos := []map[string]string{{}}
		for _, p := range info.Params {
			vals, ok := paramValues[p]
			if !ok {
				t.Fatalf("subject %s has parameter %q: give it values in paramValues", info.Pattern, p)
			}
			var next []map[string]string
			for _, c := range combos {
				for _, v := range vals {
					n := map[string]string{p: v}
					for k, x := range c {
						n[k] = x
					}
					next = append(next, n)
				}
			}
			combos = next
		}
		for _, c := range combos {
			tokens := make([]string, len(info.Params))
			for i, p := range info.Params {
				tokens[i] = c[p]
			}
			s := info.Pattern
			for _, tok := range tokens {
				s = strings.Replace(s, "*", tok, 1)
			}
			out = append(out, instance{subject: s, info: &info, values: c})
		}
		if len(info.Params) > 0 {
			out = append(out, instance{subject: info.Pattern, info: &info})
		}
	}
	return out
}

// expect is the matrix's oracle, written from the rule rather than from
// the generated lists: a role may use a subject whose Pub (or Sub) names
// it; an sd or fd only with its own name in every parameter that names
// itself (agent; client for an fd; storage for an sd) and its own role in
// "role", so never the open pattern of such a subject.
func expect(m *member, roles []schemas.Role, in instance) bool {
	if !slices.Contains(roles, m.role) {
		return false
	}
	for _, p := range in.info.Params {
		var want string
		switch {
		case p == "key" && m.role != schemas.RoleDirector:
			want = m.id.PublicKey()
		case m.role != schemas.RoleSD && m.role != schemas.RoleFD:
			continue
		case p == "agent", p == "client" && m.role == schemas.RoleFD, p == "storage" && m.role == schemas.RoleSD:
			want = m.name
		case p == "role":
			want = string(m.role)
		default:
			continue
		}
		if in.values == nil || in.values[p] != want {
			return false
		}
	}
	return true
}

// extraSubjects are outside the registry: inboxes, JetStream, and the
// broad wildcards nobody gets. expectExtra says who may use them.
func extraSubjects() []string {
	return []string{
		">", "ferry.>", "_INBOX.>", "_INBOX.x", "$JS.API.>", "ferry.unknown",
		"_INBOX_director_dir1.x", "_INBOX_fd_web1.x", "_INBOX_fd_web2.x", "_INBOX_console_ops.x",
		"_INBOX_director_dir1.>", "_INBOX_sd_site1.>", "_INBOX_fd_web1.>", "_INBOX_fd_web2.>", "_INBOX_console_ops.>", "_INBOX_any_hook.>",
		"$JS.API.INFO", "$JS.API.STREAM.INFO.FERRY_EVENTS", "$JS.API.STREAM.NAMES",
		"$JS.API.CONSUMER.CREATE.FERRY_EVENTS.c1.ferry.events.job.*.*",
		"$JS.API.CONSUMER.CREATE.FERRY_EVENTS.c1",
		"$JS.API.CONSUMER.DURABLE.CREATE.FERRY_EVENTS.c1",
		"$JS.API.CONSUMER.MSG.NEXT.FERRY_EVENTS.c1",
		"$JS.API.CONSUMER.DELETE.FERRY_EVENTS.c1",
		"$JS.API.CONSUMER.CREATE.OTHER.c1.ferry.events.job.*.*",
		"$JS.API.CONSUMER.MSG.NEXT.OTHER.c1",
	}
}

func expectExtra(m *member, op, subject string) bool {
	own := natsconf.InboxPrefix(m.id.PublicKey()) + "."
	switch {
	case op == "sub":
		// Only the own inbox, and nothing of another's.
		return strings.HasPrefix(subject, own)
	case strings.HasPrefix(subject, "$JS.API."):
		if m.role == schemas.RoleDirector {
			return true
		}
		if m.role == schemas.RoleConsole || m.role == schemas.RoleAny {
			return subject == "$JS.API.CONSUMER.CREATE.FERRY_EVENTS.c1.ferry.events.job.*.*" ||
				subject == "$JS.API.CONSUMER.MSG.NEXT.FERRY_EVENTS.c1"
		}
		return false
	}
	// Nobody publishes to an inbox unasked: replies go by allow_responses.
	return false
}

var (
	pubDeniedRe = regexp.MustCompile(`Publish to "([^"]+)"`)
	subDeniedRe = regexp.MustCompile(`Subscription to "([^"]+)"`)
)

// probe is one member's connection in the matrix, with the publish
// refusals the server reported to it.
type probe struct {
	m      *member
	nc     *nats.Conn
	mu     sync.Mutex
	denied map[string]bool // publish subjects refused
	subs   map[string]*nats.Subscription
}

func (p *probe) refused(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.denied[s]
}

// TestPermissionMatrix connects every role with its nkey to a server
// started from the generated configuration and, for every registered
// subject (filled for every agent) and every role, tries to subscribe and
// to publish: exactly what the rule allows works, and every allowed
// subscriber receives exactly what the allowed publishers sent.
//
// It runs on both kinds of server Ferry uses: one started from the
// generated configuration (an external server's), and the director's
// embedded hub, which authenticates every connection itself and grants it
// the same PermissionsFor.
func TestPermissionMatrix(t *testing.T) {
	t.Run("generated configuration", func(t *testing.T) {
		ms := roster(t)
		permissionMatrix(t, ms, startSecured(t, ms, nil))
	})
	t.Run("embedded hub", func(t *testing.T) {
		ms := roster(t)
		permissionMatrix(t, ms, startAuthorized(t, ms))
	})
}

// startAuthorized starts a hub that authenticates by nkey and grants each
// member of ms its role's permissions, as the director's hub does.
func startAuthorized(t *testing.T, ms []*member) *embedded.Server {
	t.Helper()
	conf, err := natsconf.Config(natsconf.Server{Name: "hub", Listen: "127.0.0.1:0", StoreDir: t.TempDir(), CustomAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(key, _ string) (embedded.Grant, error) {
		for _, m := range ms {
			if m.id.PublicKey() == key {
				p, err := natsconf.PermissionsFor(m.role, m.name, key)
				if err != nil {
					return embedded.Grant{}, err
				}
				return embedded.Grant{User: m.String(), Account: natsconf.FerryAccount, Publish: p.Publish, Subscribe: p.Subscribe, Responses: p.Responses}, nil
			}
		}
		return embedded.Grant{}, embedded.ErrUnknownKey
	}
	srv, err := embedded.Start(embedded.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), JetStream: true, Name: "hub", ConfText: conf,
		Authorize: authorize}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func permissionMatrix(t *testing.T, ms []*member, srv *embedded.Server) {

	var probes []*probe
	for _, m := range ms {
		p := &probe{m: m, denied: map[string]bool{}, subs: map[string]*nats.Subscription{}}
		opts := append(authOpts(m), nats.PermissionErrOnSubscribe(true),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				if match := pubDeniedRe.FindStringSubmatch(err.Error()); match != nil {
					p.mu.Lock()
					p.denied[match[1]] = true
					p.mu.Unlock()
				}
			}))
		nc, err := nats.Connect(srv.ClientURL(), opts...)
		if err != nil {
			t.Fatalf("%s: connect: %v", m, err)
		}
		t.Cleanup(nc.Close)
		p.nc = nc
		probes = append(probes, p)
	}
	ins := instances(t)
	extras := extraSubjects()
	for _, m := range ms {
		extras = append(extras, natsconf.InboxPrefix(m.id.PublicKey())+".x")
	}
	// got[member][op][subject] is what the server let the member do.
	got := map[string]map[string]map[string]bool{}

	// Subscribe: a refusal arrives (before the flush's PONG) on the
	// subscription's error channel, so NextMsg reports it at once.
	for _, p := range probes {
		res := map[string]bool{}
		got[p.m.name] = map[string]map[string]bool{"sub": res}
		var all []string
		for _, in := range ins {
			all = append(all, in.subject)
		}
		all = append(all, extras...)
		for _, s := range all {
			if _, dup := p.subs[s]; dup {
				continue
			}
			sub, err := p.nc.SubscribeSync(s)
			if err != nil {
				t.Fatalf("%s: subscribe %s: %v", p.m, s, err)
			}
			p.subs[s] = sub
		}
		if err := p.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		for s, sub := range p.subs {
			_, err := sub.NextMsg(time.Millisecond)
			switch {
			case errors.Is(err, nats.ErrPermissionViolation):
				res[s] = false
				if !subDeniedRe.MatchString(err.Error()) {
					t.Errorf("%s: subscribe %s: %v", p.m, s, err)
				}
				delete(p.subs, s)
			case errors.Is(err, nats.ErrTimeout):
				res[s] = true
			default:
				t.Fatalf("%s: subscribe %s: %v", p.m, s, err)
			}
		}
	}

	// Publish every concrete subject and every extra one, the payload
	// naming the publisher. Refusals come to the error handler in order:
	// once a refusal of the sentinel published last has arrived, every
	// refusal before it has too.
	for _, p := range probes {
		res := map[string]bool{}
		got[p.m.name]["pub"] = res
		var all []string
		for _, in := range ins {
			if in.values != nil {
				all = append(all, in.subject)
			}
		}
		all = append(all, extras...)
		for _, s := range all {
			if strings.ContainsAny(s, "*>") && !strings.HasPrefix(s, "$JS.API.CONSUMER.CREATE.") {
				continue // wildcards are for subscribing
			}
			if err := p.nc.Publish(s, []byte(p.m.name)); err != nil {
				t.Fatalf("%s: publish %s: %v", p.m, s, err)
			}
			res[s] = true
		}
		sentinel := "sentinel." + p.m.name
		if err := p.nc.Publish(sentinel, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !p.refused(sentinel) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no refusal of %s: publish refusals are not reported", p.m, sentinel)
			}
			time.Sleep(5 * time.Millisecond)
		}
		for s := range res {
			res[s] = !p.refused(s)
		}
	}

	// Compare with the oracle.
	wrong := 0
	check := func(m *member, op, subject string, want bool) {
		if have, ok := got[m.name][op][subject]; !ok {
			t.Errorf("%s %s %s: not tried", m, op, subject)
		} else if have != want {
			wrong++
			if wrong <= 40 {
				t.Errorf("%s: %s %s: allowed %v, want %v", m, op, subject, have, want)
			}
		}
	}
	for _, m := range ms {
		for _, in := range ins {
			check(m, "sub", in.subject, expect(m, in.info.Sub, in))
			if in.values != nil {
				check(m, "pub", in.subject, expect(m, in.info.Pub, in))
			}
		}
		for _, s := range extras {
			check(m, "sub", s, expectExtra(m, "sub", s))
			if _, tried := got[m.name]["pub"][s]; tried {
				check(m, "pub", s, expectExtra(m, "pub", s))
			}
		}
	}
	if wrong > 0 {
		t.Fatalf("%d cells of the matrix differ", wrong)
	}

	// The cases that matter most, by hand.
	for _, c := range []struct {
		who, op, subject string
		ok               bool
	}{
		{"web1", "sub", "ferry.fd.web1.prepare", true},
		{"web1", "sub", "ferry.fd.web2.prepare", false},
		{"web1", "sub", "ferry.fd.*.prepare", false},
		{"web1", "sub", "ferry.sd.site1.open", false},
		{"web1", "sub", "ferry.dir.report.*.*", false},
		{"web1", "sub", "_INBOX_fd_web2.>", false},
		{"web1", "sub", "_INBOX.>", false},
		{"web1", "pub", "ferry.fd.web2.prepare", false},
		{"web1", "pub", "ferry.api.run", false},
		{"web1", "pub", "ferry.presence.fd.web1", true},
		{"web1", "pub", "ferry.presence.fd.web2", false},
		{"web1", "pub", "ferry.presence.sd.web1", false},
		{"web1", "pub", "ferry.dir.report.fd.web1", true},
		{"web1", "pub", "ferry.dir.report.fd.web2", false},
		{"web1", "pub", "ferry.dir.log.fd.web2", false},
		{"web1", "pub", "ferry.dir.files.site1", false},
		{"web1", "pub", "ferry.events.job.42.finished", false},
		{"web1", "pub", "_INBOX_director_dir1.x", false},
		{"site1", "pub", "ferry.dir.files.site1", true},
		{"site1", "pub", "ferry.dir.files.site2", false},
		{"site1", "sub", "ferry.sd.site2.open", false},
		{"dir1", "pub", "ferry.fd.web2.prepare", true},
		{"dir1", "pub", "ferry.sd.site2.abort", true},
		{"dir1", "pub", "ferry.api.run", false},
		{"dir1", "sub", "ferry.dir.report.*.*", true},
		{"dir1", "sub", "ferry.fd.web1.prepare", false},
		{"dir1", "pub", "$JS.API.STREAM.INFO.FERRY_EVENTS", true},
		{"ops", "pub", "ferry.api.run", true},
		{"ops", "pub", "ferry.fd.web1.abort", false},
		{"ops", "sub", "ferry.api.run", false},
		{"ops", "sub", "ferry.events.job.*.*", true},
		{"ops", "pub", "$JS.API.CONSUMER.MSG.NEXT.FERRY_EVENTS.c1", true},
		{"ops", "pub", "$JS.API.CONSUMER.MSG.NEXT.OTHER.c1", false},
		{"ops", "pub", "$JS.API.STREAM.INFO.FERRY_EVENTS", false},
		{"ops", "pub", "$JS.API.CONSUMER.DELETE.FERRY_EVENTS.c1", false},
		{"hook", "pub", "ferry.api.status", false},
		{"hook", "sub", "ferry.progress.job.*", true},
	} {
		if have, ok := got[c.who][c.op][c.subject]; !ok || have != c.ok {
			t.Errorf("%s %s %s: allowed %v (tried %v), want %v", c.who, c.op, c.subject, have, ok, c.ok)
		}
	}

	// Deliveries: flushing each subscriber after every publisher has
	// flushed puts everything the server routed to it in its queues.
	for _, p := range probes {
		if err := p.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	delivered := 0
	for _, p := range probes {
		for s, sub := range p.subs {
			var have []string
			for {
				msg, err := sub.NextMsg(0)
				if err != nil {
					break
				}
				have = append(have, msg.Subject+" from "+string(msg.Data))
			}
			var want []string
			for _, q := range probes {
				for ps, ok := range got[q.m.name]["pub"] {
					if ok && matches(s, ps) && !strings.HasPrefix(ps, "$JS.") {
						want = append(want, ps+" from "+q.m.name)
					}
				}
			}
			delivered += len(have)
			sort.Strings(have)
			sort.Strings(want)
			if !slices.Equal(have, want) {
				t.Errorf("%s subscribed to %s received\n%s\nwant\n%s", p.m, s, strings.Join(have, "\n"), strings.Join(want, "\n"))
			}
		}
	}
	cells := 0
	for _, ops := range got {
		cells += len(ops["sub"]) + len(ops["pub"])
	}
	t.Logf("%d members, %d cells tried, %d messages delivered", len(ms), cells, delivered)
}

// matches reports whether subject (literal) falls under pattern.
func matches(pattern, subject string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

// TestUnknownKeysRefused: with users, a connection needs a listed nkey.
func TestUnknownKeysRefused(t *testing.T) {
	ms := roster(t)[:1]
	srv := startSecured(t, ms, nil)
	if nc, err := nats.Connect(srv.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("connected without credentials")
	}
	stranger := &member{role: schemas.RoleDirector, name: "dir1", id: newIdentity(t)}
	if nc, err := nats.Connect(srv.ClientURL(), authOpts(stranger)...); err == nil {
		nc.Close()
		t.Fatal("connected with an unlisted nkey")
	}
	// Signing with another key than the one claimed fails too.
	if nc, err := nats.Connect(srv.ClientURL(), nats.Nkey(ms[0].id.PublicKey(), stranger.id.Sign)); err == nil {
		nc.Close()
		t.Fatal("connected with a forged signature")
	}
	nc, err := nats.Connect(srv.ClientURL(), authOpts(ms[0])...)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}
