package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestExitCodes: errors map to exit codes in one place.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	good := filepath.Join(dir, "good.hcl")
	if err := os.WriteFile(bad, []byte("client \"web.example.com\" {\n  address = \"x\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("file_daemon \"c1\" {\n  nats_url = \"nats://127.0.0.1:4222\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"config ok", []string{"config", "check", good}, exitOK},
		{"config problems", []string{"config", "check", bad}, exitConfig},
		{"unknown flag", []string{"jobs", "--nope"}, exitUsage},
		{"bus unreachable", []string{"--insecure", "--nats", "nats://127.0.0.1:1", "jobs"}, exitNoBus},
		{"console without a key", []string{"--identity", "", "--nats", "nats://127.0.0.1:1", "jobs"}, exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Fatalf("run(%v) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// execute runs a command in process and returns its standard output.
func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}
