package schemas

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite ../docs/bus.md from Markdown()")

var docsPath = filepath.Join("..", "docs", "bus.md")

// TestDocsUpToDate keeps docs/bus.md in step with the registries.
func TestDocsUpToDate(t *testing.T) {
	want := Markdown()
	if *updateDocs {
		if err := os.WriteFile(docsPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("read %s: %v\nrun `make docs` or `go test ./schemas -run TestDocsUpToDate -update-docs`", docsPath, err)
	}
	if string(got) == want {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(want, "\n")
	line := 0
	for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
		line++
	}
	var have, should string
	if line < len(gl) {
		have = gl[line]
	}
	if line < len(wl) {
		should = wl[line]
	}
	t.Errorf("docs/bus.md is out of date with the schemas package (first difference at line %d):\n have %q\n want %q\n"+
		"run `make docs` or `go test ./schemas -run TestDocsUpToDate -update-docs` and commit docs/bus.md",
		line+1, have, should)
}

func TestMarkdownDeterministic(t *testing.T) {
	if first, second := Markdown(), Markdown(); first != second {
		t.Fatal("Markdown() differs between two calls")
	}
}

// TestMarkdownCoversRegistry: every subject and message appears, and every
// message has its own section.
func TestMarkdownCoversRegistry(t *testing.T) {
	md := Markdown()
	for _, s := range Subjects() {
		if !strings.Contains(md, "| `"+s.Pattern+"` |") {
			t.Errorf("subject %s missing from the subject table", s.Pattern)
		}
	}
	for _, m := range Messages() {
		if !strings.Contains(md, "\n### "+m.Name+"\n") {
			t.Errorf("message %s has no section", m.Name)
		}
		for _, f := range wireFields(m.Type) {
			if !strings.Contains(md, "| `"+f.Name+"`") {
				t.Errorf("field %s.%s missing", m.Name, f.Name)
			}
		}
	}
	// Links point at sections that exist.
	for _, part := range strings.Split(md, "](#")[1:] {
		anchor, _, _ := strings.Cut(part, ")")
		if anchor != "envelope" && !strings.Contains(md, "\n### "+anchor+"\n") {
			t.Errorf("link to missing section #%s", anchor)
		}
	}
}

// TestEveryFieldDescribed: the reference is only as good as the tags.
func TestEveryFieldDescribed(t *testing.T) {
	check := func(t *testing.T, typ reflect.Type) {
		if typ.Kind() != reflect.Struct {
			t.Fatalf("%v is not a struct", typ)
		}
		keys := make(map[string]bool)
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag, ok := f.Tag.Lookup("msgpack")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case !f.IsExported():
				t.Errorf("%s: unexported fields do not travel; remove it or export it", f.Name)
				continue
			case !ok || name == "":
				t.Errorf("%s has no msgpack name in its tag", f.Name)
			case tag == "-":
				continue
			case keys[name]:
				t.Errorf("%s: msgpack name %q used twice", f.Name, name)
			}
			keys[name] = true
			if strings.TrimSpace(f.Tag.Get("desc")) == "" {
				t.Errorf("%s (%s) has an empty desc tag", f.Name, name)
			}
			if f.Anonymous {
				t.Errorf("%s is embedded: msgpack inlines embedded structs, name it instead", f.Name)
			}
			// A nested struct must be a registered message, so it has a
			// section of its own and a golden file.
			inner := f.Type
			for inner.Kind() == reflect.Slice || inner.Kind() == reflect.Array || inner.Kind() == reflect.Pointer || inner.Kind() == reflect.Map {
				inner = inner.Elem()
			}
			if inner.Kind() == reflect.Struct && messageIn(inner) == "" {
				t.Errorf("%s holds %v, which is not a registered message", f.Name, inner)
			}
			if k := inner.Kind(); k == reflect.Interface || k == reflect.Func || k == reflect.Chan {
				t.Errorf("%s holds %v: not a wire type Ferry uses", f.Name, inner)
			}
		}
	}
	t.Run("envelope", func(t *testing.T) { check(t, reflect.TypeFor[Envelope]()) })
	for _, m := range Messages() {
		t.Run(m.Name, func(t *testing.T) {
			if strings.TrimSpace(m.Desc) == "" {
				t.Error("message has an empty description")
			}
			check(t, m.Type)
		})
	}
	for _, s := range Subjects() {
		if strings.TrimSpace(s.Desc) == "" {
			t.Errorf("subject %s has an empty description", s.Pattern)
		}
	}
}
