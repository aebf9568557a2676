// Package netlab builds small, throw-away network topologies out of Linux
// network namespaces and veth pairs, so tests can run Ferry processes on
// "different machines" without a single packet leaving the host.
//
// A lab is made of namespaces named "nl-<pid>-<n>-<host>", where pid is the
// test process and n a per-process sequence number, so parallel labs (in one
// or several test processes) never collide. Hosts are "srv", "cli" and, in the
// NAT topology, "nat":
//
//	Direct: srv 10.77.1.1/24 (eth0) <-veth-> (eth0) cli 10.77.1.2/24
//	NAT:    srv 10.77.1.1/24 (eth0) <-veth-> (wan) nat 10.77.1.254/24
//	        nat 10.77.2.1/24 (lan)  <-veth-> (eth0) cli 10.77.2.2/24
//
// In the NAT topology cli's default route points at nat, nat forwards only
// established/related packets and new connections from lan to wan (forward
// policy drop) and masquerades out of wan, so srv sees every connection from
// cli as coming from 10.77.1.254 and cannot open one to cli (it has no route).
//
// Rules the package follows (and tests using it must follow too): no address,
// route, interface or nftables rule is ever configured in the host (root)
// namespace; veth pairs are created with both ends inside lab namespaces;
// the 10.77.x.y addresses exist only between the lab's namespaces.
//
// Programs run inside a host with [Lab.Command] or [Lab.Run], which use
// "ip netns exec", so the per-namespace files written by [Lab.Hosts] and
// [Lab.NoResolver] (/etc/netns/NS/...) are bind-mounted over /etc for them.
// Those files only affect programs started after they were written.
// The PID of a started command is the PID of the program itself.
//
// [New] needs root and the ip and nft commands (apt-get install -y iproute2
// nftables); without them it skips the test, or fails it under
// FERRY_REQUIRE_ROOT=1 (see package testenv). Teardown is registered with
// t.Cleanup: every process inside the lab's namespaces is sent SIGTERM, then
// SIGKILL after 3 s, the namespaces are deleted and /etc/netns/NS removed.
// Because a test killed by its timeout never runs its cleanups, each lab
// records its owner in /run/ferry-netlab/<lab>.owner (pid and start time), and
// every New first removes the labs whose owner is gone.
//
// Methods that return no error report failures with t.Fatalf and therefore
// must be called from the goroutine running the test. Error messages name
// the command that failed and include its output.
//
// Pitfalls: a dropped SYN makes a dial a slow TCP timeout (use
// GuardOutbound(host, true) for a fast failure); nft counters count packets
// in state NEW, not connections (SYN retries count again); nft log rules print
// nothing inside a namespace; conntrack timeouts are per namespace.
package netlab
