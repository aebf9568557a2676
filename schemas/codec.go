package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// Version is the current envelope version. Decoders accept 1..Version.
const Version = 3

// MaxMessageBytes bounds what Decode accepts; larger input is refused before
// any allocation it could drive.
const MaxMessageBytes = 8 << 20

// Codec errors.
var (
	ErrUnknownType    = errors.New("schemas: unknown message type")
	ErrWrongType      = errors.New("schemas: unexpected message type")
	ErrBadVersion     = errors.New("schemas: unsupported envelope version")
	ErrTooLarge       = errors.New("schemas: message too large")
	ErrMalformed      = errors.New("schemas: malformed message")
	ErrUnregistered   = errors.New("schemas: Go type is not a registered message")
	ErrEmptyEnvelope  = errors.New("schemas: empty envelope")
	ErrRemoteRejected = errors.New("remote refused")
)

// Envelope wraps every message on the bus.
type Envelope struct {
	Type    string `msgpack:"t" desc:"registered message type name"`
	Version int    `msgpack:"v" desc:"envelope version"`
	Body    []byte `msgpack:"b" desc:"msgpack encoding of the message"`
	Err     string `msgpack:"e,omitempty" desc:"set on a reply instead of Body when the request failed"`
}

// RemoteError is a failure reported by the peer in a reply envelope.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap lets callers test errors.Is(err, ErrRemoteRejected).
func (e *RemoteError) Unwrap() error { return ErrRemoteRejected }

// Encode wraps v in an envelope. v's type must be registered in messages.go.
func Encode[T any](v T) ([]byte, error) {
	info, ok := byGoType[reflect.TypeFor[T]()]
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUnregistered, reflect.TypeFor[T]())
	}
	body, err := msgpack.Marshal(&v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", info.Name, err)
	}
	return msgpack.Marshal(&Envelope{Type: info.Name, Version: Version, Body: body})
}

// EncodeError builds a reply envelope that carries only an error. An empty
// msg is replaced: the e field is omitted when empty, and the reply must still
// read as an error.
func EncodeError(msg string) []byte {
	if msg == "" {
		msg = "unspecified error"
	}
	b, _ := msgpack.Marshal(&Envelope{Type: "error", Version: Version, Err: msg})
	return b
}

// Decode opens an envelope and decodes its body as T. A reply that carries an
// error returns *RemoteError.
func Decode[T any](data []byte) (T, error) {
	var zero T
	env, err := OpenEnvelope(data)
	if err != nil {
		return zero, err
	}
	if env.Err != "" || env.Type == "error" {
		msg := env.Err
		if msg == "" {
			msg = "unspecified error"
		}
		return zero, &RemoteError{Msg: msg}
	}
	info, ok := byGoType[reflect.TypeFor[T]()]
	if !ok {
		return zero, fmt.Errorf("%w: %v", ErrUnregistered, reflect.TypeFor[T]())
	}
	if env.Type != info.Name {
		return zero, fmt.Errorf("%w: got %q, want %q", ErrWrongType, env.Type, info.Name)
	}
	if err := checkWire(env.Body); err != nil {
		return zero, fmt.Errorf("%w: %s: %v", ErrMalformed, info.Name, err)
	}
	var v T
	dec := msgpack.NewDecoder(bytes.NewReader(env.Body))
	if err := dec.Decode(&v); err != nil {
		return zero, fmt.Errorf("%w: %s: %v", ErrMalformed, info.Name, err)
	}
	return v, nil
}

// OpenEnvelope checks size, framing and version without decoding the body.
func OpenEnvelope(data []byte) (Envelope, error) {
	var env Envelope
	if len(data) == 0 {
		return env, ErrEmptyEnvelope
	}
	if len(data) > MaxMessageBytes {
		return env, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	if err := checkWire(data); err != nil {
		return env, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if err := msgpack.Unmarshal(data, &env); err != nil {
		return env, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if env.Version < 1 || env.Version > Version {
		return env, fmt.Errorf("%w: %d (this build knows 1..%d)", ErrBadVersion, env.Version, Version)
	}
	if env.Err == "" && env.Type != "error" {
		if _, ok := byName[env.Type]; !ok {
			return env, fmt.Errorf("%w: %q", ErrUnknownType, env.Type)
		}
	}
	return env, nil
}
