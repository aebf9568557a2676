package harness

import (
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/ferrybackup/ferry/agents/pki"
)

// Keys are a cluster's identities and certificates, made fresh for each
// cluster: a CA, the bus server's certificate (for the srv host's address
// and 127.0.0.1), an identity per daemon and one for the console, and for
// each passive client a CA-issued leafnode certificate (for an external
// NATS server, which checks it against the CA).
type Keys struct {
	Dir             string
	CA              string // ca.crt
	HubCert, HubKey string
	ids             map[string]*identity.Identity
}

func newKeys(t testing.TB, dir, srvAddr string, clients, clientAddrs []string) *Keys {
	t.Helper()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir, true); err != nil {
		t.Fatal(err)
	}
	k := &Keys{Dir: dir, CA: filepath.Join(dir, pki.CACertFile), HubCert: filepath.Join(dir, "hub.crt"), HubKey: filepath.Join(dir, "hub.key"),
		ids: map[string]*identity.Identity{}}
	issue := func(prefix, name string, hosts ...string) {
		if _, _, err := ca.IssueFiles(prefix, name, hosts, true); err != nil {
			t.Fatal(err)
		}
	}
	issue(filepath.Join(dir, "hub"), "hub", srvAddr, "127.0.0.1")
	for i, name := range clients {
		issue(filepath.Join(dir, name+"-leaf"), name, clientAddrs[i])
	}
	for _, name := range append([]string{"dir1", "site1", "console"}, clients...) {
		k.New(t, name)
	}
	return k
}

// New makes (or replaces) the identity of name and writes its seed file.
func (k *Keys) New(t testing.TB, name string) *identity.Identity {
	t.Helper()
	id, err := identity.Create(k.File(name), true)
	if err != nil {
		t.Fatal(err)
	}
	k.ids[name] = id
	return id
}

// ID is name's identity.
func (k *Keys) ID(name string) *identity.Identity { return k.ids[name] }

// Public is name's public key.
func (k *Keys) Public(name string) string { return k.ids[name].PublicKey() }

// File is name's seed file.
func (k *Keys) File(name string) string { return filepath.Join(k.Dir, name+".nkey") }

// LeafCert and LeafKey are a passive client's CA-issued leafnode certificate.
func (k *Keys) LeafCert(name string) string { return filepath.Join(k.Dir, name+"-leaf.crt") }

// LeafKey is the key of LeafCert.
func (k *Keys) LeafKey(name string) string { return filepath.Join(k.Dir, name+"-leaf.key") }

// ClientTLS verifies the bus server against the cluster's CA.
func (k *Keys) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	c, err := pki.ClientTLS(k.CA)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
