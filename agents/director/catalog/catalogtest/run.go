// Package catalogtest is the conformance suite every catalog backend runs.
//
// A backend's test calls Run with a function that opens a fresh, empty
// catalog:
//
//	func TestConformance(t *testing.T) {
//		catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
//			c, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return c
//		})
//	}
package catalogtest

import (
	"testing"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

type testCase struct {
	name string
	fn   func(t *testing.T, c catalog.Catalog)
}

var cases = []testCase{
	{"CreateAndGet", testCreateAndGet},
	{"CreateInvalid", testCreateInvalid},
	{"ListAndFilter", testListAndFilter},
	{"DefaultLimit", testDefaultLimit},
	{"RunningAndDataChannel", testRunningAndDataChannel},
	{"Unfinished", testUnfinished},
	{"NotFound", testNotFound},
	{"StageIdempotent", testStageIdempotent},
	{"StageOrder", testStageOrder},
	{"StageLarge", testStageLarge},
	{"StageAfterEnd", testStageAfterEnd},
	{"CommitResult", testCommitResult},
	{"CommitEmpty", testCommitEmpty},
	{"CommitMissingChunk", testCommitMissingChunk},
	{"CommitExtraChunk", testCommitExtraChunk},
	{"CommitTwice", testCommitTwice},
	{"CommitInvalidResult", testCommitInvalidResult},
	{"EndJobDropsStaged", testEndJobDropsStaged},
	{"EndRestore", testEndRestore},
	{"JobFilesStops", testJobFilesStops},
	{"BinaryPaths", testBinaryPaths},
	{"FieldLimits", testFieldLimits},
	{"Times", testTimes},
	{"Logs", testLogs},
	{"Volumes", testVolumes},
	{"ConcurrentJobs", testConcurrentJobs},
}

// Run runs the conformance suite. Each subtest calls open for a fresh,
// empty catalog and closes it when the subtest ends, so open must not
// register a Close of its own.
func Run(t *testing.T, open func(t *testing.T) catalog.Catalog) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t)
			t.Cleanup(func() {
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, c)
		})
	}
}
