# Ferry file daemon, passive: /etc/ferry/fd.hcl on db1.
# A passive file daemon only listens; the storage daemon dials it, so it needs
# no NATS address. The director must list it as client "db1" with passive = true.

file_daemon "db1" {
  data_listen = "0.0.0.0:9102"
  passive     = true
}
