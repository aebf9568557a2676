package natsconf

import (
	"fmt"
	"strings"

	"github.com/ferrybackup/ferry/schemas"
)

// Permissions is what one connection of the FERRY account may do on the
// bus, generated from the subject registry in package schemas.
type Permissions struct {
	// Publish lists the subjects the connection may publish to: each
	// subject whose Pub has its role, its requests included.
	Publish []string
	// Subscribe lists the subjects it may subscribe to: each subject whose
	// Sub has its role, and its own inbox (InboxPrefix + ".>"), where the
	// replies to its requests and its JetStream deliveries arrive.
	Subscribe []string
	// Responses is the server's allow_responses: the connection may
	// publish one reply to the reply subject of each request delivered to
	// it (within two minutes), and to no other reply subject. Set for the
	// roles that serve a request subject; it replaces any right to publish
	// to another agent's inbox.
	Responses bool
}

// JetStream API subjects (see PermissionsFor).
const (
	// JSAPIAll is the whole JetStream API, for the director alone: it
	// creates and updates the event stream and publishes to it.
	JSAPIAll = "$JS.API.>"
	// JSEventConsumerCreate creates (or updates) a named consumer on the
	// event stream with a single filter within the stream's subjects; the
	// filter is part of the API subject. Caveat: the server (2.15.2) does
	// not check a push consumer's deliver_subject against its creator's
	// publish permissions (nats-io/nats-server#8274), so whoever holds this
	// can have the server copy stored job events to any subject, an
	// agent's command subjects included. The content stays the director's
	// events, which Ferry's typed codec refuses as a command.
	JSEventConsumerCreate = "$JS.API.CONSUMER.CREATE." + schemas.EventStreamName + ".*." + schemas.EventStreamMatch
	// JSEventConsumerNext pulls the next messages of a consumer of the
	// event stream; they arrive in the puller's inbox.
	JSEventConsumerNext = "$JS.API.CONSUMER.MSG.NEXT." + schemas.EventStreamName + ".*"
)

// InboxPrefix is the inbox prefix of the connection that authenticates
// with key: it connects with nats.CustomInboxPrefix(InboxPrefix(key)), and
// only it may subscribe below it. By key, not by name: an agent's inbox is
// the same whether it is still pending or already let in.
func InboxPrefix(key string) string {
	return "_INBOX_" + key
}

// PermissionsFor returns the permissions of the agent or console name of
// role, from the subject registry:
//
//   - The director, consoles and hooks (role any) address every agent: a
//     parameter of their subjects stays a wildcard, so the director may
//     command any client and storage and hear every agent.
//   - A storage daemon or file daemon is confined to its own name: the
//     "agent" parameter, and "storage" for an sd or "client" for an fd,
//     become name, and "role" becomes its role. So fd web1 subscribes to
//     ferry.fd.web1.* commands only and reports, logs and heartbeats as
//     web1 only. Other parameters (job ids, events) stay wildcards.
//   - A "key" parameter becomes the connection's own key (for every role
//     but the director, which hears them all): an agent asks only about
//     itself. A pending key (role pending, name = its key) may do nothing
//     else.
//   - Every role subscribes to its own inbox, InboxPrefix(key).>.
//   - A role that serves requests gets Responses (allow_responses).
//   - The director gets the whole JetStream API (JSAPIAll). A role that
//     subscribes to a JetStream subject (the job events) gets what an
//     ordered consumer of the event stream needs and no more:
//     JSEventConsumerCreate and JSEventConsumerNext. Found by watching the
//     $JS.API subjects of bus.WatchEvents (nats.go jetstream
//     OrderedConsumer) against a server: it creates its consumer at
//     CONSUMER.CREATE.<stream>.<name>.<filter> and then pulls at
//     CONSUMER.MSG.NEXT.<stream>.<name>; deliveries come to the inbox and,
//     with AckNone, are not acknowledged. Left out: STREAM.INFO and the
//     rest of the API, and CONSUMER.DELETE, which an ordered consumer only
//     tries (in the background, ignoring failure) when it resets after a
//     gap or reconnect; the consumer it abandons then lapses by itself
//     after its 5-minute inactivity threshold.
func PermissionsFor(role schemas.Role, name, key string) (Permissions, error) {
	if err := schemas.CheckToken(name); err != nil {
		return Permissions{}, fmt.Errorf("%s: %w", role, err)
	}
	if err := schemas.CheckToken(key); err != nil {
		return Permissions{}, fmt.Errorf("%s %s: key: %w", role, name, err)
	}
	switch role {
	case schemas.RoleDirector, schemas.RoleSD, schemas.RoleFD, schemas.RoleConsole, schemas.RoleAny, schemas.RolePending:
	default:
		return Permissions{}, fmt.Errorf("%s: unknown role %q (want director, sd, fd, console, any or pending)", name, role)
	}
	var pub, sub list
	var readsStream bool
	var p Permissions
	for _, info := range schemas.Subjects() {
		if has(info.Pub, role) {
			pub.add(fillPerm(info, role, name, key))
		}
		if has(info.Sub, role) {
			sub.add(fillPerm(info, role, name, key))
			if info.Transport == schemas.TransportRequest {
				p.Responses = true
			}
			if info.Transport == schemas.TransportStream {
				readsStream = true
			}
		}
	}
	sub.add(InboxPrefix(key) + ".>")
	switch {
	case role == schemas.RoleDirector:
		pub.add(JSAPIAll)
	case readsStream:
		pub.add(JSEventConsumerCreate)
		pub.add(JSEventConsumerNext)
	}
	p.Publish, p.Subscribe = pub.items, sub.items
	return p, nil
}

// fillPerm fills a subject pattern for one connection (see PermissionsFor).
func fillPerm(info schemas.SubjectInfo, role schemas.Role, name, key string) string {
	parts := strings.Split(info.Pattern, ".")
	n := 0
	for i, t := range parts {
		if t != "*" {
			continue
		}
		param := info.Params[n]
		if param == "key" && role != schemas.RoleDirector {
			parts[i] = key // whoever publishes on a key's subject does so as that key
			n++
			continue
		}
		if role != schemas.RoleSD && role != schemas.RoleFD {
			n++
			continue
		}
		switch {
		case param == "agent",
			param == "client" && role == schemas.RoleFD,
			param == "storage" && role == schemas.RoleSD:
			parts[i] = name
		case param == "role":
			parts[i] = string(role)
		}
		n++
	}
	return strings.Join(parts, ".")
}

// list keeps the first occurrence of each subject, in order.
type list struct {
	items []string
	seen  map[string]bool
}

func (l *list) add(s string) {
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if !l.seen[s] {
		l.seen[s] = true
		l.items = append(l.items, s)
	}
}
