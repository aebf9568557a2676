// Package schemas is Ferry's wire contract on the NATS bus: every subject,
// every message type, and the one msgpack codec that encodes them.
//
// Subjects are typed (Subject[T] for publish/subscribe, Request[Req, Resp]
// for request/reply), so the compiler pairs a subject with its message.
// Every message travels in a versioned Envelope; fields are only ever added,
// and the golden encodings under testdata/vN/ must keep decoding. No other
// package formats a subject string or calls msgpack directly.
//
// Conventions: paths are []byte (msgpack bin: names need not be UTF-8),
// times are UTC int64 nanoseconds, every field carries a `desc` tag that
// the documentation generator (Markdown) prints.
package schemas
