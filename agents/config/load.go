package config

import (
	"os"
	"path/filepath"
)

// Kind is the kind of a configuration file, named after its main block.
type Kind string

// The kinds of configuration file.
const (
	KindDirector      Kind = "director"
	KindStorageDaemon Kind = "storage_daemon"
	KindFileDaemon    Kind = "file_daemon"
)

// LoadDirector reads, defaults and validates a director file.
func LoadDirector(path string) (*Director, error) {
	return load(path, ParseDirector)
}

// LoadStorageDaemon reads, defaults and validates a storage daemon file.
func LoadStorageDaemon(path string) (*StorageDaemon, error) {
	return load(path, ParseStorageDaemon)
}

// LoadFileDaemon reads, defaults and validates a file daemon file.
func LoadFileDaemon(path string) (*FileDaemon, error) {
	return load(path, ParseFileDaemon)
}

func load[T any](path string, parse func(string, []byte) (*T, error)) (*T, error) {
	path = filepath.Clean(path)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, src)
}

// ParseDirector decodes src, named filename in problems, as a director
// file, applies defaults and validates it. The error is Problems unless nil.
func ParseDirector(filename string, src []byte) (*Director, error) {
	return parse(filename, src, KindDirector).directorResult()
}

// ParseStorageDaemon is ParseDirector for a storage daemon file.
func ParseStorageDaemon(filename string, src []byte) (*StorageDaemon, error) {
	return parse(filename, src, KindStorageDaemon).storageDaemonResult()
}

// ParseFileDaemon is ParseDirector for a file daemon file.
func ParseFileDaemon(filename string, src []byte) (*FileDaemon, error) {
	return parse(filename, src, KindFileDaemon).fileDaemonResult()
}

// Check reads the file at path, tells its kind from its blocks, and decodes
// and validates it as that kind. kind is "" when it cannot be told; err is
// Problems, or the error reading the file.
func Check(path string) (kind Kind, err error) {
	path = filepath.Clean(path)
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f := parse(path, src, "")
	switch f.kind {
	case KindDirector:
		_, err = f.directorResult()
	case KindStorageDaemon:
		_, err = f.storageDaemonResult()
	case KindFileDaemon:
		_, err = f.fileDaemonResult()
	default:
		err = f.result(nil)
	}
	return f.kind, err
}

func (f *file) directorResult() (*Director, error) {
	if f.main == nil {
		return nil, f.result(nil)
	}
	d, p := f.director()
	if err := f.result(validateDirector(d, p)); err != nil {
		return nil, err
	}
	return d, nil
}

func (f *file) storageDaemonResult() (*StorageDaemon, error) {
	if f.main == nil {
		return nil, f.result(nil)
	}
	s, p := f.storageDaemon()
	if err := f.result(validateStorageDaemon(s, p)); err != nil {
		return nil, err
	}
	return s, nil
}

func (f *file) fileDaemonResult() (*FileDaemon, error) {
	if f.main == nil {
		return nil, f.result(nil)
	}
	fd, p := f.fileDaemon()
	if err := f.result(validateFileDaemon(fd, p)); err != nil {
		return nil, err
	}
	return fd, nil
}
