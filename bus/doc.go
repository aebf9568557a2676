// Package bus is Ferry's typed access to NATS: connect, request/reply with
// the envelopes of package schemas, bounded handler workers, the JetStream
// stream of job events, and splitting of lists that may outgrow one message.
// Nothing else in Ferry touches nats.go's publish or subscribe calls.
package bus
