package fd

import "os"

// isRoot: only root restores owners.
func isRoot() bool { return os.Geteuid() == 0 }
