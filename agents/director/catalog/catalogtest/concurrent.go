package catalogtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

const (
	concurrentJobs   = 4
	concurrentChunks = 5
	concurrentFiles  = 300
)

// testConcurrentJobs runs several jobs at once, each staging its chunks in
// reverse order, logging and committing, while a reader lists jobs.
func testConcurrentJobs(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	ids := make([]int64, concurrentJobs)
	for i := range ids {
		ids[i] = create(t, c, backupJob(fmt.Sprintf("job-%d", i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, concurrentJobs+1)
	for i, id := range ids {
		wg.Go(func() { errs <- runJob(ctx, c, id, fmt.Sprint(i)) })
	}
	wg.Go(func() { errs <- listJobs(ctx, c) })
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	for i, id := range ids {
		checkFiles(t, id, jobFiles(t, c, id), slices.Concat(jobChunks(fmt.Sprint(i))...))
		if j := getJob(t, c, id); j.Status != catalog.StatusOK {
			t.Fatalf("job %d: %+v", id, j)
		}
	}
}

func jobChunks(tag string) [][]catalog.File {
	chunks := make([][]catalog.File, concurrentChunks)
	for seq := range chunks {
		chunks[seq] = makeFiles(fmt.Sprintf("%s-%d", tag, seq), concurrentFiles)
	}
	return chunks
}

func runJob(ctx context.Context, c catalog.Catalog, id int64, tag string) error {
	if err := c.MarkRunning(ctx, id, time.Time{}); err != nil {
		return err
	}
	chunks := jobChunks(tag)
	for seq := len(chunks) - 1; seq >= 0; seq-- {
		if err := c.StageFiles(ctx, id, seq, chunks[seq]); err != nil {
			return err
		}
		entry := catalog.LogEntry{JobID: id, Level: catalog.LevelInfo, Agent: "fd", Message: fmt.Sprint("chunk ", seq)}
		if err := c.AppendLog(ctx, []catalog.LogEntry{entry}); err != nil {
			return err
		}
	}
	n := concurrentChunks * concurrentFiles
	return c.CommitJob(ctx, id, okResult(n), concurrentChunks)
}

func listJobs(ctx context.Context, c catalog.Catalog) error {
	for range 20 {
		if _, err := c.Jobs(ctx, catalog.JobFilter{}); err != nil {
			return err
		}
		if _, err := c.Unfinished(ctx); err != nil {
			return err
		}
	}
	return nil
}
