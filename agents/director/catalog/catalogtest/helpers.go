package catalogtest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// backupJob is a typical backup job before creation.
func backupJob(name string) catalog.Job {
	return catalog.Job{
		Name: name, Kind: catalog.KindBackup, Level: "full",
		Client: "client-1", Storage: "storage-1", FileSet: "default",
	}
}

// create stores j and returns its ID.
func create(t *testing.T, c catalog.Catalog, j catalog.Job) int64 {
	t.Helper()
	id, err := c.CreateJob(t.Context(), j)
	must(t, err)
	if id <= 0 {
		t.Fatalf("CreateJob returned ID %d", id)
	}
	return id
}

// getJob reads a job back.
func getJob(t *testing.T, c catalog.Catalog, id int64) catalog.Job {
	t.Helper()
	j, err := c.Job(t.Context(), id)
	must(t, err)
	return j
}

// okResult is a successful result with n files.
func okResult(n int) catalog.Result {
	return catalog.Result{Status: catalog.StatusOK, Files: int64(n), Bytes: int64(n) * 100}
}

// makeFiles returns n distinct files tagged tag.
func makeFiles(tag string, n int) []catalog.File {
	files := make([]catalog.File, n)
	for i := range files {
		files[i] = catalog.File{
			Path: fmt.Appendf(nil, "/data/%s/%06d", tag, i),
			Type: 1, Mode: 0o644, UID: 1000, GID: 100,
			Mtime: int64(i) * 1_000_000_007, Size: int64(i) * 10,
			ChecksumAlgo: 2, Checksum: fmt.Appendf(nil, "sum-%s-%d", tag, i),
			Volume: "vol-1", BlockOffset: int64(i) * 512, Flags: uint32(i % 3),
		}
	}
	return files
}

// stage stages one chunk.
func stage(t *testing.T, c catalog.Catalog, id int64, seq int, files []catalog.File) {
	t.Helper()
	must(t, c.StageFiles(t.Context(), id, seq, files))
}

// jobFiles collects a job's committed files.
func jobFiles(t *testing.T, c catalog.Catalog, id int64) []catalog.File {
	t.Helper()
	var got []catalog.File
	must(t, c.JobFiles(t.Context(), id, func(f catalog.File) error {
		got = append(got, f)
		return nil
	}))
	return got
}

// checkFiles fails unless got equals want, in order, with JobID id.
func checkFiles(t *testing.T, id int64, got, want []catalog.File) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("job %d: got %d files, want %d", id, len(got), len(want))
	}
	for i := range want {
		w := want[i]
		w.JobID = id
		if !sameFile(got[i], w) {
			t.Fatalf("job %d file %d:\n got %+v\nwant %+v", id, i, got[i], w)
		}
	}
}

func sameFile(a, b catalog.File) bool {
	return a.JobID == b.JobID && bytes.Equal(a.Path, b.Path) &&
		a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID &&
		a.Mtime == b.Mtime && a.Size == b.Size && bytes.Equal(a.LinkTarget, b.LinkTarget) &&
		a.ChecksumAlgo == b.ChecksumAlgo && bytes.Equal(a.Checksum, b.Checksum) &&
		a.Volume == b.Volume && a.BlockOffset == b.BlockOffset && a.Flags == b.Flags
}

// utcJob normalises a job's times so that jobs compare with ==.
func utcJob(j catalog.Job) catalog.Job {
	j.Created, j.Started, j.Ended = j.Created.UTC(), j.Started.UTC(), j.Ended.UTC()
	return j
}

// checkJob fails unless got equals want, times compared as instants.
func checkJob(t *testing.T, got, want catalog.Job) {
	t.Helper()
	if utcJob(got) != utcJob(want) {
		t.Fatalf("job:\n got %+v\nwant %+v", got, want)
	}
}

// checkTime fails unless got is the instant want.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.IsZero() != want.IsZero() {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// ids returns the IDs of jobs.
func ids(jobs []catalog.Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}
