// Package director runs Ferry jobs. It holds the configuration and the
// catalog, answers the console, tracks agent presence, and drives each job
// through the steps of a backup or restore on the bus:
//
//	created → sd opens a session (fresh key) → fd prepares → the dialer named
//	by Initiator (dial.go) opens the data socket → the sender starts →
//	both agents report → totals cross-checked → catalog commit → finished
//
// Every lifecycle event is published from events.go.
package director
