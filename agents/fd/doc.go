// Package fd is the file daemon that runs on every client. On the director's
// word it prepares a job, takes the data socket (accepting the sd's dial
// when passive, dialing the sd when active), then sends the files of a
// backup (package backup) or writes those of a restore (package restore),
// and reports totals and per-file warnings to the director.
//
// A passive fd never dials anything on the data path: it only listens.
package fd
