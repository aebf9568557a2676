package config

import (
	"errors"
	"strings"
	"testing"
)

// want is one expected problem: its key, line (0: unknown) and a piece of
// its message.
type want struct {
	key  string
	line int
	msg  string
}

// expectProblems checks that err holds exactly the wanted problems, in order.
func expectProblems(t *testing.T, err error, wants []want) {
	t.Helper()
	var ps Problems
	if len(wants) == 0 {
		if err != nil {
			t.Fatalf("unexpected problems:\n%v", err)
		}
		return
	}
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not Problems", err, err)
	}
	if len(ps) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(wants), err)
	}
	for i, w := range wants {
		p := ps[i]
		if p.Key != w.key || p.Line != w.line || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("problem %d = %q\nwant key %q line %d msg containing %q", i, p.String(), w.key, w.line, w.msg)
		}
	}
}
