package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	ca, err := NewCA("prod")
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Certificate()
	if c.Subject.CommonName != "Ferry CA prod" || c.Issuer.CommonName != c.Subject.CommonName {
		t.Errorf("subject %q issuer %q", c.Subject.CommonName, c.Issuer.CommonName)
	}
	if !c.BasicConstraintsValid || !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: valid %v CA %v max path %d zero %v", c.BasicConstraintsValid, c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage %b", c.KeyUsage)
	}
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", c.PublicKey)
	}
	if life := time.Until(c.NotAfter); life < caValidity-time.Hour || life > caValidity {
		t.Errorf("valid for %s more, want ten years", life)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	for _, bad := range []string{"", " ", "a\nb"} {
		if _, err := NewCA(bad); err == nil {
			t.Errorf("NewCA(%q) accepted", bad)
		}
	}
}

// TestCASaveLoad: Save writes ca.crt 0644 and ca.key 0600 and LoadCA
// reads back the same CA, which issues certificates the original verifies.
func TestCASaveLoad(t *testing.T) {
	ca, dir := newCA(t, "round-trip")
	if m := fileMode(t, filepath.Join(dir, CACertFile)); m != 0o644 {
		t.Errorf("ca.crt mode %04o, want 0644", m)
	}
	if m := fileMode(t, filepath.Join(dir, CAKeyFile)); m != 0o600 {
		t.Errorf("ca.key mode %04o, want 0600", m)
	}
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("folder mode %04o, want 0700", m)
	}
	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(loaded.Certificate()) != Fingerprint(ca.Certificate()) {
		t.Fatalf("loaded %s, saved %s", loaded, ca)
	}
	certPEM, _, err := loaded.Issue("nats-1", []string{"localhost"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := parseCert(certPEM)
	if err := leaf.CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Errorf("certificate from the loaded CA: %v", err)
	}
}

func TestLoadCARefusesReadableKey(t *testing.T) {
	_, dir := newCA(t, "test")
	key := filepath.Join(dir, CAKeyFile)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		mustChmod(t, key, mode)
		_, err := LoadCA(dir)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "chmod 600 "+key) {
			t.Errorf("ca.key mode %04o: %v", mode, err)
		}
	}
	mustChmod(t, key, 0o400)
	if _, err := LoadCA(dir); err != nil {
		t.Errorf("ca.key mode 0400: %v", err)
	}
}

func TestLoadCAErrors(t *testing.T) {
	_, dir := newCA(t, "a")
	_, other := newCA(t, "b")
	mismatched := t.TempDir()
	copyFile(t, filepath.Join(dir, CACertFile), filepath.Join(mismatched, CACertFile), 0o644)
	copyFile(t, filepath.Join(other, CAKeyFile), filepath.Join(mismatched, CAKeyFile), 0o600)
	noKey := t.TempDir()
	copyFile(t, filepath.Join(dir, CACertFile), filepath.Join(noKey, CACertFile), 0o644)
	notCA := t.TempDir()
	ca, _ := LoadCA(dir)
	certPEM, keyPEM, err := ca.Issue("leaf", []string{"localhost"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveCert(filepath.Join(notCA, "ca"), certPEM, keyPEM, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, dir, want string }{
		{"missing folder", filepath.Join(dir, "nope"), filepath.Join(dir, "nope", CACertFile)},
		{"key of another CA", mismatched, "does not belong"},
		{"no key", noKey, filepath.Join(noKey, CAKeyFile)},
		{"not a CA", notCA, "not a CA certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadCA(tc.dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadCA: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSaveRefusesOverwrite: Save and SaveCert refuse an existing file and
// leave both files as they were; force replaces them, key mode 0600 even
// where the old key file was readable.
func TestSaveRefusesOverwrite(t *testing.T) {
	ca, dir := newCA(t, "first")
	before := readAll(t, dir)
	second, err := NewCA("second")
	if err != nil {
		t.Fatal(err)
	}
	err = second.Save(dir, false)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Save over a CA: %v", err)
	}
	if after := readAll(t, dir); after != before {
		t.Fatal("refused Save changed the folder")
	}

	// Only one of the two files there: still refused, and no file made.
	half := t.TempDir()
	copyFile(t, filepath.Join(dir, CACertFile), filepath.Join(half, CACertFile), 0o644)
	if err := second.Save(half, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over a lone ca.crt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(half, CAKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("refused Save left a key: %v", err)
	}

	mustChmod(t, filepath.Join(dir, CAKeyFile), 0o644)
	if err := second.Save(dir, true); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, filepath.Join(dir, CAKeyFile)); m != 0o600 {
		t.Errorf("replaced ca.key mode %04o, want 0600", m)
	}
	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(loaded.Certificate()) == Fingerprint(ca.Certificate()) {
		t.Fatal("Save with force kept the old CA")
	}

	certFile, _ := issueFiles(t, ca, "nats-1", "localhost")
	prefix := strings.TrimSuffix(certFile, ".crt")
	certPEM, keyPEM, err := ca.Issue("nats-1", []string{"localhost"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(certFile)
	if err := SaveCert(prefix, certPEM, keyPEM, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveCert over a certificate: %v", err)
	}
	if got, _ := os.ReadFile(certFile); string(got) != string(old) {
		t.Fatal("refused SaveCert changed the certificate")
	}
	if err := SaveCert(prefix, certPEM, keyPEM, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(certFile); string(got) != string(certPEM) {
		t.Fatal("SaveCert with force kept the old certificate")
	}
	if m := fileMode(t, prefix+".crt"); m != 0o644 {
		t.Errorf("certificate mode %04o, want 0644", m)
	}
	if m := fileMode(t, prefix+".key"); m != 0o600 {
		t.Errorf("key mode %04o, want 0600", m)
	}
}

// TestCAFormatHidesKey: no formatting of a CA shows its private key.
func TestCAFormatHidesKey(t *testing.T) {
	ca, dir := newCA(t, "secret")
	key, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	raw, err := ca.key.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := fmt.Sprintf("%x", raw)
	body := strings.Split(string(key), "\n")[1]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{ca, *ca} {
			s := fmt.Sprintf(verb, v)
			if strings.Contains(s, d) || strings.Contains(s, body) {
				t.Errorf("%s of %T shows the key: %s", verb, v, s)
			}
			if !strings.Contains(s, "Ferry CA secret") {
				t.Errorf("%s of %T = %q, want the CA's name", verb, v, s)
			}
		}
	}
}

func TestFingerprint(t *testing.T) {
	ca, _ := newCA(t, "fp")
	fp := Fingerprint(ca.Certificate())
	if len(fp) != 32*3-1 || strings.ToUpper(fp) != fp || strings.Count(fp, ":") != 31 {
		t.Fatalf("fingerprint %q, want 32 upper-case hex bytes separated by ':'", fp)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// readAll is the names and contents of the files in dir.
func readAll(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s\n%s\n", e.Name(), data)
	}
	return b.String()
}
