package reconcile

import (
	"context"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
)

// resolvedBy names the reconciler as who resolved an incident.
const resolvedBy = "reconciler"

// resolveIncidents resolves the tenant's open incidents as it is deleted
// or goes to sleep (resolution says which): nothing of it is left to
// recover, and no monitor watches it any more to see it recover. An
// incident changed meanwhile (an operator acknowledged it) is read again;
// one that keeps changing is a transient error.
func (p *pass) resolveIncidents(ctx context.Context, resolution string) error {
	st := p.r.cfg.Store
	for stuck := 0; stuck < 3; {
		open, err := st.ListIncidents(ctx, stamp.IncidentFilter{Tenant: p.t.Name, Open: true})
		if err != nil {
			return fmt.Errorf("list open incidents: %w", err)
		}
		if len(open) == 0 {
			return nil
		}
		resolved := 0
		for _, inc := range open {
			now := p.r.cfg.Clock.Now()
			inc.State, inc.ResolvedAt, inc.ResolvedBy = stamp.IncidentResolved, now, resolvedBy
			inc.Resolution = resolution
			inc.Timeline = append(inc.Timeline, stamp.IncidentEntry{Time: now, Message: "resolved: " + resolution})
			err := st.UpdateIncident(ctx, inc)
			switch stamp.ErrorCode(err) {
			case "":
			case stamp.ECONFLICT, stamp.ENOTFOUND:
				continue
			default:
				return fmt.Errorf("resolve incident %s: %w", inc.ID, err)
			}
			resolved++
			err = p.event(ctx, &stamp.Event{Type: stamp.EventIncidentResolved, Incident: inc.ID, Status: inc.Cause,
				Message: fmt.Sprintf("%s after %s", resolution, inc.Duration(now).Round(time.Millisecond))})
			if err != nil {
				return err
			}
		}
		if resolved == 0 {
			stuck++
		}
	}
	return fmt.Errorf("resolve the open incidents of %s: they kept changing", p.t.Name)
}
