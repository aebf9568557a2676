package sd

import (
	"bytes"
	"context"
	"testing"

	"github.com/ferrybackup/ferry/agents/sd/volume"

	"github.com/ferrybackup/ferry/datapath"
)

func TestSelection(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		path  string
		want  bool
	}{
		{"no selection takes all", nil, "etc/passwd", true},
		{"exact path", []string{"etc/passwd"}, "etc/passwd", true},
		{"below a selected dir", []string{"/etc"}, "etc/ssh/sshd_config", true},
		{"trailing slash", []string{"etc/"}, "etc/hosts", true},
		{"sibling with the same prefix is not below", []string{"etc"}, "etcetera/x", false},
		{"parent of a selection is not selected", []string{"etc/ssh"}, "etc", false},
		{"other path", []string{"home"}, "etc/hosts", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel := selection{}
			for _, p := range tc.paths {
				sel.paths = append(sel.paths, []byte(p))
			}
			if got := sel.selected([]byte(tc.path)); got != tc.want {
				t.Fatalf("selected(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

// TestSelectionCounts: records of unselected files are dropped and not
// counted; the counts are what is sent.
func TestSelectionCounts(t *testing.T) {
	var buf bytes.Buffer
	w := datapath.NewWriter(&buf)
	rp := newReplayer(context.Background(), w, 1, "c", [][]byte{[]byte("keep")})
	file := func(path string, data int) (sent int) {
		before := buf.Len()
		h := datapath.AppendFileHeader(nil, &datapath.FileHeader{Path: []byte(path), Type: datapath.TypeRegular, Size: int64(data)})
		for _, r := range []struct {
			k datapath.Kind
			p []byte
		}{
			{datapath.KindFileHeader, h},
			{datapath.KindData, make([]byte, data)},
			{datapath.KindFileTrailer, datapath.AppendFileTrailer(nil, &datapath.FileTrailer{Bytes: int64(data)})},
		} {
			raw := append(datapath.AppendPrefix(nil, r.k, len(r.p)), r.p...)
			if err := rp.record(r.k, r.p, raw, "", volume.Position{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return buf.Len() - before
	}
	if n := file("keep/a", 10); n == 0 {
		t.Fatal("selected file not sent")
	}
	if n := file("drop/b", 20); n != 0 {
		t.Fatalf("unselected file: %d bytes sent", n)
	}
	if rp.sel.files != 1 || rp.sel.bytes != 10 {
		t.Fatalf("counted %d files, %d bytes; want 1, 10", rp.sel.files, rp.sel.bytes)
	}
}
