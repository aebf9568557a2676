package catalogtest

import (
	"slices"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

func testVolumes(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	t0 := time.Date(2025, 5, 5, 5, 5, 5, 5, time.UTC)
	vols, err := c.Volumes(ctx)
	must(t, err)
	if len(vols) != 0 {
		t.Fatalf("new catalog has volumes: %+v", vols)
	}

	b := catalog.Volume{Name: "vol-b", Storage: "sd-1", Bytes: 10, Status: catalog.VolumeAppend, Updated: t0}
	a := catalog.Volume{Name: "vol-a", Storage: "sd-2", Bytes: 20, Status: catalog.VolumeAppend, Updated: t0}
	must(t, c.PutVolume(ctx, b))
	must(t, c.PutVolume(ctx, a))
	b.Bytes, b.Status, b.Updated = 1<<40, catalog.VolumeFull, t0.Add(time.Hour)
	must(t, c.PutVolume(ctx, b))
	checkVolumes(t, c, []catalog.Volume{a, b})

	wantErr(t, "PutVolume without name", c.PutVolume(ctx, catalog.Volume{}), catalog.ErrInvalid)
}

// checkVolumes fails unless the catalog's volumes are want, in order.
func checkVolumes(t *testing.T, c catalog.Catalog, want []catalog.Volume) {
	t.Helper()
	got, err := c.Volumes(t.Context())
	must(t, err)
	eq := func(x, y catalog.Volume) bool {
		return x.Name == y.Name && x.Storage == y.Storage && x.Bytes == y.Bytes &&
			x.Status == y.Status && x.Updated.Equal(y.Updated)
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Fatalf("Volumes = %+v, want %+v", got, want)
	}
}
