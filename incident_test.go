package stamp

import (
	"testing"
	"time"
)

func TestIncidentSummary(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	open := Incident{State: IncidentOpen, Message: "0 of 1 instances running; last exit: signal: killed"}
	for _, tt := range []struct {
		name string
		i    Incident
		want string
	}{
		{"open: what was seen", open, open.Message},
		{"acknowledged: what was seen", Incident{State: IncidentAcknowledged, Message: "down"}, "down"},
		{"recovered", Incident{State: IncidentResolved, Message: "down", ResolvedBy: "monitor",
			Timeline: []IncidentEntry{{Time: at, Message: "down"}, {Time: at.Add(time.Minute), Message: "recovered: 1 of 1 instances running"}}},
			"resolved: recovered: 1 of 1 instances running"},
		{"tenant deleted", Incident{State: IncidentResolved, Message: "down", Resolution: ResolutionTenantDeleted,
			Timeline: []IncidentEntry{{Time: at, Message: "down"}}}, "resolved: tenant deleted"},
		{"no timeline", Incident{State: IncidentResolved, Message: "down", ResolvedBy: "ops"}, "resolved by ops"},
	} {
		if got := tt.i.Summary(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
