// Package datapath is the data-socket protocol between a storage daemon and a
// file daemon: the handshake that binds one TCP connection to one job with a
// single-use session key, and the framed records that carry files.
//
// The record format is the one place that defines how a file travels. The
// same records are stored, unchanged, inside the sd's volume blocks, so a
// restore replays them to the fd as they arrived.
//
//	record   = kind:u8 | length:u32 little endian | payload[length]
//	header   = file metadata (FileHeader), then zero or more data/hole records,
//	           then a trailer with the content checksum
//	end      = stream totals, last record of a stream
//	heartbeat = empty record a quiet sender writes to keep the socket's path
//	           alive (Writer.StartHeartbeats); receivers skip it, the sd
//	           never stores it
//
// Whoever dialed, the roles after the handshake are fixed by the job kind:
// on backup the fd sends, on restore the sd sends.
package datapath
