package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Problem is one thing wrong with a configuration. File, Line and Col are
// zero when the position is unknown, as for a configuration built in code.
type Problem struct {
	File string
	Line int
	Col  int
	Key  string // e.g. `client "web1".data_port`
	Msg  string
}

// String formats the problem as "file:line:col: key: msg", leaving out
// whatever is unknown.
func (p Problem) String() string {
	var parts []string
	switch {
	case p.File != "" && p.Line > 0:
		parts = append(parts, fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col))
	case p.File != "":
		parts = append(parts, p.File)
	}
	if p.Key != "" {
		parts = append(parts, p.Key)
	}
	return strings.Join(append(parts, p.Msg), ": ")
}

// Problems is every problem found in a configuration, in file order.
type Problems []Problem

// Error prints one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// err is ps as an error, or nil when there are none.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// sorted orders problems by position; unknown positions keep their order.
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return ps
}

func problemAt(r hcl.Range, key, msg string) Problem {
	return Problem{File: r.Filename, Line: r.Start.Line, Col: r.Start.Column, Key: key, Msg: msg}
}

// diagProblem converts one HCL error diagnostic.
func diagProblem(d *hcl.Diagnostic, file, key string) Problem {
	msg := d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	if d.Subject == nil {
		return Problem{File: file, Key: key, Msg: msg}
	}
	p := problemAt(*d.Subject, key, msg)
	if p.File == "" {
		p.File = file
	}
	return p
}

// subKey names what a body-content diagnostic is about: for an unknown or
// duplicate argument or block, the subject is its name, appended to prefix.
// For a block with too few or too many labels, it is the block type.
func subKey(d *hcl.Diagnostic, src []byte, prefix string) string {
	var name string
	switch {
	case strings.HasPrefix(d.Summary, "Missing name for "),
		strings.HasPrefix(d.Summary, "Extraneous label for "):
		name = d.Summary[strings.LastIndexByte(d.Summary, ' ')+1:]
	case d.Subject != nil && (strings.HasPrefix(d.Summary, "Unsupported") ||
		strings.HasPrefix(d.Summary, "Duplicate")):
		name = string(d.Subject.SliceBytes(src))
	}
	if !isIdent(name) {
		return prefix
	}
	return joinKey(prefix, name)
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func joinKey(prefix, name string) string {
	if prefix == "" || name == "" {
		return prefix + name
	}
	return prefix + "." + name
}

func blockKey(typ, name string) string { return fmt.Sprintf("%s %q", typ, name) }
