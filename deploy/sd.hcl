# Ferry storage daemon: /etc/ferry/sd.hcl
# The volume folder is configured here because only the storage daemon touches it.

storage_daemon "site1" {
  nats_url         = "nats://10.0.0.1:4222" # the director's NATS server
  data_listen      = "0.0.0.0:9103"         # active file daemons dial this
  volume_dir       = "/var/lib/ferry/volumes"
  volume_max_bytes = "50GiB" # a volume larger than this takes no new sessions
}
