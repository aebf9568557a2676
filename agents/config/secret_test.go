package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSecret is the secret the tests write; no error may contain it.
const testSecret = "s3cr3t-Leaf-Pw"

func TestReadSecret(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		symlink bool // refer to the file through a symlink
		missing bool // refer to a file that does not exist
		want    string
		errs    []string // pieces of the error; nil: no error
	}{
		{name: "0600", content: testSecret + "\n", mode: 0o600, want: testSecret},
		{name: "0400", content: testSecret, mode: 0o400, want: testSecret},
		{name: "crlf trimmed", content: testSecret + "\r\n", mode: 0o600, want: testSecret},
		{name: "inner spaces kept", content: " a b \n", mode: 0o600, want: " a b "},
		{name: "0640", content: testSecret, mode: 0o640,
			errs: []string{"has mode 0640", "group or others", "run chmod 600 "}},
		{name: "0644", content: testSecret, mode: 0o644,
			errs: []string{"has mode 0644", "run chmod 600 "}},
		{name: "0604", content: testSecret, mode: 0o604,
			errs: []string{"has mode 0604", "run chmod 600 "}},
		{name: "0620", content: testSecret, mode: 0o620,
			errs: []string{"has mode 0620", "run chmod 600 "}},
		{name: "0602", content: testSecret, mode: 0o602,
			errs: []string{"has mode 0602", "run chmod 600 "}},
		{name: "symlink", content: testSecret, mode: 0o600, symlink: true,
			errs: []string{"is a symlink", "mode L"}},
		{name: "empty", content: "", mode: 0o600, errs: []string{"is empty"}},
		{name: "newline only", content: "\n", mode: 0o600, errs: []string{"is empty"}},
		{name: "missing", missing: true, errs: []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "leaf.secret")
			if !tt.missing {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil { // not subject to the umask
					t.Fatal(err)
				}
			}
			if tt.symlink {
				link := filepath.Join(dir, "link.secret")
				if err := os.Symlink(path, link); err != nil {
					t.Fatal(err)
				}
				path = link
			}
			got, err := ReadSecret(path)
			if tt.errs == nil {
				if err != nil || got != tt.want {
					t.Fatalf("ReadSecret = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadSecret = %q, nil; want an error", got)
			}
			if got != "" {
				t.Errorf("ReadSecret returned %q with its error", got)
			}
			msg := err.Error()
			for _, piece := range append(tt.errs, path) {
				if !strings.Contains(msg, piece) {
					t.Errorf("error %q lacks %q", msg, piece)
				}
			}
			if strings.HasPrefix(tt.name, "06") && !strings.Contains(msg, "chmod 600 "+path) {
				t.Errorf("error %q does not say chmod 600 %s", msg, path)
			}
			if strings.Contains(msg, testSecret) {
				t.Errorf("error %q contains the secret", msg)
			}
			if tt.missing && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v is not fs.ErrNotExist", err)
			}
		})
	}
}

func TestReadSecretNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSecret(dir)
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") ||
		!strings.Contains(err.Error(), dir) {
		t.Errorf("ReadSecret(directory) = %v; want a not-a-regular-file error naming it", err)
	}
	if _, err := ReadSecret(""); err == nil {
		t.Error("ReadSecret(\"\") succeeded")
	}
}

func TestReadSecretTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.secret")
	big := strings.Repeat(testSecret, maxSecretBytes/len(testSecret)+1)
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSecret(path)
	if err == nil || !strings.Contains(err.Error(), "larger than") || strings.Contains(err.Error(), testSecret) {
		t.Errorf("ReadSecret(large file) = %v; want a size error without the secret", err)
	}
}
