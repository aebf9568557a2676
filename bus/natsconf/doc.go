// Package natsconf writes the NATS server configuration of a Ferry
// installation from the director's configuration: one account for Ferry's
// own daemons, one isolated account per passive client, the service and
// stream exports and imports between them (derived from the subject
// registry in package schemas, so a new subject cannot slip through
// unguarded), and a leafnode remote per passive client, dialed by exactly
// one NATS node. The director's embedded server loads the same text as an
// external server would.
package natsconf
