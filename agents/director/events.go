package director

import (
	"context"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/schemas"
)

// publish stores a lifecycle event of job j in the event stream. This is
// where every job event leaves the director. A failure to publish is logged,
// never fatal to the job: the catalog is the record.
func (d *Director) publish(j catalog.Job, event string, fill func(*schemas.JobEvent)) {
	ev := schemas.JobEvent{
		JobID: j.ID, Event: event, Time: d.now().UnixNano(), Name: j.Name, Kind: string(j.Kind),
		Client: j.Client, Storage: j.Storage,
	}
	if fill != nil {
		fill(&ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bus.PublishEvent(ctx, d.bus, ev); err != nil {
		d.log.Warn("job event not published", "job", j.ID, "event", event, "err", err)
	}
}
