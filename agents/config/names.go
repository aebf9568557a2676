package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest resource name, in bytes.
const MaxNameLen = 64

// ValidName reports whether name can name a resource: a name is used as one
// NATS subject token, so it is non-empty, at most MaxNameLen bytes and made
// of A-Z, a-z, 0-9, '_' and '-' only. Names are rejected, never rewritten;
// the error suggests a valid spelling when there is one.
func ValidName(name string) error {
	if name == "" {
		return errors.New("name must not be empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name is %d bytes long; at most %d are allowed", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return badName(name, i)
		}
	}
	return nil
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

func badName(name string, i int) error {
	r, _ := utf8.DecodeRuneInString(name[i:])
	msg := fmt.Sprintf("invalid name %q: %s; a name must be a single NATS subject token "+
		"of letters, digits, '_' and '-'", name, whyNot(r))
	if s := suggestName(name); s != "" {
		msg += fmt.Sprintf(`; try %q`, s)
	}
	return errors.New(msg)
}

func whyNot(r rune) string {
	switch r {
	case '.':
		return "'.' separates NATS subject tokens"
	case '*', '>':
		return fmt.Sprintf("%q is a NATS wildcard", r)
	case ' ', '\t', '\r', '\n':
		return "white space ends a NATS subject"
	}
	return fmt.Sprintf("%q is not allowed", r)
}

// suggestName replaces each disallowed character by '-'; it returns "" when
// that still gives no valid name.
func suggestName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < utf8.RuneSelf && nameByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if s == name || len(s) > MaxNameLen {
		return ""
	}
	return s
}
