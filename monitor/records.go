package monitor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/stamphq/stamp"
)

const (
	// listEvery is how often the records of the tenants that events
	// name are read again.
	listEvery = time.Second
	// reloadEvery is how often every tenant's record is read again,
	// healing what following the event log missed (an event read before
	// the write it announces was visible).
	reloadEvery = 30 * time.Second
	// eventPages bounds the pages of events one refresh reads; the rest
	// waits for the next.
	eventPages = 10
)

// records are the tenants' records the monitor works from. Reading all of
// them every second cost a fleet of 10,000 a tenth of a second of CPU per
// second, mostly for sleeping tenants no one watches: instead, the log of
// events says which tenants changed, and only those are read again.
type records struct {
	list       map[string]*stamp.Tenant // by name; guarded by Monitor.mu
	claimed    map[string]string        // tenant by runtime, for those that claimed a pooled stamp
	seq        int64                    // the last event whose tenant list reflects
	listedAt   time.Time                // when the log was last read
	reloadedAt time.Time                // when every record was last read
}

// refresh brings m.list up to date: every record on the first call and
// every reloadEvery, else the records of held tenants it lacks at once and,
// every listEvery, those of the tenants named by the events written since.
// Only tick calls it.
func (m *Monitor) refresh(ctx context.Context, now time.Time, held map[string]bool) error {
	if m.list == nil || now.Sub(m.reloadedAt) >= reloadEvery {
		return m.reload(ctx, now)
	}
	// A tenant this process has just taken is watched from the next
	// tick, not from the next read of the log: an exit in between would
	// count as the baseline of a watch begun after it.
	var missing []string
	m.mu.Lock()
	for name := range held {
		if m.list[name] == nil {
			missing = append(missing, name)
		}
	}
	m.mu.Unlock()
	if err := m.read(ctx, missing); err != nil {
		return err
	}
	if now.Sub(m.listedAt) < listEvery {
		return nil
	}
	seq, names := m.seq, map[string]bool{}
	for range eventPages {
		events, err := m.cfg.Store.ListEvents(ctx, stamp.EventFilter{AfterSeq: seq, Limit: 500})
		if err != nil {
			return fmt.Errorf("read events after %d: %w", seq, err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.Tenant != "" {
				names[e.Tenant] = true
			}
			seq = max(seq, e.Seq)
		}
	}
	if err := m.read(ctx, slices.Collect(maps.Keys(names))); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq, m.listedAt = seq, now
	return nil
}

// read reads the records of the tenants names into m.list again.
func (m *Monitor) read(ctx context.Context, names []string) error {
	changed := make(map[string]*stamp.Tenant, len(names)) // nil: gone
	for _, name := range names {
		t, err := m.cfg.Store.GetTenant(ctx, name)
		switch {
		case stamp.ErrorCode(err) == stamp.ENOTFOUND:
			changed[name] = nil
		case err != nil:
			return fmt.Errorf("read tenant %s: %w", name, err)
		default:
			changed[name] = t
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, t := range changed {
		if t == nil {
			delete(m.list, name)
		} else {
			m.list[name] = t
			m.noteClaimed(t)
		}
	}
	return nil
}

// noteClaimed remembers the tenant of a runtime claimed from the pool:
// the driver reports exits by runtime. Monitor.mu must be held.
func (m *Monitor) noteClaimed(t *stamp.Tenant) {
	if t.Status.Runtime != "" {
		m.claimed[t.Status.Runtime] = t.Name
	}
}

// runtimeOf returns the name the driver knows tenant by.
func (m *Monitor) runtimeOf(tenant string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.list[tenant]; t != nil {
		return t.RuntimeName()
	}
	return tenant
}

// reload reads every tenant's record.
func (m *Monitor) reload(ctx context.Context, now time.Time) error {
	// The position first: an event written while the list is read is
	// read again at the next refresh, never skipped.
	seq, err := m.cfg.Store.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("read the event log position: %w", err)
	}
	all, err := m.cfg.Store.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	list := make(map[string]*stamp.Tenant, len(all))
	for _, t := range all {
		list[t.Name] = t
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list, m.seq, m.listedAt, m.reloadedAt = list, seq, now, now
	m.claimed = map[string]string{}
	for _, t := range all {
		m.noteClaimed(t)
	}
	return nil
}
