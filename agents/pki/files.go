package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// file is one file to write: a certificate (0644) or a key (0600).
type file struct {
	path string
	data []byte
	mode fs.FileMode
}

// Save writes the CA to dir: ca.crt (mode 0644) and ca.key (mode 0600,
// PKCS#8 PEM). dir is made (mode 0700) if it does not exist, but not its
// parents. If either file exists, nothing is written and the error is
// fs.ErrExist for errors.Is, unless force is set: then each file is
// written anew beside the old one and renamed over it, so a key file
// that was readable by others is not reused and a crash never leaves
// half a key.
func (ca *CA) Save(dir string, force bool) error {
	if ca == nil || ca.cert == nil || ca.key == nil {
		return errors.New("save CA: no CA")
	}
	pkcs8, err := marshalKey(ca.key)
	if err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	defer wipe(pkcs8)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("save CA: %w", err)
	}
	return writeFiles([]file{
		{filepath.Join(dir, CACertFile), ca.certPEM, 0o644},
		{filepath.Join(dir, CAKeyFile), pkcs8, 0o600},
	}, force)
}

// SaveCert writes what Issue returned: prefix.crt (mode 0644) and
// prefix.key (mode 0600), with Save's rules for existing files.
func SaveCert(prefix string, certPEM, keyPEM []byte, force bool) error {
	if prefix == "" {
		return errors.New("save certificate: no file prefix")
	}
	return writeFiles([]file{
		{prefix + ".crt", certPEM, 0o644},
		{prefix + ".key", keyPEM, 0o600},
	}, force)
}

// writeFiles writes all of files or, without force, none if one exists.
func writeFiles(files []file, force bool) error {
	if force {
		for _, f := range files {
			if err := replace(f); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return &existsError{path: f.path}
		}
	}
	var made []string
	for _, f := range files {
		if err := create(f); err != nil {
			for _, p := range made {
				os.Remove(p) // ours: O_EXCL created it
			}
			return err
		}
		made = append(made, f.path)
	}
	return nil
}

// create writes a new file; it fails if the file exists.
func create(f file) error {
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &existsError{path: f.path}
		}
		return fmt.Errorf("write file: %w", err)
	}
	if err := writeClose(fh, f.data, f.path); err != nil {
		os.Remove(f.path)
		return err
	}
	return syncDir(filepath.Dir(f.path))
}

// replace writes the file under a temporary name in the same folder and
// renames it over f.path.
func replace(f file) error {
	dir := filepath.Dir(f.path)
	fh, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	tmp := fh.Name()
	// CreateTemp makes the file 0600; set the mode regardless of umask.
	if err := fh.Chmod(f.mode); err != nil {
		fh.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := writeClose(fh, f.data, f.path); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return syncDir(dir)
}

func writeClose(fh *os.File, data []byte, path string) error {
	_, err := fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir makes a new or renamed directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// existsError: a save would replace a file. It is fs.ErrExist for
// errors.Is.
type existsError struct{ path string }

func (e *existsError) Error() string {
	return fmt.Sprintf("%s already exists; it is not replaced unless asked", e.path)
}

func (e *existsError) Is(target error) bool { return target == fs.ErrExist }

// IssueFiles issues a certificate with the default validity (Issue) and
// writes it with SaveCert; it returns the two files' paths.
func (ca *CA) IssueFiles(prefix, name string, hosts []string, force bool) (certFile, keyFile string, err error) {
	certPEM, keyPEM, err := ca.Issue(name, hosts, 0)
	if err != nil {
		return "", "", err
	}
	defer wipe(keyPEM)
	if err := SaveCert(prefix, certPEM, keyPEM, force); err != nil {
		return "", "", err
	}
	return prefix + ".crt", prefix + ".key", nil
}
