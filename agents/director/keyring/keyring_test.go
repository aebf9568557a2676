package keyring

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/schemas"
)

func key(t *testing.T) string {
	t.Helper()
	id, err := identity.New()
	if err != nil {
		t.Fatal(err)
	}
	return id.PublicKey()
}

func TestRingLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	sdKey, passiveKey, newKey, other := key(t), key(t), key(t), key(t)
	conf := []ConfiguredKey{
		{Role: schemas.RoleSD, Name: "site1", Key: sdKey},
		{Role: schemas.RoleFD, Name: "db1", Key: passiveKey, Passive: true},
	}
	r, err := Open(path, conf, true)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Admit(sdKey); err != nil || v.Pending || v.Name != "site1" || v.Role != schemas.RoleSD {
		t.Fatalf("configured sd: %+v %v", v, err)
	}
	if v, err := r.Admit(passiveKey); err != nil || v.Name != "db1" || v.Role != schemas.RoleFD {
		t.Fatalf("a passive client's key connecting itself (its fd configured active): %+v %v, want fd db1's rights", v, err)
	}
	if v, err := r.Admit(newKey); err != nil || !v.Pending {
		t.Fatalf("unknown key: %+v %v (want pending)", v, err)
	}
	rep, err := r.Enrol(newKey, schemas.EnrolRequest{Role: "fd", Name: "web1", Host: "web1.lan"}, "127.0.0.1:5000")
	if err != nil || rep.State != Pending {
		t.Fatalf("enrol: %+v %v", rep, err)
	}
	if rep, _ := r.Enrol(newKey, schemas.EnrolRequest{Role: "fd", Name: "web2"}, ""); rep.State != Rejected {
		t.Fatalf("same key, other name: %+v (want rejected)", rep)
	}
	var changes []Entry
	r.OnChange(func(e Entry) { changes = append(changes, e) })
	if _, err := r.Decide(schemas.AgentDecision{Action: "accept", Name: "web1"}); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Admit(newKey); err != nil || v.Pending || v.Name != "web1" {
		t.Fatalf("accepted: %+v %v", v, err)
	}
	if k, ok := r.KeyOf(schemas.RoleFD, "web1"); !ok || k != newKey {
		t.Fatalf("KeyOf web1 = %s %v", k, ok)
	}
	// A second key for web1 waits, and cannot be accepted while web1 has one.
	if _, err := r.Enrol(other, schemas.EnrolRequest{Role: "fd", Name: "web1"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Decide(schemas.AgentDecision{Action: "accept", Name: "web1"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("accept a second key for web1: %v", err)
	}
	if _, err := r.Decide(schemas.AgentDecision{Action: "reject", Name: "web1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admit(other); !errors.Is(err, ErrRefused) {
		t.Fatalf("rejected key: %v", err)
	}
	if _, err := r.Decide(schemas.AgentDecision{Action: "revoke", Role: "sd", Name: "site1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admit(sdKey); !errors.Is(err, ErrRefused) {
		t.Fatalf("revoked key: %v", err)
	}
	if len(changes) != 4 || changes[3].State != Revoked {
		t.Fatalf("changes seen: %+v", changes)
	}

	// Reopened: the decisions are kept, a revoked configured key stays out.
	r2, err := Open(path, conf, true)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{newKey: Accepted, other: Rejected, sdKey: Revoked, passiveKey: Configured} {
		if e, ok := r2.Lookup(k); !ok || e.State != want {
			t.Errorf("reopened: %s = %+v, want %s", k, e, want)
		}
	}
}

func TestPassiveClientPinning(t *testing.T) {
	r, err := Open("", []ConfiguredKey{{Role: schemas.RoleFD, Name: "db1", Passive: true}}, true)
	if err != nil {
		t.Fatal(err)
	}
	first, impostor := key(t), key(t)
	if err := r.SeenPassive("db1", first, "10.0.0.5:7422"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("first dial: %v (want unknown, recorded pending)", err)
	}
	if e, _ := r.Lookup(first); e.State != Pending || e.Source != SourceHubDial {
		t.Fatalf("first dial recorded %+v", e)
	}
	if _, err := r.Decide(schemas.AgentDecision{Action: "accept", Name: "db1"}); err != nil {
		t.Fatal(err)
	}
	if err := r.SeenPassive("db1", first, ""); err != nil {
		t.Fatalf("accepted key: %v", err)
	}
	if err := r.SeenPassive("db1", impostor, ""); !errors.Is(err, ErrRefused) {
		t.Fatalf("impostor: %v", err)
	}
	if rep, _ := r.Enrol(impostor, schemas.EnrolRequest{Role: "fd", Name: "db1"}, ""); rep.State != Rejected {
		t.Fatalf("a passive client cannot enrol over the bus: %+v", rep)
	}
}

func TestEnrolmentOff(t *testing.T) {
	r, err := Open("", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admit(key(t)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("enrolment off: %v", err)
	}
}
