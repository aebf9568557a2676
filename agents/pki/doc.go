// Package pki is the deployment's certificate authority and the
// certificates of the bus servers; agent identities are in
// agents/identity. Every link of the NATS bus runs TLS: the director's
// embedded NATS server, or each node of an external NATS deployment,
// presents a certificate that the agents verify against the deployment's
// CA file (or the system's roots when the operator brings certificates
// from a public CA). `ferry ca new` makes the CA, `ferry cert new` issues
// a server certificate; ServerTLS and ClientTLS turn the files into
// tls.Config values.
//
// Private keys live in files of their own, mode 0600, PKCS#8 PEM; loading
// one refuses a file that group or others may read. Nothing in this
// package prints or logs a private key: a CA formats as its name and
// certificate fingerprint.
package pki
