package sd

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/schemas"
)

func TestVolumesReserve(t *testing.T) {
	dir := t.TempDir()
	v, err := openVolumes(dir, "site1", 1<<30, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.reserve()
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.reserve()
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() == b.Name() {
		t.Fatalf("two sessions share volume %s", a.Name())
	}
	if a.Name() != "site1-0001" || b.Name() != "site1-0002" {
		t.Fatalf("names %s, %s", a.Name(), b.Name())
	}
	v.release(a)
	c, err := v.reserve()
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "site1-0001" {
		t.Fatalf("released volume not reused: got %s", c.Name())
	}
	v.release(b)
	v.release(c)
}

func TestVolumesCheckRefusesPaths(t *testing.T) {
	v, err := openVolumes(t.TempDir(), "site1", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../etc/passwd", "a/b", "", "missing-0001"} {
		err := v.check([]schemas.MediaRef{{Volume: name}})
		if err == nil {
			t.Fatalf("volume %q accepted", name)
		}
		if name != "missing-0001" && !strings.Contains(err.Error(), "volume name") {
			t.Fatalf("volume %q: %v", name, err)
		}
	}
}
