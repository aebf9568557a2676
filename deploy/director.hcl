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

  # Security: every link runs TLS and every agent and console signs in with
  # its own key. Secret files are refused unless only their owner (the ferry
  # user) may read them: chmod 600.
  #   ferry key new --out /etc/ferry/secrets/director.nkey   # prints the public key
  identity_file = "/etc/ferry/secrets/director.nkey"
  # The embedded NATS server's certificate, issued for every name and address
  # agents dial it by (their nats_url), from the deployment's CA. On a host
  # kept for the purpose (ca.key never leaves it):
  #   ferry ca new --out /etc/ferry/ca --name prod
  #   ferry cert new --ca /etc/ferry/ca --name hub --host dir1.example.com,10.0.0.1 --out /etc/ferry/ca/hub
  # then, on the director's host, with the files copied over:
  #   install -m 0644 hub.crt /etc/ferry/tls/hub.crt
  #   install -m 0600 -o ferry hub.key /etc/ferry/secrets/hub.key
  # and ca.crt goes to /etc/ferry/tls/ca.crt on every agent's host.
  tls_cert_file = "/etc/ferry/tls/hub.crt"
  tls_key_file  = "/etc/ferry/secrets/hub.key"
  # ca_file = "/etc/ferry/tls/ca.crt" # with nats_url: verifies the external NATS server; empty: the system's roots

  # Keys not named below may ask to be enrolled and wait as pending until
  # `ferry agents accept NAME`; false refuses unknown keys outright.
  enrolment = true

  # WARNING: insecure = true turns TLS and keys off on every link: anyone who
  # reaches the bus can run and restore any backup. For a closed lab only;
  # every daemon warns about it when it starts.
  # insecure = true
}

# Consoles (ferry status, run, restore, ...) sign in with their own key:
#   ferry key new --out ~/.ferry/ops.nkey
#   export FERRY_IDENTITY=~/.ferry/ops.nkey FERRY_CA=/etc/ferry/tls/ca.crt FERRY_NATS=tls://10.0.0.1:4222
console "ops" {
  key = "UDSBN2UXY7DQAKAHBJEDZU7KKQTFSVMJFXZJEL7PAALFA3OBV774BKKW"
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

  # The public key of db1's identity_file (`ferry key show`). The NATS side
  # pins it on db1's leafnode listener, so an impostor at db1's address gets
  # no link. Leave it out to enrol db1 instead: the NATS side records the key
  # it finds when it first dials db1 as pending, until `ferry agents accept db1`.
  key = "UANROSSTJXIKQTPTFFITTM3RO4Z5DXW234X3CLJUMLIVVCAGP4K47ODQ"
}

# An active client: the file daemon dials the director's NATS server and the
# storage daemon itself, so it can sit behind NAT.
client "web1" {
  address = "10.0.0.5"
  passive = false

  # The public key `ferry key new --out /etc/ferry/secrets/web1.nkey` printed
  # on web1. The alternative is enrolment: leave key out, start web1 with a new
  # key, and it waits as pending (`ferry agents list`) until
  # `ferry agents accept web1`; no restart is needed.
  key = "UDR3SZ6ALNUXM3I5E4KIL4Z4L7EU5PQHSZEWFIG54I35FQER466V6Y3G"
}

storage "site1" {
  address   = "10.0.0.2" # where active file daemons dial the storage daemon
  data_port = 9103
  key       = "UAGK6B4PCCQRDWQDIEU2HOUSR5ES2W32V6EFOLNAD6GPCRB37NI36PRU" # site1's identity_file; or leave it out and accept site1
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
