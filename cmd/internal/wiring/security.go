package wiring

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/director/keyring"
	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/agents/pki"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/embedded"
	"github.com/ferrybackup/ferry/bus/natsconf"
	"github.com/ferrybackup/ferry/schemas"
)

// AgentSecurity is how a storage or file daemon signs in to the bus and
// proves itself on data sockets.
type AgentSecurity struct {
	Identity *identity.Identity // nil only when Insecure
	CAFile   string             // verifies the NATS server; "" for the system's roots
	Insecure bool
	// LeafTLS, for a passive file daemon: the certificate its leafnode
	// listener presents. Nil: the identity's own, which the hub pins.
	LeafTLS *tls.Config
}

// LoadAgentSecurity reads an agent's identity and TLS settings from its
// configuration. Insecure is warned about.
func LoadAgentSecurity(kind config.Kind, name string, s config.Security, log *slog.Logger) (AgentSecurity, error) {
	if err := s.SecurityProblems(kind, name); err != nil {
		return AgentSecurity{}, err
	}
	if s.Insecure {
		warnInsecure(log, string(kind)+" "+name)
		return AgentSecurity{Insecure: true}, nil
	}
	id, err := identity.Load(s.IdentityFile)
	if err != nil {
		return AgentSecurity{}, fmt.Errorf("%s %q: %w", kind, name, err)
	}
	return AgentSecurity{Identity: id, CAFile: s.CAFile}, nil
}

func warnInsecure(log *slog.Logger, who string) {
	log.Warn("INSECURE: "+who+" runs without keys or TLS: anyone who reaches the bus or a data port can read and send everything (insecure = true)", "who", who)
}

// busOptions are the connect options of an agent or console with sec.
func busOptions(name string, sec AgentSecurity) (bus.Options, error) {
	o := bus.Options{Name: name, Retry: true}
	if sec.Insecure {
		return o, nil
	}
	t, err := pki.ClientTLS(sec.CAFile)
	if err != nil {
		return o, err
	}
	o.TLS, o.Key, o.Sign = t, sec.Identity.PublicKey(), sec.Identity.Sign
	return o, nil
}

// directorSecurity is the director's side: its own key, the key ring and
// the embedded server's certificate.
type directorSecurity struct {
	insecure  bool
	id        *identity.Identity
	ring      *keyring.Ring
	serverTLS *natsconf.TLSFiles
}

func loadDirectorSecurity(cfg *config.Director, log *slog.Logger) (*directorSecurity, error) {
	if err := cfg.SecurityProblems(); err != nil {
		return nil, err
	}
	if cfg.Insecure {
		warnInsecure(log, "director "+cfg.Name)
		return &directorSecurity{insecure: true}, nil
	}
	id, err := identity.Load(cfg.IdentityFile)
	if err != nil {
		return nil, fmt.Errorf("director %q: %w", cfg.Name, err)
	}
	keys := []keyring.ConfiguredKey{{Role: schemas.RoleDirector, Name: cfg.Name, Key: id.PublicKey()}}
	for _, s := range cfg.Storages {
		keys = append(keys, keyring.ConfiguredKey{Role: schemas.RoleSD, Name: s.Name, Key: s.Key})
	}
	for _, c := range cfg.Clients {
		keys = append(keys, keyring.ConfiguredKey{Role: schemas.RoleFD, Name: c.Name, Key: c.Key, Passive: c.Passive})
	}
	for _, c := range cfg.Consoles {
		keys = append(keys, keyring.ConfiguredKey{Role: schemas.RoleConsole, Name: c.Name, Key: c.Key})
	}
	ring, err := keyring.Open(filepath.Join(cfg.DataDir, "keys.json"), keys, cfg.Enrolment)
	if err != nil {
		return nil, err
	}
	sec := &directorSecurity{id: id, ring: ring}
	if cfg.TLSCertFile != "" {
		sec.serverTLS = &natsconf.TLSFiles{Cert: cfg.TLSCertFile, Key: cfg.TLSKeyFile}
	}
	return sec, nil
}

// authorizer grants a key its role's subjects, from the registry: an
// admitted agent or console by its name, an unknown key (enrolment on)
// only its enrolment request.
func authorizer(ring *keyring.Ring) embedded.Authorizer {
	return func(key, _ string) (embedded.Grant, error) {
		v, err := ring.Admit(key)
		if err != nil {
			return embedded.Grant{}, auditKind(err)
		}
		role, name := v.Role, v.Name
		if v.Pending {
			role, name = schemas.RolePending, key
		}
		p, err := natsconf.PermissionsFor(role, name, key)
		if err != nil {
			return embedded.Grant{}, err
		}
		return embedded.Grant{User: userOf(role, name), Account: natsconf.FerryAccount, Publish: p.Publish, Subscribe: p.Subscribe, Responses: p.Responses}, nil
	}
}

func userOf(role schemas.Role, name string) string { return string(role) + ":" + name }

// leafPinner checks a passive client's certificate key against the ring.
func leafPinner(ring *keyring.Ring) embedded.LeafPinner {
	return func(account, key, peer string) error {
		client := strings.TrimPrefix(account, natsconf.PassiveAccount(""))
		if err := ring.SeenPassive(client, key, peer); err != nil {
			return auditKind(err)
		}
		return nil
	}
}

// auditKind tells the hub's audit what kind of refusal a key ring error
// is: an unknown key, or a rejected or revoked one.
func auditKind(err error) error {
	switch {
	case errors.Is(err, keyring.ErrUnknownKey):
		return fmt.Errorf("%w: %v", embedded.ErrUnknownKey, err)
	case errors.Is(err, keyring.ErrRefused):
		return fmt.Errorf("%w: %v", embedded.ErrRefusedKey, err)
	}
	return err
}

// certKey is the identity a TLS peer's certificate carries.
func certKey(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", errors.New("no certificate")
	}
	return identity.PublicKeyOf(cs.PeerCertificates[0])
}

// cutOnChange makes a decision take effect on live links: a revoked key
// loses its connections (a passive client its leafnode link); an accepted
// pending key is dropped so that it signs in again with its role's rights.
func cutOnChange(ring *keyring.Ring, srv func() *embedded.Server, passive map[string]bool, log *slog.Logger) {
	ring.OnChange(func(e keyring.Entry) {
		s := srv()
		if s == nil {
			return
		}
		n := 0
		switch e.State {
		case keyring.Revoked:
			if e.Role == schemas.RoleFD && passive[e.Name] {
				n = s.KickLeaf(natsconf.PassiveAccount(e.Name))
			} else {
				n = s.Kick(e.Key)
			}
		case keyring.Accepted:
			n = s.Kick(e.Key) // it signs in again, with its role's rights
		}
		if n > 0 {
			log.Info("live bus links cut after an identity decision", "role", e.Role, "name", e.Name, "state", e.State, "links", n)
		}
	})
}
