package schemas

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// envelope marshals an envelope by hand, for inputs Encode refuses to build.
func envelope(t testing.TB, env any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEncode[T any](t testing.TB, v T) []byte {
	t.Helper()
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			data, err := s.encode()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := s.decode(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, s.value) {
				t.Errorf("round trip changed the value:\n got  %#v\n want %#v", got, s.value)
			}
		})
	}
}

func TestEncodeUnregistered(t *testing.T) {
	type notAMessage struct{ X int }
	if _, err := Encode(notAMessage{X: 1}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("Encode(unregistered) = %v, want ErrUnregistered", err)
	}
	if _, err := Encode(&Ack{}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("Encode(*Ack) = %v, want ErrUnregistered", err)
	}
	if _, err := Decode[notAMessage](mustEncode(t, Ack{})); !errors.Is(err, ErrUnregistered) {
		t.Errorf("Decode[unregistered] = %v, want ErrUnregistered", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	ackBody, err := msgpack.Marshal(&Ack{Note: "x"})
	if err != nil {
		t.Fatal(err)
	}
	// A body that declares 2^32-1 file entries in 12 bytes. msgpack v5.4.1
	// would preallocate them and die with a fatal out-of-memory error.
	hugeArray := []byte{0x81, 0xa5, 'f', 'i', 'l', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}
	// An unknown field nested far deeper than MaxDepth: skipping it
	// recursively would overflow the stack for large inputs.
	deep := append([]byte{0x81, 0xa2, 'z', 'z'}, bytes.Repeat([]byte{0x91}, MaxDepth+1)...)
	deep = append(deep, 0xc0)
	deepEnvelope := append([]byte{0x84, 0xa1, 't', 0xa3, 'a', 'c', 'k', 0xa1, 'v', 0x01, 0xa1, 'b', 0xc4, 0x00, 0xa2, 'z', 'z'},
		bytes.Repeat([]byte{0x91}, 1000)...)
	deepEnvelope = append(deepEnvelope, 0xc0)
	valid := mustEncode(t, Ack{Note: "x"})

	tests := []struct {
		name   string
		data   []byte
		decode func([]byte) error // nil: Decode[Ack]
		want   error
	}{
		{name: "wrong type", data: mustEncode(t, Ack{Note: "x"}),
			decode: func(b []byte) error { _, err := Decode[PrepareJob](b); return err }, want: ErrWrongType},
		{name: "wrong type nested message", data: mustEncode(t, sampleFile),
			decode: func(b []byte) error { _, err := Decode[FileChunk](b); return err }, want: ErrWrongType},
		{name: "unknown type name", data: envelope(t, &Envelope{Type: "no_such_type", Version: Version, Body: ackBody}), want: ErrUnknownType},
		{name: "empty type name", data: envelope(t, &Envelope{Version: Version, Body: ackBody}), want: ErrUnknownType},
		{name: "version 0", data: envelope(t, &Envelope{Type: "ack", Version: 0, Body: ackBody}), want: ErrBadVersion},
		{name: "version negative", data: envelope(t, &Envelope{Type: "ack", Version: -1, Body: ackBody}), want: ErrBadVersion},
		{name: "version too new", data: envelope(t, &Envelope{Type: "ack", Version: Version + 1, Body: ackBody}), want: ErrBadVersion},
		{name: "version missing", data: envelope(t, map[string]any{"t": "ack", "b": ackBody}), want: ErrBadVersion},
		{name: "nil", data: nil, want: ErrEmptyEnvelope},
		{name: "empty", data: []byte{}, want: ErrEmptyEnvelope},
		{name: "too large", data: make([]byte, MaxMessageBytes+1), want: ErrTooLarge},
		{name: "garbage text", data: []byte("hello, this is not msgpack"), want: ErrMalformed},
		{name: "reserved code", data: []byte{0xc1}, want: ErrMalformed},
		{name: "not a map", data: []byte{0x2a}, want: ErrMalformed},
		{name: "truncated", data: valid[:len(valid)-1], want: ErrMalformed},
		{name: "truncated bin length", data: []byte{0x81, 0xa1, 'b', 0xc6, 0x00}, want: ErrMalformed},
		{name: "field of wrong kind", data: envelope(t, map[string]any{"t": 7, "v": 1}), want: ErrMalformed},
		{name: "body garbage", data: envelope(t, &Envelope{Type: "ack", Version: Version, Body: []byte{0xc1, 0x00}}), want: ErrMalformed},
		{name: "body missing", data: envelope(t, &Envelope{Type: "ack", Version: Version}), want: ErrMalformed},
		{name: "body field of wrong kind", data: envelope(t, &Envelope{Type: "ack", Version: Version,
			Body: envelope(t, map[string]any{"note": []int{1, 2}})}), want: ErrMalformed},
		{name: "body declares huge array", data: envelope(t, &Envelope{Type: "file_chunk", Version: Version, Body: hugeArray}),
			decode: func(b []byte) error { _, err := Decode[FileChunk](b); return err }, want: ErrMalformed},
		{name: "body nested too deep", data: envelope(t, &Envelope{Type: "ack", Version: Version, Body: deep}), want: ErrMalformed},
		{name: "envelope nested too deep", data: deepEnvelope, want: ErrMalformed},
		{name: "envelope declares huge map", data: []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 't'}, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decode := tt.decode
			if decode == nil {
				decode = func(b []byte) error { _, err := Decode[Ack](b); return err }
			}
			err := decode(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			// Everything but a body or type problem is caught by OpenEnvelope.
			if tt.want != ErrWrongType && !strings.HasPrefix(tt.name, "body") {
				if _, err := OpenEnvelope(tt.data); !errors.Is(err, tt.want) {
					t.Errorf("OpenEnvelope: got %v, want %v", err, tt.want)
				}
			}
		})
	}
}

// TestMaxSizeAccepted checks the boundary: exactly MaxMessageBytes decodes.
func TestMaxSizeAccepted(t *testing.T) {
	probe := mustEncode(t, Ack{Note: strings.Repeat("x", 1<<20)})
	overhead := len(probe) - 1<<20
	note := strings.Repeat("x", MaxMessageBytes-overhead)
	data := mustEncode(t, Ack{Note: note})
	if len(data) != MaxMessageBytes {
		t.Fatalf("built %d bytes, want %d", len(data), MaxMessageBytes)
	}
	got, err := Decode[Ack](data)
	if err != nil {
		t.Fatalf("decode of exactly MaxMessageBytes: %v", err)
	}
	if got.Note != note {
		t.Error("note changed")
	}
}

func TestRemoteError(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{name: "message", msg: "job 42 is not running", want: "job 42 is not running"},
		{name: "empty message still an error", msg: "", want: "unspecified error"},
		{name: "non-UTF-8", msg: "bad path a\xffb", want: "bad path a\xffb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := EncodeError(tt.msg)
			env, err := OpenEnvelope(data)
			if err != nil {
				t.Fatalf("OpenEnvelope: %v", err)
			}
			if env.Type != "error" || env.Err != tt.want {
				t.Errorf("envelope %+v", env)
			}
			_, err = Decode[Ack](data)
			var re *RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("Decode = %v (%T), want *RemoteError", err, err)
			}
			if re.Msg != tt.want || re.Error() != tt.want {
				t.Errorf("RemoteError %q, want %q", re.Msg, tt.want)
			}
			if !errors.Is(err, ErrRemoteRejected) {
				t.Error("errors.Is(err, ErrRemoteRejected) is false")
			}
			// Whatever reply type was expected, an error reply is an error.
			if _, err := Decode[JobsReply](data); !errors.As(err, &re) {
				t.Errorf("Decode[JobsReply] = %v, want *RemoteError", err)
			}
		})
	}
	t.Run("error envelope without e", func(t *testing.T) {
		data := envelope(t, &Envelope{Type: "error", Version: Version})
		if _, err := Decode[Ack](data); !errors.Is(err, ErrRemoteRejected) {
			t.Errorf("got %v, want a RemoteError", err)
		}
	})
	t.Run("error with unknown type", func(t *testing.T) {
		data := envelope(t, &Envelope{Type: "from_the_future", Version: Version, Err: "boom"})
		var re *RemoteError
		if _, err := Decode[Ack](data); !errors.As(err, &re) || re.Msg != "boom" {
			t.Errorf("got %v, want RemoteError boom", err)
		}
	})
}

// TestUnknownFieldsIgnored simulates a newer sender: its messages carry a
// field this build does not know. Fields are only ever added, so the message
// must still decode, with the unknown field dropped.
func TestUnknownFieldsIgnored(t *testing.T) {
	extras := []struct {
		name  string
		value any
	}{
		{name: "int", value: 7},
		{name: "string", value: "added later"},
		{name: "bin", value: []byte("a\xffb")},
		{name: "nested", value: map[string]any{"a": []any{1, "two", []byte{3}, map[string]any{"x": nil}}}},
	}
	for _, s := range samples {
		for _, extra := range extras {
			t.Run(s.name+"/"+extra.name, func(t *testing.T) {
				data, err := s.encode()
				if err != nil {
					t.Fatal(err)
				}
				env, err := OpenEnvelope(data)
				if err != nil {
					t.Fatal(err)
				}
				var fields map[string]any
				if err := msgpack.Unmarshal(env.Body, &fields); err != nil {
					t.Fatal(err)
				}
				fields["zz_new"] = extra.value
				body, err := msgpack.Marshal(fields)
				if err != nil {
					t.Fatal(err)
				}
				// The envelope may grow fields too.
				newer := envelope(t, map[string]any{"t": env.Type, "v": env.Version, "b": body, "zz_env": extra.value})
				got, err := s.decode(newer)
				if err != nil {
					t.Fatalf("decode with an unknown field: %v", err)
				}
				if !reflect.DeepEqual(got, s.value) {
					t.Errorf("decoded %#v, want %#v", got, s.value)
				}
			})
		}
	}
}

// msgEnvelope wraps body in a current-version envelope of type name.
func msgEnvelope(name string, body []byte) ([]byte, error) {
	return msgpack.Marshal(&Envelope{Type: name, Version: Version, Body: body})
}
