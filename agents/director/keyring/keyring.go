// Package keyring is the director's record of identities: which public
// key belongs to which director, storage daemon, file daemon or console,
// and whether it is let in. Keys named in the director's configuration are
// "configured"; a key the director does not know can ask to be enrolled
// and waits as "pending" until an operator accepts or rejects it; an
// operator can revoke any key. Everything but the configuration is kept in
// one JSON file in the director's data directory.
//
// The bus (the embedded hub's authentication, the pinning of passive
// clients' leafnode links) asks the ring who a key is; the director's
// console API changes it.
package keyring

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nkeys"
)

// States of a key.
const (
	Configured = "configured" // named in the director's configuration
	Accepted   = "accepted"   // enrolled and accepted by an operator
	Pending    = "pending"    // asked to be enrolled; waits for an operator
	Rejected   = "rejected"   // an operator said no
	Revoked    = "revoked"    // was let in, no longer is
)

// Sources of a key.
const (
	SourceConfig    = "config"
	SourceEnrolment = "enrolment"
	SourceHubDial   = "hub dial" // a passive client's key, seen when the hub dialed it
)

// maxWaiting bounds the pending and refused keys kept, so that a flood of
// random keys cannot grow the file without end.
const maxWaiting = 1000

// Entry is one identity.
type Entry struct {
	Role      schemas.Role `json:"role"`
	Name      string       `json:"name"`
	Key       string       `json:"key"`
	State     string       `json:"state"`
	Source    string       `json:"source"`
	Host      string       `json:"host,omitempty"`
	Peer      string       `json:"peer,omitempty"`
	FirstSeen time.Time    `json:"first_seen"`
	Changed   time.Time    `json:"changed"`
}

// Admitted tells whether the key may use the bus in its role.
func (e Entry) Admitted() bool { return e.State == Configured || e.State == Accepted }

// Errors.
var (
	ErrUnknownKey = errors.New("unknown key")
	ErrRefused    = errors.New("key refused")
	ErrNoSuchName = errors.New("no such identity")
	ErrAmbiguous  = errors.New("several keys match")
	ErrConflict   = errors.New("name already has a key")
	ErrBadRequest = errors.New("bad request")
)

// ConfiguredKey is a key the configuration names.
type ConfiguredKey struct {
	Role    schemas.Role
	Name    string
	Key     string
	Passive bool // a passive client: its key pins the hub's leafnode link, it never connects itself
}

// Ring holds the identities. Safe for concurrent use.
type Ring struct {
	path      string // "" keeps nothing on disk (tests, insecure)
	enrolment bool
	now       func() time.Time

	mu       sync.Mutex
	byKey    map[string]*Entry
	passive  map[string]bool // client names configured passive
	onChange []func(Entry)
}

// Open loads the ring from path (absent: empty) and lays the configured
// keys over it. enrolment false refuses unknown keys outright.
func Open(path string, configured []ConfiguredKey, enrolment bool) (*Ring, error) {
	r := &Ring{path: path, enrolment: enrolment, now: time.Now, byKey: map[string]*Entry{}, passive: map[string]bool{}}
	saved, err := load(path)
	if err != nil {
		return nil, err
	}
	for _, e := range saved {
		if !nkeys.IsValidPublicUserKey(e.Key) {
			return nil, fmt.Errorf("key file %s: %q is not a public key", path, e.Key)
		}
		e := e
		r.byKey[e.Key] = &e
	}
	now := r.now()
	for _, c := range configured {
		if c.Key == "" {
			if c.Passive {
				r.passive[c.Name] = true
			}
			continue
		}
		if c.Passive {
			r.passive[c.Name] = true
		}
		prev, ok := r.byKey[c.Key]
		if ok && prev.State == Revoked && prev.Role == c.Role && prev.Name == c.Name {
			continue // an operator revoked it; the configuration does not bring it back
		}
		r.byKey[c.Key] = &Entry{Role: c.Role, Name: c.Name, Key: c.Key, State: Configured, Source: SourceConfig, FirstSeen: now, Changed: now}
	}
	// A configured key replaces whatever was enrolled under its name.
	for _, e := range r.byKey {
		if e.Source == SourceConfig || !e.Admitted() {
			continue
		}
		for _, c := range configured {
			if c.Key != "" && c.Key != e.Key && c.Role == e.Role && c.Name == e.Name {
				e.State, e.Changed = Revoked, now
			}
		}
	}
	return r, nil
}

// OnChange registers f, called (outside the ring's lock) after a key's
// state changed, e.g. to cut a revoked key's live links.
func (r *Ring) OnChange(f func(Entry)) {
	r.mu.Lock()
	r.onChange = append(r.onChange, f)
	r.mu.Unlock()
}

// Lookup returns the entry of key.
func (r *Ring) Lookup(key string) (Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byKey[key]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Verdict is what the bus does with a connecting key.
type Verdict struct {
	Entry
	// Pending: the key is not known (or waits): it may only ask to be
	// enrolled. Entry then holds only the key.
	Pending bool
}

// Admit decides on a key that connects to the hub: an admitted agent or
// console in its role; an unknown or waiting key as pending
// (only enrolment), when enrolment is on; everything else refused with
// the reason.
func (r *Ring) Admit(key string) (Verdict, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byKey[key]
	switch {
	case ok && e.Admitted():
		// A passive client's key too: a file daemon configured active
		// against the director's word gets its own subjects, no more, and
		// the director can report the mismatch.
		return Verdict{Entry: *e}, nil
	case ok && (e.State == Rejected || e.State == Revoked):
		return Verdict{}, fmt.Errorf("%w: %s %s's key is %s", ErrRefused, e.Role, e.Name, e.State)
	case !r.enrolment:
		return Verdict{}, fmt.Errorf("%w: enrolment is off (director enrolment = false)", ErrUnknownKey)
	case ok: // pending
		return Verdict{Entry: Entry{Key: key}, Pending: true}, nil
	}
	if r.waitingLocked() >= maxWaiting {
		return Verdict{}, fmt.Errorf("%w: %d keys already wait for an operator; no more are taken", ErrUnknownKey, maxWaiting)
	}
	return Verdict{Entry: Entry{Key: key}, Pending: true}, nil
}

func (r *Ring) waitingLocked() int {
	n := 0
	for _, e := range r.byKey {
		if e.State == Pending {
			n++
		}
	}
	return n
}

// KeyOf returns the admitted key of role name.
func (r *Ring) KeyOf(role schemas.Role, name string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keyOfLocked(role, name)
}

// StateOf returns the state of role name's key: its admitted key's, else
// the latest waiting or refused one's; "" when none is known.
func (r *Ring) StateOf(role schemas.Role, name string) (key, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *Entry
	for _, e := range r.byKey {
		if e.Role != role || e.Name != name {
			continue
		}
		if e.Admitted() {
			return e.Key, e.State
		}
		if best == nil || e.Changed.After(best.Changed) {
			best = e
		}
	}
	if best == nil {
		return "", ""
	}
	return best.Key, best.State
}

// Enrol records a key's request to be let in as req.Role req.Name and
// says where it stands. The key is authenticated by the bus (only the key
// itself may publish on the subject that names it).
func (r *Ring) Enrol(key string, req schemas.EnrolRequest, peer string) (schemas.EnrolReply, error) {
	role := schemas.Role(req.Role)
	switch role {
	case schemas.RoleSD, schemas.RoleFD, schemas.RoleConsole:
	default:
		return schemas.EnrolReply{}, fmt.Errorf("%w: role %q (want sd, fd or console)", ErrBadRequest, req.Role)
	}
	if err := schemas.CheckToken(req.Name); err != nil {
		return schemas.EnrolReply{}, fmt.Errorf("%w: name: %v", ErrBadRequest, err)
	}
	r.mu.Lock()
	e, ok := r.byKey[key]
	if ok {
		defer r.mu.Unlock()
		return replyFor(*e, role, req.Name), nil
	}
	if role == schemas.RoleFD && r.passive[req.Name] {
		r.mu.Unlock()
		return schemas.EnrolReply{State: Rejected, Note: "client " + req.Name + " is passive in the director's configuration: the hub dials it, it does not enrol"}, nil
	}
	if r.waitingLocked() >= maxWaiting {
		r.mu.Unlock()
		return schemas.EnrolReply{}, fmt.Errorf("%w: %d keys already wait for an operator", ErrUnknownKey, maxWaiting)
	}
	now := r.now()
	ne := &Entry{Role: role, Name: req.Name, Key: key, State: Pending, Source: SourceEnrolment, Host: req.Host, Peer: peer, FirstSeen: now, Changed: now}
	r.byKey[key] = ne
	err := r.saveLocked()
	out := *ne
	hooks := r.onChange
	r.mu.Unlock()
	if err != nil {
		return schemas.EnrolReply{}, err
	}
	for _, f := range hooks {
		f(out)
	}
	return replyFor(out, role, req.Name), nil
}

func replyFor(e Entry, role schemas.Role, name string) schemas.EnrolReply {
	if e.Role != role || e.Name != name {
		return schemas.EnrolReply{State: Rejected, Note: fmt.Sprintf("this key belongs to %s %s, not to %s %s", e.Role, e.Name, role, name)}
	}
	switch e.State {
	case Configured, Accepted:
		return schemas.EnrolReply{State: Accepted}
	case Pending:
		return schemas.EnrolReply{State: Pending, Note: fmt.Sprintf("waiting for an operator: ferry agents accept %s", name)}
	}
	return schemas.EnrolReply{State: e.State, Note: "an operator " + e.State + " this key"}
}

// SeenPassive is the hub's check of a passive client's leafnode link: the
// certificate it presented carries key. An admitted key of that client
// passes; an unknown one is recorded as pending (taken on the hub's first
// dial, for an operator to accept) and refused.
func (r *Ring) SeenPassive(client, key, peer string) error {
	r.mu.Lock()
	e, ok := r.byKey[key]
	switch {
	case ok && e.Role == schemas.RoleFD && e.Name == client && e.Admitted():
		r.mu.Unlock()
		return nil
	case ok && (e.Role != schemas.RoleFD || e.Name != client):
		r.mu.Unlock()
		return fmt.Errorf("%w: the key at client %s's leafnode address belongs to %s %s", ErrRefused, client, e.Role, e.Name)
	case ok:
		r.mu.Unlock()
		return fmt.Errorf("%w: client %s's key is %s", ErrRefused, client, e.State)
	}
	if cur, has := r.keyOfLocked(schemas.RoleFD, client); has {
		r.mu.Unlock()
		return fmt.Errorf("%w: client %s presented key %s, not its enrolled key %s: an impostor, or the client's key changed (then accept the new key after revoking the old)", ErrRefused, client, key, cur)
	}
	if !r.enrolment || r.waitingLocked() >= maxWaiting {
		r.mu.Unlock()
		return fmt.Errorf("%w: client %s presented key %s, which is not enrolled", ErrUnknownKey, client, key)
	}
	now := r.now()
	ne := &Entry{Role: schemas.RoleFD, Name: client, Key: key, State: Pending, Source: SourceHubDial, Peer: peer, FirstSeen: now, Changed: now}
	r.byKey[key] = ne
	err := r.saveLocked()
	out, hooks := *ne, r.onChange
	r.mu.Unlock()
	if err != nil {
		return err
	}
	for _, f := range hooks {
		f(out)
	}
	return fmt.Errorf("%w: client %s's key %s is new: pending until an operator accepts it (ferry agents accept %s)", ErrUnknownKey, client, key, client)
}

func (r *Ring) keyOfLocked(role schemas.Role, name string) (string, bool) {
	for _, e := range r.byKey {
		if e.Role == role && e.Name == name && e.Admitted() {
			return e.Key, true
		}
	}
	return "", false
}

// Decide applies an operator's accept, reject or revoke.
func (r *Ring) Decide(d schemas.AgentDecision) (Entry, error) {
	r.mu.Lock()
	e, err := r.pickLocked(d)
	if err != nil {
		r.mu.Unlock()
		return Entry{}, err
	}
	switch d.Action {
	case "accept":
		if e.State != Pending && e.State != Rejected && e.State != Revoked {
			r.mu.Unlock()
			return Entry{}, fmt.Errorf("%w: %s %s's key %s is %s already", ErrBadRequest, e.Role, e.Name, e.Key, e.State)
		}
		if cur, has := r.keyOfLocked(e.Role, e.Name); has {
			r.mu.Unlock()
			return Entry{}, fmt.Errorf("%w: %s %s has the key %s; revoke it first", ErrConflict, e.Role, e.Name, cur)
		}
		e.State = Accepted
	case "reject":
		if e.State != Pending {
			r.mu.Unlock()
			return Entry{}, fmt.Errorf("%w: only a pending key can be rejected; %s %s's key is %s (use revoke)", ErrBadRequest, e.Role, e.Name, e.State)
		}
		e.State = Rejected
	case "revoke":
		if !e.Admitted() {
			r.mu.Unlock()
			return Entry{}, fmt.Errorf("%w: %s %s's key is %s, not let in", ErrBadRequest, e.Role, e.Name, e.State)
		}
		e.State = Revoked
	default:
		r.mu.Unlock()
		return Entry{}, fmt.Errorf("%w: action %q (want accept, reject or revoke)", ErrBadRequest, d.Action)
	}
	e.Changed = r.now()
	err = r.saveLocked()
	out, hooks := *e, r.onChange
	r.mu.Unlock()
	if err != nil {
		return Entry{}, err
	}
	for _, f := range hooks {
		f(out)
	}
	return out, nil
}

// pickLocked finds the entry a decision means: by key, or by name (and
// role) among the keys the action applies to.
func (r *Ring) pickLocked(d schemas.AgentDecision) (*Entry, error) {
	if d.Key != "" {
		e, ok := r.byKey[d.Key]
		if !ok || (d.Name != "" && e.Name != d.Name) || (d.Role != "" && string(e.Role) != d.Role) {
			return nil, fmt.Errorf("%w: key %s is not known for %s", ErrNoSuchName, d.Key, d.Name)
		}
		return e, nil
	}
	var match []*Entry
	for _, e := range r.byKey {
		if e.Name != d.Name || (d.Role != "" && string(e.Role) != d.Role) {
			continue
		}
		switch {
		case d.Action == "revoke" && e.Admitted(),
			(d.Action == "accept" || d.Action == "reject") && e.State == Pending:
			match = append(match, e)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w: no key of %q to %s (see ferry agents list)", ErrNoSuchName, d.Name, d.Action)
	case 1:
		return match[0], nil
	}
	keys := make([]string, len(match))
	for i, e := range match {
		keys[i] = string(e.Role) + " " + e.Key
	}
	sort.Strings(keys)
	return nil, fmt.Errorf("%w: %q has %d keys to %s (%v): name one with --key", ErrAmbiguous, d.Name, len(match), d.Action, keys)
}

// List returns the identities, optionally only those in state, sorted by
// role, name and key.
func (r *Ring) List(state string) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	for _, e := range r.byKey {
		if state == "" || e.State == state {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Key < b.Key
	})
	return out
}

// Count returns how many keys are in state.
func (r *Ring) Count(state string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.byKey {
		if e.State == state {
			n++
		}
	}
	return n
}
