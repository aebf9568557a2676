package config

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr []string // pieces of the message; nil: valid
	}{
		{"letters", "web1", nil},
		{"dash and underscore", "db-dumps_2", nil},
		{"max length", strings.Repeat("a", MaxNameLen), nil},
		{"empty", "", []string{"must not be empty"}},
		{"too long", strings.Repeat("a", MaxNameLen+1), []string{"65 bytes", "at most 64"}},
		{"dots", "web.example.com", []string{`'.' separates NATS subject tokens`, `try "web-example-com"`}},
		{"star", "web*", []string{"wildcard", `try "web-"`}},
		{"gt", "a>b", []string{"wildcard"}},
		{"space", "my job", []string{"white space", `try "my-job"`}},
		{"unicode", "café", []string{`'é' is not allowed`, `try "caf-"`}},
		{"slash", "a/b", []string{`'/' is not allowed`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidName(tt.in)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ValidName(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidName(%q) = nil, want an error", tt.in)
			}
			for _, piece := range tt.wantErr {
				if !strings.Contains(err.Error(), piece) {
					t.Errorf("ValidName(%q) = %q, want it to contain %q", tt.in, err, piece)
				}
			}
		})
	}
}

func TestSuggestNameIsValid(t *testing.T) {
	for _, in := range []string{"web.example.com", "a b c", "x*y>z", "ünï.cødé"} {
		s := suggestName(in)
		if err := ValidName(s); err != nil {
			t.Errorf("suggestName(%q) = %q, invalid: %v", in, s, err)
		}
	}
}
