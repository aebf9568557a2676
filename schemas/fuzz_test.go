package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
)

// errUnstable marks a broken invariant, as opposed to input being refused.
var errUnstable = errors.New("decoded value does not re-encode stably")

// decodeStable decodes data as T. When that succeeds, the value must encode,
// decode again, and encode to the same bytes: what a decoder accepts, Ferry
// can forward.
func decodeStable[T any](data []byte) error {
	v, err := Decode[T](data)
	if err != nil {
		return err
	}
	enc, err := Encode(v)
	if err != nil {
		return fmt.Errorf("%w: encode: %v", errUnstable, err)
	}
	v2, err := Decode[T](enc)
	if err != nil {
		return fmt.Errorf("%w: decode of re-encoding: %v", errUnstable, err)
	}
	enc2, err := Encode(v2)
	if err != nil || !bytes.Equal(enc, enc2) {
		return fmt.Errorf("%w: %x then %x (%v)", errUnstable, enc, enc2, err)
	}
	return nil
}

// fuzzDecoders has one entry per registered message type. Each is spelled
// out so the compiler instantiates Decode for every type;
// TestFuzzDecodersCoverRegistry keeps the table complete.
var fuzzDecoders = []struct {
	name   string
	decode func([]byte) error
}{
	{"ack", func(b []byte) error { return decodeStable[Ack](b) }},
	{"prepare_job", func(b []byte) error { return decodeStable[PrepareJob](b) }},
	{"session_open", func(b []byte) error { return decodeStable[SessionOpen](b) }},
	{"session_opened", func(b []byte) error { return decodeStable[SessionOpened](b) }},
	{"data_connect", func(b []byte) error { return decodeStable[DataConnect](b) }},
	{"data_connected", func(b []byte) error { return decodeStable[DataConnected](b) }},
	{"data_start", func(b []byte) error { return decodeStable[DataStart](b) }},
	{"abort_job", func(b []byte) error { return decodeStable[AbortJob](b) }},
	{"file_chunk", func(b []byte) error { return decodeStable[FileChunk](b) }},
	{"file_entry", func(b []byte) error { return decodeStable[FileEntry](b) }},
	{"log_chunk", func(b []byte) error { return decodeStable[LogChunk](b) }},
	{"log_line", func(b []byte) error { return decodeStable[LogLine](b) }},
	{"agent_report", func(b []byte) error { return decodeStable[AgentReport](b) }},
	{"media_ref", func(b []byte) error { return decodeStable[MediaRef](b) }},
	{"heartbeat", func(b []byte) error { return decodeStable[Heartbeat](b) }},
	{"run_request", func(b []byte) error { return decodeStable[RunRequest](b) }},
	{"run_reply", func(b []byte) error { return decodeStable[RunReply](b) }},
	{"restore_request", func(b []byte) error { return decodeStable[RestoreRequest](b) }},
	{"jobs_request", func(b []byte) error { return decodeStable[JobsRequest](b) }},
	{"cancel_request", func(b []byte) error { return decodeStable[CancelRequest](b) }},
	{"jobs_reply", func(b []byte) error { return decodeStable[JobsReply](b) }},
	{"job_request", func(b []byte) error { return decodeStable[JobRequest](b) }},
	{"job_reply", func(b []byte) error { return decodeStable[JobReply](b) }},
	{"job_summary", func(b []byte) error { return decodeStable[JobSummary](b) }},
	{"status_request", func(b []byte) error { return decodeStable[StatusRequest](b) }},
	{"status_reply", func(b []byte) error { return decodeStable[StatusReply](b) }},
	{"agent_status", func(b []byte) error { return decodeStable[AgentStatus](b) }},
	{"job_event", func(b []byte) error { return decodeStable[JobEvent](b) }},
	{"progress", func(b []byte) error { return decodeStable[Progress](b) }},
	{"audit_counts", func(b []byte) error { return decodeStable[AuditCounts](b) }},
	{"enrol_request", func(b []byte) error { return decodeStable[EnrolRequest](b) }},
	{"enrol_reply", func(b []byte) error { return decodeStable[EnrolReply](b) }},
	{"agents_request", func(b []byte) error { return decodeStable[AgentsRequest](b) }},
	{"agents_reply", func(b []byte) error { return decodeStable[AgentsReply](b) }},
	{"agent_key", func(b []byte) error { return decodeStable[AgentKey](b) }},
	{"agent_decision", func(b []byte) error { return decodeStable[AgentDecision](b) }},
}

// TestFuzzDecodersCoverRegistry: the table names every registered type once,
// in registry order, and each entry decodes its own type's golden encoding
// (so no entry is labelled with the wrong type).
func TestFuzzDecodersCoverRegistry(t *testing.T) {
	var table, registry []string
	for _, d := range fuzzDecoders {
		table = append(table, d.name)
	}
	for _, m := range Messages() {
		registry = append(registry, m.Name)
	}
	if !slices.Equal(table, registry) {
		t.Fatalf("fuzzDecoders lists\n %v\nMessages() has\n %v\nadd one entry per registered type", table, registry)
	}
	for _, d := range fuzzDecoders {
		t.Run(d.name, func(t *testing.T) {
			data, err := os.ReadFile(goldenPath(Version, d.name))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.decode(data); err != nil {
				t.Errorf("decoder labelled %s refuses the %s golden file: %v", d.name, d.name, err)
			}
		})
	}
}

// knownError reports whether err is one a caller can classify.
func knownError(err error) bool {
	for _, want := range []error{ErrMalformed, ErrWrongType, ErrUnknownType, ErrBadVersion, ErrTooLarge, ErrEmptyEnvelope, ErrRemoteRejected} {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}

// FuzzDecode feeds arbitrary bytes to OpenEnvelope and to Decode for every
// registered type, both as a whole envelope and as the body of a well-formed
// envelope of that type. Nothing may panic, every refusal must be one of the
// package's errors, and what decodes must re-encode stably.
func FuzzDecode(f *testing.F) {
	for _, v := range goldenVersions(f) {
		for _, name := range goldenFiles(f, v) {
			data, err := os.ReadFile(goldenPath(v, name))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			if env, err := OpenEnvelope(data); err == nil {
				f.Add(env.Body)
			}
		}
	}
	for _, seed := range [][]byte{
		nil,
		{0x00},
		{0xc1},
		{0x80},
		{0x90},
		{0xc0},
		[]byte("garbage, not msgpack at all"),
		{0x81, 0xa1, 't', 0xa3, 'a', 'c', 'k'},
		{0x83, 0xa1, 't', 0xa3, 'a', 'c', 'k', 0xa1, 'v', 0x01, 0xa1, 'b', 0xc4, 0x01, 0x80},
		{0x81, 0xa5, 'f', 'i', 'l', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff},
		{0xdf, 0xff, 0xff, 0xff, 0xff},
		{0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0xc0},
		{0xc7, 0x02, 0x01, 0xff, 0xff},
		EncodeError("boom"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := OpenEnvelope(data); err != nil && !knownError(err) {
			t.Fatalf("OpenEnvelope: unclassified error %v", err)
		}
		for _, d := range fuzzDecoders {
			err := d.decode(data)
			if errors.Is(err, errUnstable) {
				t.Fatalf("%s: %v", d.name, err)
			}
			if err != nil && !knownError(err) {
				t.Fatalf("%s: unclassified error %v", d.name, err)
			}
			// The same bytes as the body of a well-formed envelope.
			wrapped, err := msgEnvelope(d.name, data)
			if err != nil {
				t.Fatal(err)
			}
			err = d.decode(wrapped)
			if errors.Is(err, errUnstable) {
				t.Fatalf("%s body: %v", d.name, err)
			}
			if err != nil && !knownError(err) {
				t.Fatalf("%s body: unclassified error %v", d.name, err)
			}
		}
	})
}
