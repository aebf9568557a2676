package schemas

import (
	"fmt"
	"reflect"
	"strings"
)

// Role is a kind of bus participant. Subjects name which roles publish and
// which subscribe, so permissions can be generated from this registry.
type Role string

// Roles on the bus.
const (
	RoleDirector Role = "director"
	RoleSD       Role = "sd"
	RoleFD       Role = "fd"
	RoleConsole  Role = "console"
	RoleAny      Role = "any" // automation hooks: read-only subscribers
	// RolePending is a key the director does not know yet: it may only ask
	// to be enrolled, on the subject that names it.
	RolePending Role = "pending"
)

// Transport says how a subject's messages travel.
type Transport string

// Transports.
const (
	TransportRequest Transport = "request/reply"
	TransportCore    Transport = "core publish"
	TransportStream  Transport = "JetStream"
)

// SubjectInfo describes one subject for documentation and permissions.
type SubjectInfo struct {
	Pattern   string // '*' marks each parameter token, in order
	Params    []string
	Desc      string
	Transport Transport
	Message   string // message type name
	Reply     string // reply type name, for requests
	Pub, Sub  []Role
}

var subjects []SubjectInfo

// Subjects lists every registered subject in definition order.
func Subjects() []SubjectInfo { return append([]SubjectInfo(nil), subjects...) }

// Subject is a publish/subscribe subject carrying messages of type T.
type Subject[T any] struct{ info SubjectInfo }

// Request is a request/reply subject: Req goes out, Resp comes back.
type Request[Req, Resp any] struct{ info SubjectInfo }

func newSubject[T any](t Transport, pattern string, params []string, desc string, pub, sub []Role) Subject[T] {
	info := mustInfo(t, pattern, params, desc, pub, sub, nameOf[T]())
	return Subject[T]{info: info}
}

func newRequest[Req, Resp any](pattern string, params []string, desc string, pub, sub []Role) Request[Req, Resp] {
	info := mustInfo(TransportRequest, pattern, params, desc, pub, sub, nameOf[Req]())
	info.Reply = nameOf[Resp]()
	subjects[len(subjects)-1].Reply = info.Reply
	return Request[Req, Resp]{info: info}
}

func mustInfo(t Transport, pattern string, params []string, desc string, pub, sub []Role, msg string) SubjectInfo {
	if strings.Count(pattern, "*") != len(params) {
		panic(fmt.Sprintf("schemas: subject %q: %d wildcards for %d params", pattern, strings.Count(pattern, "*"), len(params)))
	}
	info := SubjectInfo{Pattern: pattern, Params: params, Desc: desc, Transport: t, Message: msg, Pub: pub, Sub: sub}
	subjects = append(subjects, info)
	return info
}

func nameOf[T any]() string {
	info, ok := byGoType[reflect.TypeFor[T]()]
	if !ok {
		panic(fmt.Sprintf("schemas: %v is not registered in messages.go", reflect.TypeFor[T]()))
	}
	return info.Name
}

// Info returns the subject's description.
func (s Subject[T]) Info() SubjectInfo { return s.info }

// Info returns the subject's description.
func (r Request[Req, Resp]) Info() SubjectInfo { return r.info }

// Subject fills the parameter tokens in order. A token that is not a valid
// single subject token is an error: names are checked at config load, so this
// only trips on a bug or hostile input.
func (s Subject[T]) Subject(tokens ...string) (string, error) { return fill(s.info, tokens) }

// Subject fills the parameter tokens in order.
func (r Request[Req, Resp]) Subject(tokens ...string) (string, error) { return fill(r.info, tokens) }

// Wildcard is the pattern with every parameter open, for subscribers.
func (s Subject[T]) Wildcard() string { return s.info.Pattern }

// Filter is like Subject but a token may be "*" to leave it open.
func (s Subject[T]) Filter(tokens ...string) (string, error) { return fillWith(s.info, tokens, true) }

// Wildcard is the pattern with every parameter open, for subscribers.
func (r Request[Req, Resp]) Wildcard() string { return r.info.Pattern }

// Token returns the value of the named parameter in a concrete subject. It
// reports false when the subject does not match the pattern (its literal
// tokens differ or it has another number of tokens) or param is not one of
// the subject's parameters.
func Token(info SubjectInfo, subject string, param string) (string, bool) {
	pat := strings.Split(info.Pattern, ".")
	got := strings.Split(subject, ".")
	if len(pat) != len(got) {
		return "", false
	}
	for i, p := range pat {
		if p != "*" && got[i] != p {
			return "", false
		}
	}
	n := 0
	for i, p := range pat {
		if p != "*" {
			continue
		}
		if info.Params[n] == param {
			return got[i], true
		}
		n++
	}
	return "", false
}

func fill(info SubjectInfo, tokens []string) (string, error) { return fillWith(info, tokens, false) }

func fillWith(info SubjectInfo, tokens []string, open bool) (string, error) {
	if len(tokens) != len(info.Params) {
		return "", fmt.Errorf("subject %s: got %d tokens, want %d (%s)", info.Pattern, len(tokens), len(info.Params), strings.Join(info.Params, ", "))
	}
	parts := strings.Split(info.Pattern, ".")
	n := 0
	for i, p := range parts {
		if p != "*" {
			continue
		}
		if open && tokens[n] == "*" {
			n++
			continue
		}
		if err := CheckToken(tokens[n]); err != nil {
			return "", fmt.Errorf("subject %s: %s: %w", info.Pattern, info.Params[n], err)
		}
		parts[i] = tokens[n]
		n++
	}
	return strings.Join(parts, "."), nil
}

// CheckToken reports whether s can stand as one subject token: letters,
// digits, '-' and '_', at most 64 bytes.
func CheckToken(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if len(s) > 64 {
		return fmt.Errorf("name %q is longer than 64 bytes", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return fmt.Errorf("name %q has %q: only letters, digits, '-' and '_' may form one NATS subject token", s, c)
		}
	}
	return nil
}
