package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxSecretBytes bounds what ReadSecret reads: a password file is a line,
// and anything much larger is the wrong file.
const maxSecretBytes = 64 << 10

// ReadSecret reads a secret, such as a leaf_password_file, from its own
// file. The file must be a regular file (not a symlink, which Lstat sees)
// that neither group nor others may read or write: mode 0600 or 0400. A
// trailing newline is trimmed, and an empty secret is refused. Errors name
// the path and, for a bad mode, the fix; they never hold the secret.
func ReadSecret(path string) (string, error) {
	if path == "" {
		return "", errors.New("secret file: no path given")
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if err := checkSecretMode(path, fi); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	defer f.Close()
	// The file opened must be the one checked: a swap between Lstat and
	// Open (for a symlink, say) would otherwise slip past the checks.
	ofi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if !os.SameFile(fi, ofi) {
		return "", fmt.Errorf("secret file %s changed while being opened; try again", path)
	}
	if err := checkSecretMode(path, ofi); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if len(b) > maxSecretBytes {
		return "", fmt.Errorf("secret file %s is larger than %d bytes; a secret file holds one line", path, maxSecretBytes)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty; write the secret on one line", path)
	}
	return s, nil
}

// checkSecretMode refuses anything but a regular file private to its owner.
func checkSecretMode(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return fmt.Errorf("secret file %s is a symlink (mode %s); refer to the file itself, "+
			"a regular file with mode 0600", path, m)
	case !m.IsRegular():
		return fmt.Errorf("secret file %s is not a regular file (mode %s); "+
			"a secret must be a regular file with mode 0600", path, m)
	case m.Perm()&0o077 != 0:
		return fmt.Errorf("secret file %s has mode %04o: group or others may read or write it; "+
			"run chmod 600 %s", path, m.Perm(), path)
	}
	return nil
}
