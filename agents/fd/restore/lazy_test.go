package restore_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// TestRestoreSameNameTwice: a name the stream brings twice in a fresh
// folder, the first created by a writer, meets the replace policy as any
// existing name; a file the writers create stops a path below it.
func TestRestoreSameNameTwice(t *testing.T) {
	for _, tc := range []struct {
		policy, want, warn string
		files              int64
	}{
		{restore.ReplaceNever, "first", "d/x: exists, not replaced", 2},
		{restore.ReplaceAlways, "second", "", 3},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			stream := withEnd(t, func(w *datapath.Writer) {
				dirRecs(w, "d", 0o755, 1)
				fileRecs(w, "d/x", "first", 1)
				fileRecs(w, "d/x", "second", 2)
			})
			target := t.TempDir()
			tot, _, warn, err := receive(t, stream, target, restore.Options{Replace: tc.policy})
			must(t, err)
			got, err := os.ReadFile(filepath.Join(target, "d/x"))
			must(t, err)
			if string(got) != tc.want {
				t.Errorf("d/x holds %q, want %q", got, tc.want)
			}
			if tc.warn != "" && !slices.Contains(warn, tc.warn) {
				t.Errorf("warnings %q, want %q", warn, tc.warn)
			}
			if tc.warn == "" && len(warn) != 0 {
				t.Errorf("warnings %q, want none", warn)
			}
			if tot.Files != tc.files {
				t.Errorf("%d files, want %d", tot.Files, tc.files)
			}
		})
	}
	t.Run("below a file", func(t *testing.T) {
		stream := withEnd(t, func(w *datapath.Writer) {
			dirRecs(w, "d", 0o755, 1)
			fileRecs(w, "d/x", "file", 1)
			fileRecs(w, "d/x/y", "below", 1)
		})
		target := t.TempDir()
		_, _, warn, err := receive(t, stream, target, restore.Options{})
		must(t, err)
		if len(warn) != 1 || !strings.HasPrefix(warn[0], "d/x/y: skipped") {
			t.Errorf("warnings %q, want one for d/x/y skipped", warn)
		}
		if got, err := os.ReadFile(filepath.Join(target, "d/x")); err != nil || string(got) != "file" {
			t.Errorf("d/x: %q, %v", got, err)
		}
	})
}
