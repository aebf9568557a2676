package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/identity"
)

const natsTestSecret = "s3cret@pw/x"

// natsDirector writes a director file with passive clients p1 and p2 and
// active client a1, and their leaf password files (mode secretMode).
func natsDirector(t *testing.T, secretMode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("director \"dir1\" {\n  nats_url = \"nats://127.0.0.1:4222\"\n  data_dir = \"" + filepath.Join(dir, "data") + "\"\n  insecure = true\n}\n")
	for _, c := range []string{"p1", "p2"} {
		secret := filepath.Join(dir, c+".secret")
		if err := os.WriteFile(secret, []byte(natsTestSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(secret, secretMode); err != nil {
			t.Fatal(err)
		}
		b.WriteString("client \"" + c + "\" {\n  address = \"127.0.0.1\"\n  passive = true\n  leaf_port = 7422\n  leaf_password_file = \"" + secret + "\"\n}\n")
	}
	b.WriteString("client \"a1\" {\n  address = \"127.0.0.1\"\n}\n")
	p := filepath.Join(dir, "director.hcl")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func clusterArgs(director, node string, extra ...string) []string {
	return append([]string{"nats", "config", "--director", director, "--nodes", "na,nb", "--node", node,
		"--cluster", "ferry", "--route-listen", "127.0.0.1:6222", "--routes", "nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223"}, extra...)
}

func TestNATSConfigExitCodes(t *testing.T) {
	director := natsDirector(t, 0o600)
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	if err := os.WriteFile(bad, []byte("director \"dir1\" {\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "nats.conf")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"single server", []string{"nats", "config", "--director", director, "-o", out}, exitOK},
		{"cluster node", clusterArgs(director, "nb", "--assign", "p1=nb", "-o", out), exitOK},
		{"no director", []string{"nats", "config", "-o", out}, exitUsage},
		{"director file problems", []string{"nats", "config", "--director", bad, "-o", out}, exitConfig},
		{"director file missing", []string{"nats", "config", "--director", bad + ".nope", "-o", out}, exitError},
		{"two assignments of one client", clusterArgs(director, "na", "--assign", "p1=na", "--assign", "p1=nb", "-o", out), exitUsage},
		{"assignment to an unknown node", clusterArgs(director, "na", "--assign", "p1=nc", "-o", out), exitUsage},
		{"assignment of an active client", clusterArgs(director, "na", "--assign", "a1=na", "-o", out), exitUsage},
		{"assignment not CLIENT=NODE", clusterArgs(director, "na", "--assign", "p1", "-o", out), exitUsage},
		{"assignment without nodes", []string{"nats", "config", "--director", director, "--assign", "p1=na", "-o", out}, exitUsage},
		{"node not in nodes", clusterArgs(director, "nc", "-o", out), exitUsage},
		{"nodes without node", []string{"nats", "config", "--director", director, "--nodes", "na", "-o", out}, exitUsage},
		{"two nodes without cluster", []string{"nats", "config", "--director", director, "--nodes", "na,nb", "--node", "na", "-o", out}, exitUsage},
		{"cluster without route listen", []string{"nats", "config", "--director", director, "--nodes", "na", "--node", "na", "--cluster", "c", "-o", out}, exitUsage},
		{"routes without cluster", []string{"nats", "config", "--director", director, "--routes", "nats-route://h:1", "-o", out}, exitUsage},
		{"bad route", clusterArgs(director, "na", "--routes", "h:1", "-o", out), exitUsage},
		{"bad cluster name", clusterArgs(director, "na", "--cluster", "a.b", "-o", out), exitUsage},
		{"unknown flag", []string{"nats", "config", "--director", director, "--nope"}, exitUsage},
		{"unwritable output", []string{"nats", "config", "--director", director, "-o", filepath.Join(out, "x", "y")}, exitError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Fatalf("run(%v) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// TestNATSConfigOutputMode: -o writes mode 0600, also over a file that
// had a wider mode, and leaves no temporary file.
func TestNATSConfigOutputMode(t *testing.T) {
	director := natsDirector(t, 0o600)
	dir := t.TempDir()
	out := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run(clusterArgs(director, "na", "-o", out)); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	text, _ := os.ReadFile(out)
	if !strings.Contains(string(text), `server_name: "na"`) || !strings.Contains(string(text), `account: "FD_p1"`) {
		t.Errorf("unexpected configuration:\n%s", text)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("output folder holds %d entries, want only nats.conf", len(ents))
	}
}

// TestNATSConfigPlacement: generated with the same flags, each node dials
// only its passive clients, and the accounts agree.
func TestNATSConfigPlacement(t *testing.T) {
	director := natsDirector(t, 0o600)
	text := map[string]string{}
	for _, n := range []string{"na", "nb"} {
		out, err := execute(t, clusterArgs(director, n, "--assign", "p2=nb")...)
		if err != nil {
			t.Fatal(err)
		}
		text[n] = out
	}
	for n, want := range map[string][2]bool{"na": {true, false}, "nb": {false, true}} {
		for i, c := range []string{"p1", "p2"} {
			has := strings.Contains(text[n], `account: "FD_`+c+`", hub: true`)
			if has != want[i] {
				t.Errorf("node %s dials %s: %v, want %v\n%s", n, c, has, want[i], text[n])
			}
		}
		if !strings.Contains(text[n], "data/nats-"+n+`"`) {
			t.Errorf("node %s: store not data_dir/nats-%s:\n%s", n, n, text[n])
		}
	}
	acc := func(s string) string { return s[strings.Index(s, "accounts {"):strings.Index(s, "# passive client")] }
	if acc(text["na"]) != acc(text["nb"]) {
		t.Errorf("accounts differ:\n%s\n---\n%s", acc(text["na"]), acc(text["nb"]))
	}
	if strings.Contains(text["nb"], natsTestSecret) || !strings.Contains(text["nb"], "s3cret%40pw%2Fx") {
		t.Errorf("password not URL-escaped:\n%s", text["nb"])
	}
}

// TestNATSConfigErrorsHideSecret: refusals name the client and the fix,
// never the password.
func TestNATSConfigErrorsHideSecret(t *testing.T) {
	director := natsDirector(t, 0o600)
	_, err := execute(t, clusterArgs(director, "na", "--assign", "p1=na", "--assign", "p1=nb")...)
	if err == nil || !strings.Contains(err.Error(), `passive client p1 has two leafnode remotes (nodes "na" and "nb")`) {
		t.Fatalf("duplicate assignment: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error holds the password: %v", err)
	}
	open := natsDirector(t, 0o644)
	_, err = execute(t, "nats", "config", "--director", open)
	if err == nil || !strings.Contains(err.Error(), "client p1: leaf_password_file") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable secret: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error holds the password: %v", err)
	}
}

// TestNATSConfigSecure: unless the director runs insecure, the generated
// server requires TLS (certificate, CA for routes and passive clients) and
// admits only the identities the director knows, each with its role's
// permissions; without a certificate the command refuses.
func TestNATSConfigSecure(t *testing.T) {
	dir := t.TempDir()
	dirID, err := identity.New()
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, "director.nkey")
	if err := dirID.Save(seed, false); err != nil {
		t.Fatal(err)
	}
	sdID, _ := identity.New()
	fdID, _ := identity.New()
	secret := filepath.Join(dir, "p1.secret")
	if err := os.WriteFile(secret, []byte(natsTestSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hcl := "director \"dir1\" {\n  nats_url = \"nats://127.0.0.1:4222\"\n  data_dir = \"" + filepath.Join(dir, "data") + "\"\n  identity_file = \"" + seed + "\"\n}\n" +
		"storage \"site1\" {\n  address = \"127.0.0.1\"\n  key = \"" + sdID.PublicKey() + "\"\n}\n" +
		"client \"a1\" {\n  address = \"127.0.0.1\"\n  key = \"" + fdID.PublicKey() + "\"\n}\n" +
		"client \"p1\" {\n  address = \"10.0.0.7\"\n  passive = true\n  leaf_password_file = \"" + secret + "\"\n}\n"
	director := filepath.Join(dir, "director.hcl")
	if err := os.WriteFile(director, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := execute(t, "nats", "config", "--director", director); err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Fatalf("no certificate: %v, want a refusal naming --tls-cert", err)
	}
	out, err := execute(t, "nats", "config", "--director", director, "--tls-cert", "/etc/nats/n.crt", "--tls-key", "/etc/nats/n.key", "--ca", "/etc/nats/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"tls {\n  cert_file: \"/etc/nats/n.crt\"", dirID.PublicKey(), sdID.PublicKey(), fdID.PublicKey(),
		`"ferry.fd.a1.prepare"`, `"ferry.sd.site1.open"`, `tls: { ca_file: "/etc/nats/ca.crt" }`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("generated configuration lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no_auth_user") {
		t.Errorf("a secure configuration admits connections without a key:\n%s", out)
	}
}
