// Package config reads, defaults and validates the HCL configuration files
// of every Ferry daemon: the director's file (the director itself plus its
// client, storage, fileset and job resources), the storage daemon's file and
// the file daemon's file. A file holds exactly one kind, detected from its
// top-level blocks. Parsing applies defaults and then validates, gathering
// every problem — HCL's own diagnostics and Ferry's semantic checks alike —
// into one Problems error whose lines read "file:line:col: key: message", so
// an operator can fix a file in one pass; `ferry config check FILE` is Check.
package config
