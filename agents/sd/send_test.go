package sd

import (
	"testing"

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
	sel := selection{paths: [][]byte{[]byte("keep")}}
	file := func(path string, data int) (kept int) {
		h := datapath.AppendFileHeader(nil, &datapath.FileHeader{Path: []byte(path), Type: datapath.TypeRegular, Size: int64(data)})
		for _, r := range []struct {
			k datapath.Kind
			p []byte
		}{
			{datapath.KindFileHeader, h},
			{datapath.KindData, make([]byte, data)},
			{datapath.KindFileTrailer, datapath.AppendFileTrailer(nil, &datapath.FileTrailer{Bytes: int64(data)})},
		} {
			if sel.keep(r.k, r.p) {
				kept++
			}
		}
		return kept
	}
	if n := file("keep/a", 10); n != 3 {
		t.Fatalf("selected file: %d records kept, want 3", n)
	}
	if n := file("drop/b", 20); n != 0 {
		t.Fatalf("unselected file: %d records kept, want 0", n)
	}
	if sel.files != 1 || sel.bytes != 10 {
		t.Fatalf("counted %d files, %d bytes; want 1, 10", sel.files, sel.bytes)
	}
}
