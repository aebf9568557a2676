#!/usr/bin/env bash
# make demo: a real backup and restore through separate director, sd and fd
# processes on loopback, for a passive and an active client. It builds
# ferry, starts the daemons, backs up a sample tree from each client,
# restores both, compares the restored trees with the originals (content,
# mode, size, mtime to the nanosecond, symlink targets) and prints one line
# per job with who dialed whom.
#
# Every link runs TLS and every daemon and the console sign in with their own
# keys, as in production: the demo makes a CA, the hub's certificate for
# 127.0.0.1 and one key per agent with `ferry ca new`, `ferry cert new` and
# `ferry key new`. The director's file names the keys of the director,
# site1, db1 and the console; web1's key is left out, so web1 enrols: it
# waits as pending until `ferry agents accept web1`.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_PORT=${FERRY_DEMO_NATS_PORT:-14222}
SD_PORT=${FERRY_DEMO_SD_PORT:-19103}
FD_PORT=${FERRY_DEMO_FD_PORT:-19102}
LEAF_PORT=${FERRY_DEMO_LEAF_PORT:-17422}

work=$(mktemp -d /tmp/ferry-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-}" = 1 ]; then echo "state kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== building ferry"
go build -o "$work/bin/ferry" ./cmd/ferry
ferry="$work/bin/ferry"
export FERRY_NATS="tls://127.0.0.1:$NATS_PORT"

echo "== sample trees in $work"
for c in db1 web1; do
	s="$work/src/$c"
	mkdir -p "$s/etc" "$s/var/lib/app" "$s/empty"
	printf 'client %s\n' "$c" >"$s/etc/hostname"
	head -c 3000000 /dev/urandom >"$s/var/lib/app/data.bin"
	printf 'secret\n' >"$s/etc/shadow-ish"; chmod 0600 "$s/etc/shadow-ish"
	ln -s ../etc/hostname "$s/var/hostname-link"
	touch -d '2020-02-29 12:34:56.123456789' "$s/etc/hostname"
done

mkdir -m 700 "$work/secrets"
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secrets/db1-leaf.secret")

echo "== keys and certificates in $work/secrets and $work/tls"
mkdir -p "$work/tls"
"$ferry" ca new --out "$work/ca" --name demo >/dev/null
"$ferry" cert new --ca "$work/ca" --name hub --host 127.0.0.1 --out "$work/tls/hub" >/dev/null
cp "$work/ca/ca.crt" "$work/tls/ca.crt" # agents get the CA's certificate, never its key
declare -A key
for n in director site1 db1 web1 console; do
	key[$n]=$("$ferry" key new --out "$work/secrets/$n.nkey")
	echo "$n: ${key[$n]}"
done
# The console: its own key, and the CA that signed the hub's certificate.
export FERRY_IDENTITY="$work/secrets/console.nkey" FERRY_CA="$work/tls/ca.crt" FERRY_CONSOLE_NAME=demo

cat >"$work/director.hcl" <<HCL
director "demo" {
  nats_listen   = "127.0.0.1:$NATS_PORT"
  data_dir      = "$work/director"
  identity_file = "$work/secrets/director.nkey"
  tls_cert_file = "$work/tls/hub.crt"
  tls_key_file  = "$work/tls/hub.key"
  ca_file       = "$work/tls/ca.crt"
}
console "demo" {
  key = "${key[console]}"
}
storage "site1" {
  address   = "127.0.0.1"
  data_port = $SD_PORT
  key       = "${key[site1]}"
}
client "db1" {
  address            = "127.0.0.1"
  data_port          = $FD_PORT
  passive            = true # db1 dials nothing: the NATS side dials its leaf port, the sd its data port
  leaf_port          = $LEAF_PORT
  leaf_password_file = "$work/secrets/db1-leaf.secret"
  key                = "${key[db1]}" # the hub pins it on db1's leafnode listener
}
client "web1" {
  address = "127.0.0.1"
  # no key: web1 enrols and waits as pending until an operator accepts it
}
fileset "db1" { include = ["$work/src/db1"] }
fileset "web1" { include = ["$work/src/web1"] }
job "backup-db1" {
  client  = "db1"
  fileset = "db1"
  storage = "site1"
}
job "backup-web1" {
  client  = "web1"
  fileset = "web1"
  storage = "site1"
}
HCL
cat >"$work/sd.hcl" <<HCL
storage_daemon "site1" {
  nats_url    = "$FERRY_NATS"
  data_listen = "127.0.0.1:$SD_PORT"
  volume_dir    = "$work/volumes"
  identity_file = "$work/secrets/site1.nkey"
  ca_file       = "$work/tls/ca.crt"
}
HCL
cat >"$work/fd-db1.hcl" <<HCL
file_daemon "db1" {
  data_listen        = "127.0.0.1:$FD_PORT"
  passive            = true
  leaf_listen        = "127.0.0.1:$LEAF_PORT"
  leaf_password_file = "$work/secrets/db1-leaf.secret"
  identity_file      = "$work/secrets/db1.nkey" # its certificate on the leafnode listener; no ca_file: it dials nothing
}
HCL
cat >"$work/fd-web1.hcl" <<HCL
file_daemon "web1" {
  nats_url    = "$FERRY_NATS"
  data_listen   = "127.0.0.1:0" # an active client dials the sd; it listens only for a director that calls it passive
  identity_file = "$work/secrets/web1.nkey"
  ca_file       = "$work/tls/ca.crt"
}
HCL
"$ferry" config check "$work/director.hcl" "$work/sd.hcl" "$work/fd-db1.hcl" "$work/fd-web1.hcl"

echo "== starting director, sd and db1 (logs in $work/*.log)"
"$ferry" director --config "$work/director.hcl" 2>"$work/director.log" & pids+=($!)
for i in $(seq 100); do "$ferry" status >/dev/null 2>&1 && break; sleep 0.1; done
"$ferry" sd --config "$work/sd.hcl" 2>"$work/sd.log" & pids+=($!)
"$ferry" fd --config "$work/fd-db1.hcl" 2>"$work/fd-db1.log" & pids+=($!)
online() { "$ferry" status 2>/dev/null | grep -c ' online ' || true; }
for i in $(seq 100); do [ "$(online)" = 2 ] && break; sleep 0.2; done

echo "== enrolment: web1's key is not in the director's file; starting web1"
"$ferry" fd --config "$work/fd-web1.hcl" 2>"$work/fd-web1.log" & pids+=($!)
pending=
for i in $(seq 100); do
	if "$ferry" agents list --state pending 2>/dev/null | grep -q "${key[web1]}"; then pending=1; break; fi
	sleep 0.2
done
if [ -z "$pending" ]; then echo "web1 never showed up as pending"; "$ferry" agents list || true; exit 1; fi
"$ferry" agents list --state pending
"$ferry" agents accept web1
for i in $(seq 100); do [ "$(online)" = 3 ] && break; sleep 0.2; done
if [ "$(online)" != 3 ]; then echo "web1 accepted but not online; see $work/fd-web1.log"; "$ferry" status || true; exit 1; fi
echo "web1 enrolled: accepted with ferry agents accept web1, now online without a restart"
"$ferry" status

# listing: path, type, mode, size, mtime (ns), symlink target
listing() { (cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | sort); }

fail=0
for c in db1 web1; do
	echo "== client $c"
	out=$("$ferry" run "backup-$c" --wait)
	echo "$out"
	id=$(echo "$out" | sed -n 's/^job \([0-9]*\) .*/\1/p')
	"$ferry" restore --job "$id" --to "$work/restored/$c" --wait
	if diff <(listing "$work/src/$c") <(listing "$work/restored/$c$work/src/$c") >/dev/null &&
		diff -r --no-dereference "$work/src/$c" "$work/restored/$c$work/src/$c" >/dev/null; then
		echo "restored tree of $c is identical to the original (content, mode, size, mtime ns, links)"
	else
		echo "restored tree of $c DIFFERS from the original"; fail=1
	fi
done
echo "== jobs"
"$ferry" jobs
echo "== identities"
"$ferry" agents list
"$ferry" status | grep '^Security:'
exit $fail
