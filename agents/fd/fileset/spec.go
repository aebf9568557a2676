package fileset

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Spec selects what a backup walks.
type Spec struct {
	// Include holds absolute paths, walked in byte order.
	Include []string
	// Exclude holds path.Match globs, matched against the absolute path and
	// the base name of every entry; a match skips the entry and, for a
	// directory, its contents.
	Exclude []string
	// OneFileSystem stops the walk at mount points: a directory on another
	// device than its include root is emitted but not descended into.
	OneFileSystem bool
}

// ErrBadSpec is wrapped by the errors for an invalid Spec.
var ErrBadSpec = errors.New("fileset: bad spec")

// roots returns the cleaned include roots, sorted by bytes, without
// duplicates.
func (s *Spec) roots() ([]string, error) {
	roots := make([]string, 0, len(s.Include))
	for _, inc := range s.Include {
		if !strings.HasPrefix(inc, "/") {
			return nil, fmt.Errorf("%w: include %q is not absolute", ErrBadSpec, inc)
		}
		if strings.IndexByte(inc, 0) >= 0 {
			return nil, fmt.Errorf("%w: include %q holds a NUL byte", ErrBadSpec, inc)
		}
		roots = append(roots, path.Clean(inc))
	}
	slices.Sort(roots)
	return slices.Compact(roots), nil
}

// checkExcludes reports a malformed exclude pattern.
func (s *Spec) checkExcludes() error {
	for _, p := range s.Exclude {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%w: exclude %q: %v", ErrBadSpec, p, err)
		}
	}
	return nil
}

// excluded reports whether the entry at absolute path abs, named name, is
// matched by an exclude pattern.
func (s *Spec) excluded(abs []byte, name string) bool {
	if len(s.Exclude) == 0 {
		return false
	}
	full := string(abs)
	for _, p := range s.Exclude {
		if ok, _ := path.Match(p, full); ok {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
