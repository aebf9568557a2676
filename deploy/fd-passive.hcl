# Ferry file daemon, passive: /etc/ferry/fd.hcl on db1.
# A passive file daemon never dials the data socket: it listens and the storage
# daemon dials it. The director must list it as client "db1" with passive = true.
# Its control link to NATS is still dialed by the file daemon today; the bus link
# dialed from the server side (so that a passive client dials nothing at all) is
# not built yet.

file_daemon "db1" {
  nats_url    = "nats://10.0.0.1:4222"
  data_listen = "0.0.0.0:9102"
  passive     = true
}
