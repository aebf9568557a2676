package schemas

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden encodings in testdata/v<Version>/ (older folders are never touched)")

const goldenExt = ".msgpack"

func goldenDir(version int) string {
	return filepath.Join("testdata", "v"+strconv.Itoa(version))
}

func goldenPath(version int, name string) string {
	return filepath.Join(goldenDir(version), name+goldenExt)
}

// goldenVersions lists the testdata/vN folders, in ascending N.
func goldenVersions(t testing.TB) []int {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	var out []int
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "v") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "v"))
		if err != nil || n < 1 {
			t.Errorf("testdata/%s: folder is not named v<N> with N >= 1", e.Name())
			continue
		}
		out = append(out, n)
	}
	// ReadDir sorts by name: v10 before v2; sort numerically.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// goldenFiles lists testdata/vN/*.msgpack as message names.
func goldenFiles(t testing.TB, version int) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(goldenDir(version), "*"+goldenExt))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(paths))
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), goldenExt))
	}
	return names
}

// TestGolden pins the wire encoding. Changing a field's name, type or order
// changes these bytes: if the change is intended and compatible (a field was
// added), run `go test ./schemas -run TestGolden -update` and commit the
// files. Older testdata/vN/ folders are never rewritten and must keep
// decoding: they are what deployed agents still send.
func TestGolden(t *testing.T) {
	cur := goldenDir(Version)
	if *update {
		if err := os.MkdirAll(cur, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			data, err := s.encode()
			if err != nil {
				t.Fatalf("encode %s: %v", s.name, err)
			}
			if err := os.WriteFile(goldenPath(Version, s.name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("encode", func(t *testing.T) {
		for _, s := range samples {
			t.Run(s.name, func(t *testing.T) {
				got, err := s.encode()
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				want, err := os.ReadFile(goldenPath(Version, s.name))
				if err != nil {
					t.Fatalf("no golden encoding for registered type %s: %v\n"+
						"add a sample in samples_test.go and run `go test ./schemas -run TestGolden -update`", s.name, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("encoding of %s changed:\n got  %x\n want %x\n"+
						"fields may only be added; if this change is intended, run `go test ./schemas -run TestGolden -update`",
						s.name, got, want)
				}
			})
		}
	})

	t.Run("registered", func(t *testing.T) {
		for _, m := range Messages() {
			if _, err := os.Stat(goldenPath(Version, m.Name)); err != nil {
				t.Errorf("registered type %s has no golden file in %s: %v", m.Name, cur, err)
			}
		}
	})

	byN := samplesByName(t)
	versions := goldenVersions(t)
	if len(versions) == 0 || versions[len(versions)-1] != Version {
		t.Errorf("no testdata folder for the current version %d (found %v)", Version, versions)
	}
	for _, v := range versions {
		t.Run(fmt.Sprintf("decode/v%d", v), func(t *testing.T) {
			if v > Version {
				t.Fatalf("testdata/v%d is newer than Version %d", v, Version)
			}
			for _, name := range goldenFiles(t, v) {
				t.Run(name, func(t *testing.T) {
					data, err := os.ReadFile(goldenPath(v, name))
					if err != nil {
						t.Fatal(err)
					}
					env, err := OpenEnvelope(data)
					if err != nil {
						t.Fatalf("open envelope: %v", err)
					}
					if env.Version != v || env.Type != name {
						t.Errorf("envelope says %s v%d, file is %s in v%d", env.Type, env.Version, name, v)
					}
					s, ok := byN[name]
					if !ok {
						t.Fatalf("golden file for %s, which is not a registered message (names are never removed)", name)
					}
					got, err := s.decode(data)
					if err != nil {
						t.Fatalf("decode into %T: %v", s.value, err)
					}
					if v == Version && !reflect.DeepEqual(got, s.value) {
						t.Errorf("decoded %s differs from its sample:\n got  %#v\n want %#v", name, got, s.value)
					}
				})
			}
		})
	}
}
