package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/identity"
	"github.com/nats-io/nkeys"
)

func TestKeyExitCodes(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "fd.nkey")
	open := filepath.Join(dir, "open.nkey")
	if code := run([]string{"key", "new", "--out", open}); code != exitOK {
		t.Fatalf("key new: exit %d", code)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"new", []string{"key", "new", "--out", seed}, exitOK},
		{"new over an existing key", []string{"key", "new", "--out", seed}, exitError},
		{"new --force", []string{"key", "new", "--out", seed, "--force"}, exitOK},
		{"new without --out", []string{"key", "new"}, exitUsage},
		{"new to standard output", []string{"key", "new", "--out", "-"}, exitUsage},
		{"new into a missing folder", []string{"key", "new", "--out", filepath.Join(dir, "no", "such")}, exitError},
		{"new unknown flag", []string{"key", "new", "--out", seed, "--nope"}, exitUsage},
		{"show", []string{"key", "show", seed}, exitOK},
		{"show a readable seed", []string{"key", "show", open}, exitError},
		{"show a missing file", []string{"key", "show", filepath.Join(dir, "missing")}, exitError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Fatalf("run(%v) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// TestKeyNewShow: new prints the public key of the seed it wrote (mode
// 0600), show prints the same, and neither prints the seed.
func TestKeyNewShow(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "sd.nkey")
	out, err := execute(t, "key", "new", "--out", seed)
	if err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(out)
	if !nkeys.IsValidPublicUserKey(pub) || out != pub+"\n" {
		t.Fatalf("key new printed %q, want one user public key", out)
	}
	fi, err := os.Stat(seed)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("seed file mode %04o, want 0600", fi.Mode().Perm())
	}
	id, err := identity.Load(seed)
	if err != nil || id.PublicKey() != pub {
		t.Fatalf("seed file holds %v (%v), printed %s", id, err, pub)
	}
	shown, err := execute(t, "key", "show", seed)
	if err != nil {
		t.Fatal(err)
	}
	if shown != out {
		t.Errorf("key show printed %q, key new %q", shown, out)
	}
	text, _ := os.ReadFile(seed)
	secret := strings.TrimSpace(string(text))
	if strings.Contains(out+shown, secret) {
		t.Error("output holds the seed")
	}

	// Refused over the existing key, which stays; replaced with --force.
	_, err = execute(t, "key", "new", "--out", seed)
	if err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), seed) {
		t.Fatalf("new over an existing key: %v", err)
	}
	if again, _ := execute(t, "key", "show", seed); again != out {
		t.Fatalf("refused new changed the key: %q", again)
	}
	forced, err := execute(t, "key", "new", "--out", seed, "--force")
	if err != nil {
		t.Fatal(err)
	}
	if forced == out {
		t.Fatal("--force kept the old key")
	}
	if again, _ := execute(t, "key", "show", seed); again != forced {
		t.Fatalf("show after --force printed %q, new printed %q", again, forced)
	}
}

func TestKeyShowRefusesReadableSeed(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "fd.nkey")
	if _, err := execute(t, "key", "new", "--out", seed); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(seed, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := execute(t, "key", "show", seed)
	if err == nil || !strings.Contains(err.Error(), seed) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable seed: %v", err)
	}
}
