// Package identity is an agent's own key: an ed25519 key pair that is at
// once a NATS user nkey (the agent authenticates to the bus with it, and
// the bus grants that key only the agent's own subjects) and the key of a
// self-signed TLS certificate (a peer pins the agent by its public key,
// not by a CA).
//
// The seed, the secret half, lives in a file of its own, mode 0600, in
// the nkey text form ("SU..."). Nothing in this package prints or logs it:
// an Identity formats as its public key ("U...").
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/nats-io/nkeys"
)

// Identity is an agent's key pair. The zero value is not usable: make one
// with New or Load.
type Identity struct {
	pub  string             // nkey public key, "U..."
	priv ed25519.PrivateKey // never printed
}

// New makes a fresh identity from the system's random source.
func New() (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new identity: %w", err)
	}
	return fromPrivate(priv)
}

// Create makes a fresh identity and saves its seed to path (Save's rules
// for an existing file).
func Create(path string, overwrite bool) (*Identity, error) {
	id, err := New()
	if err != nil {
		return nil, err
	}
	if err := id.Save(path, overwrite); err != nil {
		return nil, err
	}
	return id, nil
}

// Parse reads an identity from its seed text (an nkey user seed, "SU...").
// Errors never hold the seed.
func Parse(seed []byte) (*Identity, error) {
	prefix, raw, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("not an nkey seed: %w", err)
	}
	if prefix != nkeys.PrefixByteUser {
		return nil, fmt.Errorf("an nkey seed of a %s, not of a user (an agent identity starts with \"SU\")", prefix)
	}
	if len(raw) != ed25519.SeedSize {
		return nil, fmt.Errorf("nkey seed of %d bytes, want %d", len(raw), ed25519.SeedSize)
	}
	return fromPrivate(ed25519.NewKeyFromSeed(raw))
}

func fromPrivate(priv ed25519.PrivateKey) (*Identity, error) {
	pub, err := nkeys.Encode(nkeys.PrefixByteUser, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return &Identity{pub: string(pub), priv: priv}, nil
}

// Load reads an identity from its seed file. The file must be a regular
// file that neither group nor others may read or write (mode 0600 or
// 0400); the refusal names the path and the chmod that fixes it.
func Load(path string) (*Identity, error) {
	seed, err := config.ReadSecret(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	id, err := Parse([]byte(seed))
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return id, nil
}

// Save writes the seed to path with mode 0600. An existing file is an
// error (errors.Is fs.ErrExist) unless overwrite is set; then the seed
// goes to a new file in the same directory that replaces path, so a file
// that was readable by others is not reused (its mode would survive a
// rewrite in place) and a crash never leaves half a key.
func (id *Identity) Save(path string, overwrite bool) error {
	seed, err := id.seed()
	if err != nil {
		return err
	}
	defer wipe(seed)
	data := append(seed, '\n')
	defer wipe(data)
	if !overwrite {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &existsError{path: path}
			}
			return fmt.Errorf("identity file: %w", err)
		}
		if err := writeClose(f, data, path); err != nil {
			os.Remove(path) // ours: O_EXCL created it
			return err
		}
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("identity file: %w", err)
	}
	tmp := f.Name()
	// CreateTemp makes the file 0600; say so regardless of umask tricks.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("identity file: %w", err)
	}
	if err := writeClose(f, data, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("identity file: %w", err)
	}
	return nil
}

// existsError: Save would replace a key. It is fs.ErrExist for errors.Is.
type existsError struct{ path string }

func (e *existsError) Error() string {
	return fmt.Sprintf("identity file %s already exists; an agent's key is who it is, so it is not replaced unless asked", e.path)
}

func (e *existsError) Is(target error) bool { return target == fs.ErrExist }

func writeClose(f *os.File, data []byte, path string) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write identity file %s: %w", path, err)
	}
	return nil
}

// seed is the nkey text form of the private key; wipe it after use.
func (id *Identity) seed() ([]byte, error) {
	if id == nil || len(id.priv) != ed25519.PrivateKeySize {
		return nil, errors.New("identity: no key")
	}
	s, err := nkeys.EncodeSeed(nkeys.PrefixByteUser, id.priv.Seed())
	if err != nil {
		return nil, fmt.Errorf("identity: encode seed: %w", err)
	}
	return s, nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// PublicKey is the identity's nkey public key ("U..."), what the bus
// configuration and peers know the agent by.
func (id *Identity) PublicKey() string { return id.pub }

// Sign signs a server's nonce, for nats.Nkey(id.PublicKey(), id.Sign).
func (id *Identity) Sign(nonce []byte) ([]byte, error) {
	if id == nil || len(id.priv) != ed25519.PrivateKeySize {
		return nil, errors.New("identity: no key")
	}
	return ed25519.Sign(id.priv, nonce), nil
}

// String is the public key; the seed is never shown.
func (id *Identity) String() string {
	if id == nil {
		return "<no identity>"
	}
	return id.pub
}

// Format prints the public key for every verb, so that neither %v of a
// dereferenced Identity nor %+v or %#v ever reaches the private key.
func (id Identity) Format(f fmt.State, verb rune) {
	_, _ = fmt.Fprint(f, (&id).String())
}

// LogValue logs the public key.
func (id *Identity) LogValue() slog.Value { return slog.StringValue(id.String()) }

// certEpoch and certEnd bound the certificate's validity: a pinned key,
// not a date, is what a peer trusts, so the certificate never expires
// (9999-12-31 23:59:59 is RFC 5280's "no well-defined expiration date").
var (
	certEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	certEnd   = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// Certificate is a self-signed X.509 certificate for TLS whose key is the
// identity's ed25519 key; its common name is the public key. It is the
// same certificate on every call (ed25519 signatures are deterministic
// and the serial derives from the key). Peers pin it with PublicKeyOf;
// there is no CA to verify against.
func (id *Identity) Certificate() (tls.Certificate, error) {
	if id == nil || len(id.priv) != ed25519.PrivateKeySize {
		return tls.Certificate{}, errors.New("identity: no key")
	}
	sum := sha256.Sum256([]byte(id.pub))
	serial := new(big.Int).SetBytes(sum[:16]) // 128 bits, positive
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: id.pub, Organization: []string{"Ferry agent"}},
		NotBefore:             certEpoch,
		NotAfter:              certEnd,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, id.priv.Public(), id.priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: id.priv, Leaf: leaf}, nil
}

// PublicKeyOf is the nkey public key ("U...") of a certificate's ed25519
// key: compare it with the identity a peer is known by to pin it. A
// certificate with another kind of key is an error.
func PublicKeyOf(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", errors.New("no certificate")
	}
	k, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return "", fmt.Errorf("certificate %q has a %s key, not an ed25519 agent identity", cert.Subject.CommonName, cert.PublicKeyAlgorithm)
	}
	pub, err := nkeys.Encode(nkeys.PrefixByteUser, k)
	if err != nil {
		return "", fmt.Errorf("certificate key: %w", err)
	}
	return string(pub), nil
}
