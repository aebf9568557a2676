package main

import (
	"encoding/base64"
	"testing"

	"github.com/ferrybackup/ferry/schemas"
)

// TestProgressJSONLossless: a non-UTF-8 path travels as base64, a valid one
// as a string; either way every byte comes back.
func TestProgressJSONLossless(t *testing.T) {
	for _, path := range [][]byte{[]byte("etc/héllo"), []byte("bad\xff\xfe\nname")} {
		m := progressJSON(schemas.Progress{Path: path}).(map[string]any)
		var got []byte
		if s, ok := m["path"].(string); ok {
			got = []byte(s)
		} else {
			got, _ = base64.StdEncoding.DecodeString(m["path_b64"].(string))
		}
		if string(got) != string(path) {
			t.Fatalf("path %q came back as %q", path, got)
		}
	}
}
