package director

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// note appends a director line to a job's log in the catalog.
func (d *Director) note(id int64, level, format string, args ...any) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := catalog.LogEntry{JobID: id, Time: d.now(), Level: level, Agent: "director", Message: fmt.Sprintf(format, args...)}
	if err := d.cat.AppendLog(ctx, []catalog.LogEntry{e}); err != nil {
		d.log.Warn("job log line not stored", "job", id, "err", err)
	}
}
