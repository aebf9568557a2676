package natsconf

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/ferrybackup/ferry/schemas"
)

// Assignment places one passive client's leafnode remote on a node.
type Assignment struct {
	Client string
	Node   string
}

// ParseAssignment reads CLIENT=NODE.
func ParseAssignment(s string) (Assignment, error) {
	client, node, ok := strings.Cut(s, "=")
	if !ok || client == "" || node == "" {
		return Assignment{}, fmt.Errorf("assignment %q: write CLIENT=NODE", s)
	}
	return Assignment{Client: client, Node: node}, nil
}

// Place decides which node of a cluster dials each passive client: the
// node an assignment names, else the first of nodes in sorted order, so
// that every node, generated from the same nodes and assignments, agrees
// and exactly one dials a client. It returns passive with Node set.
//
// A client assigned twice is refused with Config's "two leafnode remotes"
// error, even when both name one node; so are an assignment to a node not
// in nodes, to a client that is not passive, and a node listed twice.
// With no nodes (a single server), there must be no assignments and every
// Node stays "".
func Place(passive []Passive, nodes []string, assign []Assignment) ([]Passive, error) {
	out := slices.Clone(passive)
	if len(nodes) == 0 {
		if len(assign) > 0 {
			return nil, fmt.Errorf("assignment %s=%s: name the cluster's nodes to place clients on", assign[0].Client, assign[0].Node)
		}
		for i := range out {
			out[i].Node = ""
		}
		return out, nil
	}
	known := map[string]bool{}
	for _, n := range nodes {
		if err := schemas.CheckToken(n); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		if known[n] {
			return nil, fmt.Errorf("node %s is listed twice", n)
		}
		known[n] = true
	}
	first := slices.Min(nodes)
	byName := map[string]int{}
	for i, p := range out {
		byName[p.Name] = i
		out[i].Node = first
	}
	assigned := map[string]bool{}
	var extra []Passive
	for _, a := range assign {
		i, ok := byName[a.Client]
		if !ok {
			return nil, fmt.Errorf("assignment %s=%s: %s is not a passive client of this director", a.Client, a.Node, a.Client)
		}
		if !known[a.Node] {
			return nil, fmt.Errorf("assignment %s=%s: node %s is not one of the nodes %s", a.Client, a.Node, a.Node, strings.Join(nodes, ", "))
		}
		if assigned[a.Client] {
			// Keep both: check names the two nodes in its refusal.
			p := out[i]
			p.Node = a.Node
			extra = append(extra, p)
			continue
		}
		assigned[a.Client] = true
		out[i].Node = a.Node
	}
	out = append(out, extra...)
	if err := check(Server{Passive: out}); err != nil {
		return nil, err
	}
	return out, nil
}

// checkCluster: a clustered node needs a name and a route listener, and
// its routes must be URLs.
func checkCluster(s Server) error {
	c := s.Cluster
	if err := schemas.CheckToken(s.Name); err != nil {
		return fmt.Errorf("server name in a cluster: %w", err)
	}
	if err := schemas.CheckToken(c.Name); err != nil {
		return fmt.Errorf("cluster name: %w", err)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("cluster %s: route listen address: %w", c.Name, err)
	}
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Port() == "" || (u.Scheme != "nats-route" && u.Scheme != "nats" && u.Scheme != "tls") {
			return fmt.Errorf("cluster %s: route %q: write nats-route://HOST:PORT", c.Name, r)
		}
	}
	return nil
}

func writeCluster(b *strings.Builder, c Cluster, t *TLSFiles) {
	fmt.Fprintf(b, "cluster {\n  name: %s\n  listen: %s\n", q(c.Name), q(c.Listen))
	if len(c.Routes) > 0 {
		fmt.Fprintf(b, "  routes: [%s]\n", quoteAll(c.Routes))
	}
	if t != nil {
		// Routes authenticate each other by the deployment CA.
		fmt.Fprintf(b, "  tls {\n")
		writeTLS(b, *t, "    ")
		fmt.Fprintf(b, "    verify: true\n    timeout: 5\n  }\n")
	}
	fmt.Fprintf(b, "}\n")
}

// writePlacement lists, as comments, which node dials each passive client
// in a cluster: the same lines on every node, so a diff of two nodes'
// files shows a disagreement.
func writePlacement(b *strings.Builder, passive []Passive) {
	for _, p := range passive {
		if p.Node != "" {
			fmt.Fprintf(b, "# passive client %s: dialed by node %s\n", p.Name, p.Node)
		}
	}
}
