package natsconf

import (
	"fmt"
	"strings"

	"github.com/ferrybackup/ferry/schemas"
	"github.com/nats-io/nkeys"
)

// User is one connection the FERRY account admits: an agent (the
// director, a storage daemon, an active file daemon) or a console,
// authenticated by its identity's nkey (package agents/identity).
type User struct {
	Name string       // the agent's resource name, or a console's name
	Role schemas.Role // director, sd, fd, console or any
	NKey string       // public user nkey, "U..."
}

func checkUsers(s Server) error {
	passive := map[string]bool{}
	for _, p := range s.Passive {
		passive[p.Name] = true
	}
	keys := map[string]User{}
	names := map[string]bool{}
	for _, u := range s.Users {
		if !nkeys.IsValidPublicUserKey(u.NKey) {
			return fmt.Errorf("%s %s: nkey %q is not a public user nkey (\"U...\", as `ferry key show` prints it)", u.Role, u.Name, u.NKey)
		}
		if _, err := PermissionsFor(u.Role, u.Name, u.NKey); err != nil {
			return fmt.Errorf("user: %w", err)
		}
		if prev, dup := keys[u.NKey]; dup {
			return fmt.Errorf("%s %s and %s %s share the nkey %s: every agent needs its own identity", prev.Role, prev.Name, u.Role, u.Name, u.NKey)
		}
		keys[u.NKey] = u
		id := string(u.Role) + " " + u.Name
		if names[id] {
			return fmt.Errorf("%s is listed twice", id)
		}
		names[id] = true
		if u.Role == schemas.RoleFD && passive[u.Name] {
			return fmt.Errorf("fd %s is a passive client: it reaches the bus through its own account and leafnode link, not as a user of the %s account", u.Name, FerryAccount)
		}
	}
	return nil
}

// writeUsers lists the users of the FERRY account with their nkeys and
// permissions. Config has checked them.
func writeUsers(b *strings.Builder, users []User) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("    users: [\n")
	for _, u := range users {
		p, _ := PermissionsFor(u.Role, u.Name, u.NKey)
		w("      # %s %s\n", u.Role, u.Name)
		w("      {\n        nkey: %s\n        permissions: {\n", q(u.NKey))
		writeAllow(b, "publish", p.Publish)
		writeAllow(b, "subscribe", p.Subscribe)
		if p.Responses {
			w("          allow_responses: true\n")
		}
		w("        }\n      }\n")
	}
	w("    ]\n")
}

// writeAllow writes an allow list; an empty one becomes a deny of
// everything, since the server reads an empty allow list as no limit.
func writeAllow(b *strings.Builder, what string, subjects []string) {
	if len(subjects) == 0 {
		fmt.Fprintf(b, "          %s: { deny: [%s] }\n", what, q(">"))
		return
	}
	fmt.Fprintf(b, "          %s: {\n            allow: [\n", what)
	for i, s := range subjects {
		sep := ","
		if i == len(subjects)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "              %s%s\n", q(s), sep)
	}
	fmt.Fprintf(b, "            ]\n          }\n")
}
