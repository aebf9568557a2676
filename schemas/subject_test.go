package schemas

import (
	"slices"
	"strings"
	"testing"
)

func TestSubjectFill(t *testing.T) {
	long64 := strings.Repeat("a", 64)
	tests := []struct {
		name    string
		fill    func() (string, error)
		want    string
		wantErr bool
	}{
		{name: "one param", fill: func() (string, error) { return FDPrepare.Subject("web1") }, want: "ferry.fd.web1.prepare"},
		{name: "two params", fill: func() (string, error) { return DirLog.Subject("fd", "web-1_A") }, want: "ferry.dir.log.fd.web-1_A"},
		{name: "trailing param", fill: func() (string, error) { return DirFiles.Subject("disk1") }, want: "ferry.dir.files.disk1"},
		{name: "no params", fill: func() (string, error) { return APIRun.Subject() }, want: "ferry.api.run"},
		{name: "publish subject", fill: func() (string, error) { return JobEvents.Subject("42", EventFinished) }, want: "ferry.events.job.42.finished"},
		{name: "64 bytes", fill: func() (string, error) { return FDPrepare.Subject(long64) }, want: "ferry.fd." + long64 + ".prepare"},
		{name: "dot", fill: func() (string, error) { return FDPrepare.Subject("a.b") }, wantErr: true},
		{name: "star", fill: func() (string, error) { return FDPrepare.Subject("*") }, wantErr: true},
		{name: "star on publish subject", fill: func() (string, error) { return JobEvents.Subject("*", "finished") }, wantErr: true},
		{name: "gt", fill: func() (string, error) { return FDPrepare.Subject(">") }, wantErr: true},
		{name: "empty", fill: func() (string, error) { return FDPrepare.Subject("") }, wantErr: true},
		{name: "space", fill: func() (string, error) { return FDPrepare.Subject("a b") }, wantErr: true},
		{name: "only space", fill: func() (string, error) { return FDPrepare.Subject(" ") }, wantErr: true},
		{name: "tab", fill: func() (string, error) { return FDPrepare.Subject("a\tb") }, wantErr: true},
		{name: "newline", fill: func() (string, error) { return FDPrepare.Subject("a\r\nPUB x") }, wantErr: true},
		{name: "non-ASCII", fill: func() (string, error) { return FDPrepare.Subject("caf\u00e9") }, wantErr: true},
		{name: "65 bytes", fill: func() (string, error) { return FDPrepare.Subject(long64 + "a") }, wantErr: true},
		{name: "too few tokens", fill: func() (string, error) { return DirLog.Subject("fd") }, wantErr: true},
		{name: "too many tokens", fill: func() (string, error) { return APIRun.Subject("x") }, wantErr: true},
		{name: "second token bad", fill: func() (string, error) { return DirReport.Subject("fd", "a.b") }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.fill()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSubjectFilter(t *testing.T) {
	tests := []struct {
		name    string
		tokens  []string
		want    string
		wantErr bool
	}{
		{name: "all open", tokens: []string{"*", "*"}, want: "ferry.events.job.*.*"},
		{name: "one event, any job", tokens: []string{"*", EventFinished}, want: "ferry.events.job.*.finished"},
		{name: "one job, any event", tokens: []string{"42", "*"}, want: "ferry.events.job.42.*"},
		{name: "closed", tokens: []string{"42", EventFailed}, want: "ferry.events.job.42.failed"},
		{name: "gt refused", tokens: []string{">", "*"}, wantErr: true},
		{name: "dot refused", tokens: []string{"a.b", "*"}, wantErr: true},
		{name: "partial star refused", tokens: []string{"4*", "*"}, wantErr: true},
		{name: "empty refused", tokens: []string{"", "*"}, wantErr: true},
		{name: "wrong count", tokens: []string{"*"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JobEvents.Filter(tt.tokens...)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if got := JobEvents.Wildcard(); got != JobEvents.Info().Pattern {
		t.Errorf("Wildcard %q != pattern", got)
	}
	if got := DirLog.Wildcard(); got != "ferry.dir.log.*.*" {
		t.Errorf("request Wildcard %q", got)
	}
}

func TestToken(t *testing.T) {
	tests := []struct {
		name    string
		info    SubjectInfo
		subject string
		param   string
		want    string
		ok      bool
	}{
		{name: "first of two", info: DirLog.Info(), subject: "ferry.dir.log.fd.web1", param: "role", want: "fd", ok: true},
		{name: "second of two", info: DirLog.Info(), subject: "ferry.dir.log.fd.web1", param: "agent", want: "web1", ok: true},
		{name: "middle", info: FDPrepare.Info(), subject: "ferry.fd.web1.prepare", param: "client", want: "web1", ok: true},
		{name: "last", info: DirFiles.Info(), subject: "ferry.dir.files.disk1", param: "storage", want: "disk1", ok: true},
		{name: "event", info: JobEvents.Info(), subject: "ferry.events.job.42.finished", param: "event", want: "finished", ok: true},
		{name: "unknown param", info: DirLog.Info(), subject: "ferry.dir.log.fd.web1", param: "storage"},
		{name: "no params", info: APIRun.Info(), subject: "ferry.api.run", param: "job"},
		{name: "too few tokens", info: DirLog.Info(), subject: "ferry.dir.log.fd", param: "role"},
		{name: "too many tokens", info: DirLog.Info(), subject: "ferry.dir.log.fd.web1.x", param: "role"},
		{name: "other subject", info: DirLog.Info(), subject: "ferry.dir.report.fd.web1", param: "role"},
		{name: "other prefix", info: FDPrepare.Info(), subject: "ferry.sd.disk1.prepare", param: "client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Token(tt.info, tt.subject, tt.param)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Token = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTokenInvertsSubject: every parameter filled by Subject reads back.
func TestTokenInvertsSubject(t *testing.T) {
	for _, s := range Subjects() {
		t.Run(s.Pattern, func(t *testing.T) {
			tokens := make([]string, len(s.Params))
			for i := range tokens {
				tokens[i] = "tok" + string(rune('A'+i))
			}
			subj, err := fill(s, tokens)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range s.Params {
				if got, ok := Token(s, subj, p); !ok || got != tokens[i] {
					t.Errorf("Token(%s, %s) = %q, %v; want %q", subj, p, got, ok, tokens[i])
				}
			}
		})
	}
}

func TestSubjectRegistry(t *testing.T) {
	messages := make(map[string]bool)
	for _, m := range Messages() {
		messages[m.Name] = true
	}
	validRoles := []Role{RoleDirector, RoleSD, RoleFD, RoleConsole, RoleAny, RolePending}
	seen := make(map[string]bool)
	all := Subjects()
	if len(all) == 0 {
		t.Fatal("no subjects registered")
	}
	for _, s := range all {
		t.Run(s.Pattern, func(t *testing.T) {
			if seen[s.Pattern] {
				t.Errorf("pattern registered twice")
			}
			seen[s.Pattern] = true
			if !strings.HasPrefix(s.Pattern, "ferry.") {
				t.Errorf("pattern does not start with ferry.")
			}
			if strings.TrimSpace(s.Desc) == "" {
				t.Errorf("empty description")
			}
			if len(s.Pub) == 0 || len(s.Sub) == 0 {
				t.Errorf("publishers %v, subscribers %v: both must be named", s.Pub, s.Sub)
			}
			for _, r := range append(slices.Clone(s.Pub), s.Sub...) {
				if !slices.Contains(validRoles, r) {
					t.Errorf("unknown role %q", r)
				}
			}
			if !messages[s.Message] {
				t.Errorf("message %q is not registered", s.Message)
			}
			switch s.Transport {
			case TransportRequest:
				if !messages[s.Reply] {
					t.Errorf("reply %q is not registered", s.Reply)
				}
			case TransportCore, TransportStream:
				if s.Reply != "" {
					t.Errorf("%s subject has a reply type %q", s.Transport, s.Reply)
				}
			default:
				t.Errorf("unknown transport %q", s.Transport)
			}
			// The stream captures exactly the JetStream subjects.
			prefix := strings.TrimSuffix(EventStreamMatch, ">")
			if inStream := strings.HasPrefix(s.Pattern, prefix); inStream != (s.Transport == TransportStream) {
				t.Errorf("transport %s, but matched by stream %s: %v", s.Transport, EventStreamMatch, inStream)
			}
			// Every token is a literal name or a whole-token parameter.
			tokens := strings.Split(s.Pattern, ".")
			stars := 0
			for _, tok := range tokens {
				if tok == "*" {
					stars++
					continue
				}
				if err := CheckToken(tok); err != nil {
					t.Errorf("token %q: %v", tok, err)
				}
			}
			if stars != len(s.Params) {
				t.Errorf("%d wildcards for params %v", stars, s.Params)
			}
			for i, p := range s.Params {
				if p == "" || slices.Contains(s.Params[:i], p) {
					t.Errorf("parameter %d %q is empty or repeated", i, p)
				}
			}
		})
	}
	// Subscribers on one pattern must never receive another's messages.
	for i, a := range all {
		for _, b := range all[i+1:] {
			if overlap(a.Pattern, b.Pattern) {
				t.Errorf("patterns %s and %s match a common subject", a.Pattern, b.Pattern)
			}
		}
	}
}

func overlap(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	if len(ta) != len(tb) {
		return false
	}
	for i := range ta {
		if ta[i] != tb[i] && ta[i] != "*" && tb[i] != "*" {
			return false
		}
	}
	return true
}

// TestEveryMessageUsed: a registered message travels on a subject or is
// nested, directly or not, in one that does.
func TestEveryMessageUsed(t *testing.T) {
	used := make(map[string]bool)
	for _, s := range Subjects() {
		used[s.Message] = true
		if s.Reply != "" {
			used[s.Reply] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, m := range Messages() {
			if !used[m.Name] {
				continue
			}
			for _, n := range nestedMessages(m.Type) {
				if !used[n] {
					used[n], changed = true, true
				}
			}
		}
	}
	for _, m := range Messages() {
		if !used[m.Name] {
			t.Errorf("message %s is registered but travels on no subject", m.Name)
		}
	}
}
