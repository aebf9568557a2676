package config

import "testing"

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"full", Problem{File: "d.hcl", Line: 3, Col: 5, Key: `client "web1".data_port`, Msg: "bad"},
			`d.hcl:3:5: client "web1".data_port: bad`},
		{"no position", Problem{Key: `client "web1"`, Msg: "bad"}, `client "web1": bad`},
		{"file only", Problem{File: "d.hcl", Key: "director", Msg: "missing"}, "d.hcl: director: missing"},
		{"no key", Problem{File: "d.hcl", Line: 1, Col: 1, Msg: "syntax"}, "d.hcl:1:1: syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{{Key: "a", Msg: "x"}, {File: "f", Line: 2, Col: 1, Key: "b", Msg: "y"}}
	if got, want := ps.Error(), "a: x\nf:2:1: b: y"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if Problems(nil).err() != nil {
		t.Error("no problems is not a nil error")
	}
}
