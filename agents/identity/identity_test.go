package identity_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/nats-io/nkeys"
)

func newID(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.New()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// seedOf reads back the seed a saved identity wrote.
func seedOf(t *testing.T, id *identity.Identity) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "id.seed")
	if err := id.Save(p, false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestNewIsUserNKey(t *testing.T) {
	id := newID(t)
	pub := id.PublicKey()
	if !strings.HasPrefix(pub, "U") || !nkeys.IsValidPublicUserKey(pub) {
		t.Fatalf("public key %q is not an nkey user key", pub)
	}
	if other := newID(t); other.PublicKey() == pub {
		t.Fatal("two new identities share a key")
	}
	seed := seedOf(t, id)
	if !strings.HasPrefix(seed, "SU") {
		t.Fatalf("seed does not start with SU")
	}
	// The seed is a plain nkey seed: nkeys itself reads it to the same key.
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := kp.PublicKey(); got != pub {
		t.Fatalf("nkeys reads the seed as %s, want %s", got, pub)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	id := newID(t)
	p := filepath.Join(t.TempDir(), "fd.nkey")
	if err := id.Save(p, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved with mode %04o, want 0600", fi.Mode().Perm())
	}
	back, err := identity.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.PublicKey() != id.PublicKey() {
		t.Fatalf("loaded %s, saved %s", back.PublicKey(), id.PublicKey())
	}
	nonce := []byte("nonce")
	s1, _ := id.Sign(nonce)
	s2, _ := back.Sign(nonce)
	if !bytes.Equal(s1, s2) {
		t.Fatal("loaded identity signs differently")
	}

	// A second Save to the same path is refused and leaves the key alone.
	other := newID(t)
	err = other.Save(p, false)
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), p) {
		t.Fatalf("second save: %v", err)
	}
	if again, err := identity.Load(p); err != nil || again.PublicKey() != id.PublicKey() {
		t.Fatalf("after refused save: %v, %v", again, err)
	}

	// Overwriting on purpose replaces it, with mode 0600 even when the old
	// file was readable by others.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := other.Save(p, true); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("overwritten with mode %04o, want 0600", fi.Mode().Perm())
	}
	if again, err := identity.Load(p); err != nil || again.PublicKey() != other.PublicKey() {
		t.Fatalf("after overwrite: %v, %v", again, err)
	}
	left, _ := os.ReadDir(filepath.Dir(p))
	if len(left) != 1 {
		t.Fatalf("directory holds %d files after overwrite, want 1", len(left))
	}
}

func TestLoadRefusesOpenMode(t *testing.T) {
	id := newID(t)
	p := filepath.Join(t.TempDir(), "sd.nkey")
	if err := id.Save(p, false); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		_, err := identity.Load(p)
		if err == nil {
			t.Fatalf("mode %04o: loaded", mode)
		}
		msg := err.Error()
		if !strings.Contains(msg, p) || !strings.Contains(msg, "chmod 600") {
			t.Errorf("mode %04o: error %q does not name the path and chmod 600", mode, msg)
		}
	}
	if err := os.Chmod(p, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Load(p); err != nil {
		t.Fatalf("mode 0400: %v", err)
	}
}

func TestLoadRefusesBadSeeds(t *testing.T) {
	dir := t.TempDir()
	acct, _ := nkeys.CreateAccount()
	acctSeed, _ := acct.Seed()
	cases := map[string]string{
		"garbage":  "not a seed\n",
		"account":  string(acctSeed) + "\n",
		"public":   newID(t).PublicKey() + "\n",
		"truncate": seedOf(t, newID(t))[:20] + "\n",
	}
	for name, text := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := identity.Load(p)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		if strings.Contains(err.Error(), strings.TrimSpace(text)) {
			t.Errorf("%s: error %q repeats the file's content", name, err)
		}
	}
	if _, err := identity.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file loaded")
	}
}

func TestSignVerifiesWithPublicKey(t *testing.T) {
	id := newID(t)
	nonce := []byte("server nonce 8f3a")
	sig, err := id.Sign(nonce)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := nkeys.FromPublicKey(id.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := pk.Verify(nonce, sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if err := pk.Verify([]byte("other nonce"), sig); err == nil {
		t.Fatal("signature verifies another nonce")
	}
	other, _ := nkeys.FromPublicKey(newID(t).PublicKey())
	if err := other.Verify(nonce, sig); err == nil {
		t.Fatal("signature verifies under another key")
	}
}

func TestCertificatePinsIdentity(t *testing.T) {
	id := newID(t)
	cert, err := id.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf == nil {
		t.Fatal("no leaf")
	}
	got, err := identity.PublicKeyOf(cert.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	if got != id.PublicKey() {
		t.Fatalf("certificate key maps to %s, identity is %s", got, id.PublicKey())
	}
	parsed, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := parsed.CheckSignature(parsed.SignatureAlgorithm, parsed.RawTBSCertificate, parsed.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if parsed.Subject.CommonName != id.PublicKey() {
		t.Errorf("common name %q", parsed.Subject.CommonName)
	}
	if again, _ := id.Certificate(); !bytes.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Error("certificate differs between calls")
	}
	if _, err := identity.PublicKeyOf(ecdsaCert(t)); err == nil || !strings.Contains(err.Error(), "ed25519") {
		t.Errorf("ECDSA certificate: %v", err)
	}
}

// TestTLSPinning: a client and a server, each with its identity's
// certificate, complete a mutual TLS handshake and each learns the other's
// public key from the handshake alone.
func TestTLSPinning(t *testing.T) {
	srvID, cliID := newID(t), newID(t)
	srvCert, err := srvID.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	cliCert, err := cliID.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	pin := func(want string) func(tls.ConnectionState) error {
		return func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("no peer certificate")
			}
			got, err := identity.PublicKeyOf(cs.PeerCertificates[0])
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("peer is %s, want %s", got, want)
			}
			return nil
		}
	}
	handshake := func(cliWants string) (cliErr, srvErr error) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAnyClientCert,
			MinVersion: tls.VersionTLS13, VerifyConnection: pin(cliID.PublicKey())})
		cli := tls.Client(b, &tls.Config{Certificates: []tls.Certificate{cliCert}, InsecureSkipVerify: true,
			MinVersion: tls.VersionTLS13, VerifyConnection: pin(cliWants)})
		_ = a.SetDeadline(time.Now().Add(5 * time.Second))
		_ = b.SetDeadline(time.Now().Add(5 * time.Second))
		done := make(chan error, 1)
		go func() { done <- srv.Handshake() }()
		cliErr = cli.Handshake()
		if cliErr != nil {
			b.Close()
		}
		return cliErr, <-done
	}
	if cerr, serr := handshake(srvID.PublicKey()); cerr != nil || serr != nil {
		t.Fatalf("pinned handshake: client %v, server %v", cerr, serr)
	}
	if cerr, _ := handshake(newID(t).PublicKey()); cerr == nil || !strings.Contains(cerr.Error(), srvID.PublicKey()) {
		t.Fatalf("client pinned to another key: %v", cerr)
	}
}

func TestNeverPrintsSeed(t *testing.T) {
	id := newID(t)
	seed := seedOf(t, id)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "id", id, "val", *id)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "id", id, "val", *id)
	outs := []string{
		id.String(),
		fmt.Sprint(id), fmt.Sprintf("%v %+v %#v %s %q %x", id, id, id, id, id, id),
		fmt.Sprintf("%v %+v %#v %s %x", *id, *id, *id, *id, *id),
		fmt.Sprintf("%v", []any{id, *id, struct{ ID *identity.Identity }{id}}),
		logged.String(),
	}
	_, raw, err := nkeys.DecodeSeed([]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range outs {
		if strings.Contains(out, seed) || strings.Contains(out, seed[2:12]) ||
			strings.Contains(out, fmt.Sprintf("%x", raw[:8])) || strings.Contains(out, fmt.Sprint(raw[:4])[1:]) {
			t.Fatalf("output holds the seed: %s", out)
		}
	}
	if id.String() != id.PublicKey() {
		t.Errorf("String() = %q, want the public key", id.String())
	}
	if !strings.Contains(logged.String(), id.PublicKey()) {
		t.Errorf("log lacks the public key: %s", logged.String())
	}
}

func ecdsaCert(t *testing.T) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
