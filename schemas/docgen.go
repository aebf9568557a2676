package schemas

import (
	"fmt"
	"reflect"
	"strings"
)

// fieldDoc describes one field of a message (or of the envelope) as it
// travels on the wire.
type fieldDoc struct {
	Name      string       // msgpack key
	GoName    string       // Go field name
	Type      reflect.Type // Go type
	Desc      string       // the field's desc tag
	OmitEmpty bool         // left out of the encoding when zero
}

// wireFields lists the wire fields of a message struct in encoding order: every
// exported field not tagged msgpack:"-". A field without a msgpack tag is
// keyed by its Go name, which the tests refuse.
func wireFields(t reflect.Type) []fieldDoc {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []fieldDoc
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("msgpack")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, fieldDoc{
			Name:      name,
			GoName:    f.Name,
			Type:      f.Type,
			Desc:      f.Tag.Get("desc"),
			OmitEmpty: hasOption(opts, "omitempty"),
		})
	}
	return out
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// Markdown renders the reference of the bus: the envelope and its rules,
// every subject, and every message type with its fields. The output depends
// only on the registries in this package, so it is stable from run to run;
// docs/bus.md holds a copy that a test keeps current.
func Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Ferry bus reference\n\n")
	w("<!-- Generated from the schemas package by `go test ./schemas -run TestDocsUpToDate -update-docs`. Do not edit by hand. -->\n\n")
	w("Ferry's director, storage daemons (sd), file daemons (fd) and the console talk over a NATS bus. ")
	w("Every subject, every message type and the one msgpack codec that encodes them are defined in the Go package ")
	w("`github.com/ferrybackup/ferry/schemas`; this page is generated from it.\n\n")

	w("## Envelope\n\n")
	w("Every message travels in an envelope, a msgpack map with these fields:\n\n")
	writeFieldTable(&b, reflect.TypeFor[Envelope]())
	w("\n")
	w("- **Versions.** The current envelope version is %d. A decoder accepts versions 1 through its own and refuses any other. ", Version)
	w("Message fields are only ever added, never renamed, retyped or removed, and a decoder ignores fields it does not know, ")
	w("so an older agent reads a newer sender's messages. A message name is never reused for another shape. ")
	w("The golden encodings in `schemas/testdata/vN/` pin each version and must keep decoding.\n")
	w("- **Errors.** A request that fails is answered with an envelope of type `error` that carries the reason in `e` and no body; ")
	w("the caller receives it as a `*schemas.RemoteError`.\n")
	w("- **Paths** are msgpack bin (`[]byte`), never str: file names need not be UTF-8 and travel byte for byte.\n")
	w("- **Times** are int64 nanoseconds since the Unix epoch, UTC; 0 means never or not set.\n")
	w("- **Size.** A decoder refuses an envelope larger than %d bytes (%d MiB), nesting deeper than %d levels, ", MaxMessageBytes, MaxMessageBytes>>20, MaxDepth)
	w("and lengths that run past the end of the input. NATS itself caps a message at the server's max payload (1 MiB by default), ")
	w("so lists that can grow without bound (a job's file list and its log) are split into numbered chunks (`file_chunk`, `log_chunk`) ")
	w("whose encoding stays under half the max payload. `seq` counts from 0; each chunk is a request the director acknowledges, ")
	w("and the agent's `agent_report` gives the final count (`file_chunks`, `log_chunks`) so the director knows when it holds them all. ")
	w("Replies that could outgrow one message are paged instead (`job_request` / `job_reply`).\n")
	w("- **Transports.** Subjects marked %s use NATS request/reply; a request with no responder fails at once. ", TransportRequest)
	w("Job lifecycle events go to the JetStream stream `%s` (subjects `%s`), kept for replay by late subscribers. ", EventStreamName, EventStreamMatch)
	w("Presence heartbeats and job progress are plain core NATS publishes (%s): high-rate, not kept, lost if nobody listens.\n", TransportCore)
	w("- **Subject tokens.** Each `*` in a pattern is one parameter, filled with a name of 1 to 64 bytes made of letters, digits, `-` and `_`.\n")
	w("- **Roles.** `%s`, `%s`, `%s` and `%s` are the Ferry programs; `%s` stands for automation hooks, read-only subscribers; `%s` is a key the director does not know yet, which may only ask to be enrolled. ",
		RoleDirector, RoleSD, RoleFD, RoleConsole, RoleAny, RolePending)
	w("The NATS permissions of every connection are generated from these columns (package bus/natsconf): an sd or fd gets its own name filled in for the agent, storage or client parameter, and its own inbox prefix.\n\n")

	w("## Subjects\n\n")
	w("| Subject | Parameters | Transport | Message → reply | Publishers | Subscribers | Description |\n")
	w("|---|---|---|---|---|---|---|\n")
	for _, s := range Subjects() {
		msg := messageLink(s.Message)
		if s.Reply != "" {
			msg += " → " + messageLink(s.Reply)
		}
		params := "—"
		if len(s.Params) > 0 {
			params = strings.Join(s.Params, ", ")
		}
		w("| `%s` | %s | %s | %s | %s | %s | %s |\n", s.Pattern, params, s.Transport, msg, roles(s.Pub), roles(s.Sub), cell(s.Desc))
	}
	w("\n")

	w("## Messages\n\n")
	for _, m := range Messages() {
		w("- %s — %s\n", messageLink(m.Name), cell(m.Desc))
	}
	w("\n")
	for _, m := range Messages() {
		w("### %s\n\n", m.Name)
		w("%s\n\n", m.Desc)
		w("Go type `schemas.%s`.", m.Type.Name())
		if on := usedOn(m.Name); on != "" {
			w(" %s.", on)
		}
		if in := nestedIn(m.Name); len(in) > 0 {
			w(" Nested in %s.", strings.Join(in, ", "))
		}
		w("\n\n")
		writeFieldTable(&b, m.Type)
		w("\n")
	}
	return b.String()
}

func writeFieldTable(b *strings.Builder, t reflect.Type) {
	b.WriteString("| Field | Type | Description |\n|---|---|---|\n")
	for _, f := range wireFields(t) {
		name := "`" + f.Name + "`"
		if f.OmitEmpty {
			name += " (omitempty)"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", name, typeCell(f), cell(f.Desc))
	}
}

// typeCell renders a field's Go type with its wire form where it matters,
// linking to the section of a nested message.
func typeCell(f fieldDoc) string {
	t := f.Type
	if name := messageIn(t); name != "" {
		return "[`" + goTypeName(t) + "`](#" + name + ")"
	}
	code := "`" + goTypeName(t) + "`"
	switch {
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return code + " (bin)"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Slice && t.Elem().Elem().Kind() == reflect.Uint8:
		return code + " (array of bin)"
	case t.Kind() == reflect.Int64 && strings.Contains(f.Desc, "UTC ns"):
		return code + " (UTC ns)"
	}
	return code
}

// goTypeName is the Go spelling of t without package qualifiers.
func goTypeName(t reflect.Type) string {
	if t == reflect.TypeFor[byte]() {
		return "byte" // byte is an alias: reflect spells it uint8
	}
	if t.Name() != "" {
		return t.Name()
	}
	switch t.Kind() {
	case reflect.Slice:
		return "[]" + goTypeName(t.Elem())
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), goTypeName(t.Elem()))
	case reflect.Pointer:
		return "*" + goTypeName(t.Elem())
	case reflect.Map:
		return "map[" + goTypeName(t.Key()) + "]" + goTypeName(t.Elem())
	}
	return t.String()
}

// messageIn returns the registered message that t holds (t itself, or the
// element of a slice, array, pointer or map value), or "".
func messageIn(t reflect.Type) string {
	for {
		switch t.Kind() {
		case reflect.Slice, reflect.Array, reflect.Pointer, reflect.Map:
			t = t.Elem()
			continue
		}
		if info, ok := byGoType[t]; ok {
			return info.Name
		}
		return ""
	}
}

// nestedMessages lists the registered messages that t's fields hold, in
// field order, without repeats.
func nestedMessages(t reflect.Type) []string {
	var out []string
	for _, f := range wireFields(t) {
		if n := messageIn(f.Type); n != "" && !containsString(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func nestedIn(name string) []string {
	var out []string
	for _, m := range Messages() {
		if containsString(nestedMessages(m.Type), name) {
			out = append(out, messageLink(m.Name))
		}
	}
	return out
}

func usedOn(name string) string {
	var sent, reply []string
	for _, s := range Subjects() {
		if s.Message == name {
			sent = append(sent, "`"+s.Pattern+"`")
		}
		if s.Reply == name {
			reply = append(reply, "`"+s.Pattern+"`")
		}
	}
	var parts []string
	if len(sent) > 0 {
		parts = append(parts, "Sent on "+strings.Join(sent, ", "))
	}
	if len(reply) > 0 {
		parts = append(parts, "reply on "+strings.Join(reply, ", "))
	}
	s := strings.Join(parts, "; ")
	if s != "" && len(sent) == 0 {
		s = "R" + s[1:]
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func messageLink(name string) string { return "[" + name + "](#" + name + ")" }

func roles(rs []Role) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, ", ")
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
