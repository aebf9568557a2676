package director

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferrybackup/ferry/agents/director/keyring"
	"github.com/ferrybackup/ferry/schemas"
)

// Security is what the director knows about identities on the bus: the
// key ring (nil when it runs insecure: no keys, plain text), and the
// embedded hub's audit counters (nil with an external NATS server).
type Security struct {
	Ring  *keyring.Ring
	Audit func() schemas.AuditCounts
}

// SetSecurity gives the director its key ring and audit counters.
func (d *Director) SetSecurity(s Security) { d.sec = s }

// insecure: no key ring, every link plain text.
func (d *Director) insecure() bool { return d.sec.Ring == nil }

// onEnrol answers an agent or console asking where its key stands. The
// subject names the key, and the bus lets only that key publish there.
func (d *Director) onEnrol(_ context.Context, subject string, req schemas.EnrolRequest) (schemas.EnrolReply, error) {
	if d.insecure() {
		return schemas.EnrolReply{State: "accepted", Note: "the director runs insecure: no keys are checked"}, nil
	}
	key, ok := schemas.Token(schemas.Enrol.Info(), subject, "key")
	if !ok {
		return schemas.EnrolReply{}, fmt.Errorf("enrol: subject %q names no key", subject)
	}
	rep, err := d.sec.Ring.Enrol(key, req, "")
	if err != nil {
		d.log.Warn("enrolment refused", "key", key, "role", req.Role, "name", req.Name, "err", err)
		return schemas.EnrolReply{}, err
	}
	if rep.State == keyring.Pending {
		d.log.Warn("key waits for an operator", "key", key, "role", req.Role, "name", req.Name, "host", req.Host,
			"accept_with", "ferry agents accept "+req.Name)
	}
	return rep, nil
}

// apiAgents lists the identities.
func (d *Director) apiAgents(_ context.Context, _ string, req schemas.AgentsRequest) (schemas.AgentsReply, error) {
	if d.insecure() {
		return schemas.AgentsReply{}, errors.New("the director runs insecure: there are no identities")
	}
	var out schemas.AgentsReply
	for _, e := range d.sec.Ring.List(req.State) {
		out.Keys = append(out.Keys, keyOf(e))
	}
	return out, nil
}

// apiDecide applies an operator's accept, reject or revoke.
func (d *Director) apiDecide(_ context.Context, _ string, req schemas.AgentDecision) (schemas.Ack, error) {
	if d.insecure() {
		return schemas.Ack{}, errors.New("the director runs insecure: there are no identities to decide on")
	}
	e, err := d.sec.Ring.Decide(req)
	if err != nil {
		return schemas.Ack{}, err
	}
	d.log.Warn("identity decision", "action", req.Action, "role", e.Role, "name", e.Name, "key", e.Key, "state", e.State)
	return schemas.Ack{Note: fmt.Sprintf("%s %s's key %s is %s", e.Role, e.Name, e.Key, e.State)}, nil
}

func keyOf(e keyring.Entry) schemas.AgentKey {
	k := schemas.AgentKey{Role: string(e.Role), Name: e.Name, Key: e.Key, State: e.State, Source: e.Source, Host: e.Host, Peer: e.Peer}
	if !e.FirstSeen.IsZero() {
		k.FirstSeen = e.FirstSeen.UnixNano()
	}
	if !e.Changed.IsZero() {
		k.Changed = e.Changed.UnixNano()
	}
	return k
}

// peerKeys returns the identities of a job's two agents for the data
// socket's TLS pinning, and whether the socket runs plain. Without a key
// for either, the job cannot run securely.
func (d *Director) peerKeys(client, storage string) (fdKey, sdKey string, plain bool, err error) {
	if d.insecure() {
		return "", "", true, nil
	}
	fdKey, okFD := d.sec.Ring.KeyOf(schemas.RoleFD, client)
	sdKey, okSD := d.sec.Ring.KeyOf(schemas.RoleSD, storage)
	switch {
	case !okFD:
		return "", "", false, fmt.Errorf("client %s has no accepted identity: set its key in the configuration or accept it (ferry agents accept %s)", client, client)
	case !okSD:
		return "", "", false, fmt.Errorf("storage %s has no accepted identity: set its key in the configuration or accept it (ferry agents accept %s)", storage, storage)
	}
	return fdKey, sdKey, false, nil
}

// fillSecurity adds key state and audit counts to a status reply.
func (d *Director) fillSecurity(out *schemas.StatusReply) {
	if d.insecure() {
		out.Security = "insecure"
		return
	}
	out.Security = "tls"
	out.Pending = d.sec.Ring.Count(keyring.Pending)
	if d.sec.Audit != nil {
		out.Audit = d.sec.Audit()
	}
	for i := range out.Agents {
		a := &out.Agents[i]
		a.Key, a.KeyState = d.sec.Ring.StateOf(schemas.Role(a.Role), a.Name)
		if a.KeyState == "" {
			a.KeyState = "none"
		}
	}
}
