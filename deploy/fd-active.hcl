# Ferry file daemon, active: /etc/ferry/fd.hcl on web1.
# An active file daemon dials the director's NATS server and the storage
# daemon's data socket itself, so it works from behind NAT or a firewall.

file_daemon "web1" {
  nats_url    = "nats://10.0.0.1:4222"
  data_listen = "0.0.0.0:9102"
  passive     = false
}
