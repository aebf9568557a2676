# Ferry director: /etc/ferry/director.hcl
# Check with: ferry config check /etc/ferry/director.hcl

director "dir1" {
  # The director embeds a NATS server; daemons on other hosts dial it here.
  nats_listen = "0.0.0.0:4222"
  # nats_url  = "nats://nats.example.com:4222"  # use an external NATS server instead

  data_dir = "/var/lib/ferry/director" # JetStream store; the catalog defaults to data_dir/catalog.db
  # catalog = "/var/lib/ferry/director/catalog.db"

  events_max_age   = "720h" # keep lifecycle events for 30 days
  events_max_bytes = "1GiB"
  connect_timeout  = "10s"  # data socket connect timeout
  job_timeout      = "0s"   # 0: jobs have no time limit
}

# A passive client dials nothing. The director's NATS side dials its leafnode
# listener at address:leaf_port, as user "db1" with the password in
# leaf_password_file, and the storage daemon dials its data socket at
# address:data_port. The file daemon needs no route out and no name resolution;
# the director and the storage daemon must reach address.
client "db1" {
  address   = "10.0.0.6"
  data_port = 9102
  passive   = true
  max_wait  = "0s" # a job for an offline client fails at once
  leaf_port = 7422 # the file daemon's leaf_listen

  # The leafnode password, alone in its own file and the same secret as the
  # file daemon's leaf_password_file. It is refused unless only its owner
  # (the ferry user) may read it: chmod 600.
  leaf_password_file = "/etc/ferry/secrets/db1-leaf.secret"
}

# An active client: the file daemon dials the director's NATS server and the
# storage daemon itself, so it can sit behind NAT.
client "web1" {
  address = "10.0.0.5"
  passive = false
}

storage "site1" {
  address   = "10.0.0.2" # where active file daemons dial the storage daemon
  data_port = 9103
}

fileset "etc" {
  include = ["/etc"]
}

fileset "db-dumps" {
  include         = ["/var/backups/postgres", "/etc/postgresql"]
  exclude         = ["*.tmp", "*.partial"]
  one_file_system = true
}

job "web1-etc" {
  client  = "web1"
  fileset = "etc"
  storage = "site1"
  level   = "full"
}

job "db1-dumps" {
  client  = "db1"
  fileset = "db-dumps"
  storage = "site1"
  level   = "full" # incremental and differential are accepted by the parser but not run yet
}
