package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/pki"
)

// newTestCA makes a CA with `ferry ca new` and returns its folder.
func newTestCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	if err := runCANew(&bytes.Buffer{}, &caNewOptions{out: dir, name: "test"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCertExitCodes(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "nats")
	open := filepath.Join(t.TempDir(), "ca")
	if code := run([]string{"ca", "new", "--out", open}); code != exitOK {
		t.Fatalf("ca new: exit %d", code)
	}
	if err := os.Chmod(filepath.Join(open, pki.CAKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(extra ...string) []string {
		return append([]string{"cert", "new", "--ca", ca, "--name", "nats-1", "--host", "localhost"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"new", args("--out", out), exitOK},
		{"new over an existing certificate", args("--out", out), exitError},
		{"new --force", args("--out", out, "--force"), exitOK},
		{"new --days", args("--out", filepath.Join(dir, "short"), "--days", "30"), exitOK},
		{"new without --out", args(), exitUsage},
		{"new to standard output", args("--out", "-"), exitUsage},
		{"new without --ca", []string{"cert", "new", "--name", "n", "--host", "h", "--out", out}, exitUsage},
		{"new without --name", []string{"cert", "new", "--ca", ca, "--host", "h", "--out", out}, exitUsage},
		{"new without --host", []string{"cert", "new", "--ca", ca, "--name", "n", "--out", out}, exitUsage},
		{"new with a bad host", args("--host", "nats:4222", "--out", filepath.Join(dir, "bad")), exitUsage},
		{"new with negative --days", args("--out", filepath.Join(dir, "bad"), "--days", "-1"), exitUsage},
		{"new outliving the CA", args("--out", filepath.Join(dir, "bad"), "--days", "4000"), exitError},
		{"new with a missing CA", []string{"cert", "new", "--ca", filepath.Join(dir, "no"), "--name", "n", "--host", "h", "--out", out}, exitError},
		{"new with a readable CA key", []string{"cert", "new", "--ca", open, "--name", "n", "--host", "h", "--out", filepath.Join(dir, "o")}, exitError},
		{"new unknown flag", args("--out", out, "--nope"), exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Fatalf("run(%v) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.crt")); err == nil {
		t.Error("a refused cert new wrote a certificate")
	}
}

// TestCertNew: new writes a certificate the CA verifies for every host
// given (names and addresses, repeated or comma-separated), prints its
// path, names and expiry and never the key.
func TestCertNew(t *testing.T) {
	caDir := newTestCA(t)
	prefix := filepath.Join(t.TempDir(), "director")
	var out bytes.Buffer
	o := &certNewOptions{ca: caDir, name: "director", hosts: []string{"director.example.com", " 10.0.0.5"}, out: prefix, days: 90}
	if err := runCertNew(&out, o); err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(prefix + ".crt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pki.LoadPool(filepath.Join(caDir, pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"director.example.com", "10.0.0.5"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: h}); err != nil {
			t.Errorf("verify as %s: %v", h, err)
		}
	}
	if life := time.Until(cert.NotAfter); life > 90*24*time.Hour || life < 89*24*time.Hour {
		t.Errorf("valid for %s, want 90 days", life)
	}
	for _, want := range []string{
		"certificate: " + prefix + ".crt\n",
		"names: director.example.com, 10.0.0.5\n",
		"expires: " + cert.NotAfter.UTC().Format(time.DateTime) + " UTC\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	key, _ := os.ReadFile(prefix + ".key")
	if body := strings.Split(string(key), "\n")[1]; strings.Contains(out.String(), body) {
		t.Error("output holds the key")
	}
	if _, err := pki.ServerTLS(prefix+".crt", prefix+".key"); err != nil {
		t.Errorf("written files do not load as a server certificate: %v", err)
	}

	err = runCertNew(&out, o)
	if err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), prefix) {
		t.Fatalf("new over an existing certificate: %v", err)
	}
}

// TestCertNewHostErrors: a bad host is a usage error naming the host.
func TestCertNewHostErrors(t *testing.T) {
	caDir := newTestCA(t)
	for _, h := range []string{"nats.example.com:4222", "nats://nats", "a..b", ""} {
		o := &certNewOptions{ca: caDir, name: "n", hosts: []string{"localhost", h}, out: filepath.Join(t.TempDir(), "x")}
		err := runCertNew(&bytes.Buffer{}, o)
		if _, ok := err.(*usageError); !ok || !strings.Contains(err.Error(), `"`+h+`"`) {
			t.Errorf("host %q: %v, want a usage error naming it", h, err)
		}
	}
}

func TestCertNewRefusesReadableCAKey(t *testing.T) {
	caDir := newTestCA(t)
	key := filepath.Join(caDir, pki.CAKeyFile)
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	o := &certNewOptions{ca: caDir, name: "n", hosts: []string{"localhost"}, out: filepath.Join(t.TempDir(), "x")}
	err := runCertNew(&bytes.Buffer{}, o)
	if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "chmod 600 "+key) {
		t.Fatalf("readable CA key: %v", err)
	}
}
