package director

import (
	"testing"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/schemas"
)

func TestPlanData(t *testing.T) {
	st := config.Storage{Name: "site1", Address: "10.0.0.2", DataPort: 9103}
	tests := []struct {
		name   string
		client config.Client
		want   dataPlan
	}{
		{"passive client: sd dials the fd", config.Client{Name: "db1", Address: "10.0.0.5", DataPort: 9102, Passive: true},
			dataPlan{Initiator: schemas.InitiatorSD, Addr: "10.0.0.5:9102", Peer: "db1"}},
		{"active client: fd dials the sd", config.Client{Name: "web1", Address: "10.0.0.6", DataPort: 9102},
			dataPlan{Initiator: schemas.InitiatorFD, Addr: "10.0.0.2:9103", Peer: "site1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := planData(tc.client, st); got != tc.want {
				t.Fatalf("planData = %+v, want %+v", got, tc.want)
			}
		})
	}
}
