package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stamphq/stamp"
)

type incidentList struct {
	Incidents []*stamp.Incident `json:"incidents"`
}

// RecoveryStats is the answer of GET /v1/incidents/stats: mean time to
// recovery of the resolved incidents, fleet-wide and per tenant.
type RecoveryStats struct {
	Resolved int            `json:"resolved"`
	Open     int            `json:"open"`
	MTTR     stamp.Duration `json:"mttr"`
	// Tenants holds the same per tenant that had an incident.
	Tenants map[string]TenantRecovery `json:"tenants"`
}

// TenantRecovery is one tenant's part of RecoveryStats.
type TenantRecovery struct {
	Resolved int            `json:"resolved"`
	Open     int            `json:"open"`
	MTTR     stamp.Duration `json:"mttr"`
}

// incidentFilter reads ?tenant=, ?open=1 and ?limit=.
func incidentFilter(r *http.Request) (stamp.IncidentFilter, error) {
	q := r.URL.Query()
	f := stamp.IncidentFilter{Tenant: q.Get("tenant")}
	switch q.Get("open") {
	case "", "0", "false":
	case "1", "true":
		f.Open = true
	default:
		return f, stamp.Errorf(stamp.EINVALID, "query parameter open=%q must be 1, true, 0 or false", q.Get("open"))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, stamp.Errorf(stamp.EINVALID, "query parameter limit=%q must be an integer from 1 to 1000", v)
		}
		f.Limit = n
	}
	return f, nil
}

func handleIncidentList(st stamp.IncidentStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := incidentFilter(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		list, err := st.ListIncidents(r.Context(), f)
		if err != nil {
			writeError(w, r, fmt.Errorf("list incidents: %w", err))
			return
		}
		encode(w, r, http.StatusOK, incidentList{Incidents: nonNil(list)})
	})
}

func handleIncidentGet(st stamp.IncidentStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inc, err := getIncident(r.Context(), st, r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, inc)
	})
}

func getIncident(ctx context.Context, st stamp.IncidentStore, id string) (*stamp.Incident, error) {
	inc, err := st.GetIncident(ctx, id)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "incident %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get incident %s: %w", id, err)
	}
	return inc, nil
}

// handleIncidentAction acknowledges (ack) or resolves an incident for an
// operator. Doing it again is no change; acknowledging a resolved one is
// ECONFLICT.
func handleIncidentAction(st Store, clock stamp.Clock, action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, who := r.PathValue("id"), caller(r.Context())
		for range changeAttempts {
			inc, err := getIncident(r.Context(), st, id)
			if err != nil {
				writeError(w, r, err)
				return
			}
			now := clock.Now()
			var evType string
			switch {
			case inc.State == stamp.IncidentResolved && action == "resolve",
				inc.State == stamp.IncidentAcknowledged && action == "ack":
				encode(w, r, http.StatusOK, inc)
				return
			case inc.State == stamp.IncidentResolved:
				writeError(w, r, stamp.Errorf(stamp.ECONFLICT, "incident %s is resolved already", id))
				return
			case action == "ack":
				inc.State, inc.AckedAt, inc.AckedBy = stamp.IncidentAcknowledged, now, who
				evType = stamp.EventIncidentAcknowledged
			default:
				inc.State, inc.ResolvedAt, inc.ResolvedBy = stamp.IncidentResolved, now, who
				evType = stamp.EventIncidentResolved
			}
			msg := fmt.Sprintf("%s by %s", map[string]string{"ack": "acknowledged", "resolve": "resolved"}[action], who)
			inc.Timeline = append(inc.Timeline, stamp.IncidentEntry{Time: now, Message: msg})
			err = st.UpdateIncident(r.Context(), inc)
			if stamp.ErrorCode(err) == stamp.ECONFLICT {
				continue
			}
			if err != nil {
				writeError(w, r, fmt.Errorf("update incident %s: %w", id, err))
				return
			}
			ev := &stamp.Event{Time: now, Type: evType, Tenant: inc.Tenant, Incident: inc.ID, Status: inc.Cause, Message: msg}
			if err := st.AppendEvents(r.Context(), ev); err != nil {
				writeError(w, r, fmt.Errorf("record %s of incident %s: %w", action, id, err))
				return
			}
			encode(w, r, http.StatusOK, inc)
			return
		}
		writeError(w, r, stamp.Errorf(stamp.ECONFLICT, "incident %q kept changing while it was being updated; try again", id))
	})
}

// handleIncidentStats answers the mean time to recovery over the last
// 1000 incidents (of ?tenant= if given).
func handleIncidentStats(st stamp.IncidentStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := st.ListIncidents(r.Context(), stamp.IncidentFilter{Tenant: r.URL.Query().Get("tenant"), Limit: 1000})
		if err != nil {
			writeError(w, r, fmt.Errorf("list incidents: %w", err))
			return
		}
		encode(w, r, http.StatusOK, recoveryStats(list))
	})
}

// recoveryStats sums incidents up. Those resolved by their tenant's
// deletion are left out: nothing recovered.
func recoveryStats(list []*stamp.Incident) RecoveryStats {
	out := RecoveryStats{Tenants: map[string]TenantRecovery{}}
	var total time.Duration
	sums := map[string]time.Duration{}
	for _, inc := range list {
		tr := out.Tenants[inc.Tenant]
		switch {
		case inc.Resolution == stamp.ResolutionTenantDeleted, inc.Resolution == stamp.ResolutionTenantAsleep:
			continue // not a recovery
		case inc.State == stamp.IncidentResolved:
			d := inc.ResolvedAt.Sub(inc.OpenedAt)
			out.Resolved++
			total += d
			tr.Resolved++
			sums[inc.Tenant] += d
		default:
			out.Open++
			tr.Open++
		}
		out.Tenants[inc.Tenant] = tr
	}
	if out.Resolved > 0 {
		out.MTTR = stamp.Duration(total / time.Duration(out.Resolved))
	}
	for name, tr := range out.Tenants {
		if tr.Resolved > 0 {
			tr.MTTR = stamp.Duration(sums[name] / time.Duration(tr.Resolved))
			out.Tenants[name] = tr
		}
	}
	return out
}
