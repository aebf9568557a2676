package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/pki"
)

func TestCAExitCodes(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"new", []string{"ca", "new", "--out", ca, "--name", "test"}, exitOK},
		{"new over an existing CA", []string{"ca", "new", "--out", ca}, exitError},
		{"new --force", []string{"ca", "new", "--out", ca, "--force"}, exitOK},
		{"new without --out", []string{"ca", "new"}, exitUsage},
		{"new to standard output", []string{"ca", "new", "--out", "-"}, exitUsage},
		{"new with a bad name", []string{"ca", "new", "--out", filepath.Join(dir, "bad"), "--name", "a\nb"}, exitUsage},
		{"new into a missing folder", []string{"ca", "new", "--out", filepath.Join(dir, "no", "such")}, exitError},
		{"new unknown flag", []string{"ca", "new", "--out", ca, "--nope"}, exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Fatalf("run(%v) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// TestCANew: new writes the CA, prints its certificate path and
// fingerprint and never the key, and replaces a CA only with --force.
func TestCANew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	var out bytes.Buffer
	if err := runCANew(&out, &caNewOptions{out: dir, name: "prod"}); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cn := ca.Certificate().Subject.CommonName; cn != "Ferry CA prod" {
		t.Errorf("CA named %q", cn)
	}
	certFile := filepath.Join(dir, pki.CACertFile)
	fp := pki.Fingerprint(ca.Certificate())
	for _, want := range []string{"certificate: " + certFile + "\n", "sha256: " + fp + "\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, pki.CAKeyFile))
	if body := strings.Split(string(key), "\n")[1]; strings.Contains(out.String(), body) {
		t.Error("output holds the CA key")
	}

	err = runCANew(&out, &caNewOptions{out: dir, name: "other"})
	if err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("new over an existing CA: %v", err)
	}
	if again, _ := pki.LoadCA(dir); again == nil || pki.Fingerprint(again.Certificate()) != fp {
		t.Fatal("refused new changed the CA")
	}
	if err := runCANew(&out, &caNewOptions{out: dir, name: "other", force: true}); err != nil {
		t.Fatal(err)
	}
	if again, _ := pki.LoadCA(dir); again == nil || pki.Fingerprint(again.Certificate()) == fp {
		t.Fatal("--force kept the old CA")
	}
}

// TestCANewDefaultName: without --name the CA is named after the host.
func TestCANewDefaultName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skip("no host name")
	}
	dir := filepath.Join(t.TempDir(), "ca")
	if err := runCANew(&bytes.Buffer{}, &caNewOptions{out: dir}); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cn := ca.Certificate().Subject.CommonName; cn != "Ferry CA "+host {
		t.Errorf("CA named %q, want after the host %q", cn, host)
	}
}
