package router

import (
	"context"
	"sort"
	"sync"

	"github.com/stamphq/stamp"
)

// fakeSource is an in-memory Source for the router's tests: tenants plus an
// event log with increasing seqs. The real stores have their own
// conformance suite; this fake only has to honour the Source contract.
type fakeSource struct {
	mu      sync.Mutex
	tenants map[string]*stamp.Tenant
	events  []*stamp.Event
	// err, when set, is returned by every method.
	err error
	// maxPage caps how many events one ListEvents returns, as a store may.
	maxPage int
	// afterList, when set, runs once ListTenants has copied the tenants and
	// before it returns: a write racing with the listing.
	afterList func()
	calls     int // reads of the log (ListEvents, LastEventSeq), to tell how often Run polled
}

func newFakeSource() *fakeSource {
	return &fakeSource{tenants: make(map[string]*stamp.Tenant)}
}

// put stores a copy of t and logs an event naming it.
func (f *fakeSource) put(t *stamp.Tenant) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *t
	f.tenants[t.Name] = &c
	f.appendLocked(t.Name, stamp.EventStep)
}

// remove deletes the tenant and logs its deletion.
func (f *fakeSource) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tenants, name)
	f.appendLocked(name, stamp.EventTenantDeleted)
}

func (f *fakeSource) appendLocked(tenant, typ string) {
	f.events = append(f.events, &stamp.Event{Seq: int64(len(f.events) + 1), Type: typ, Tenant: tenant})
}

func (f *fakeSource) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSource) logReads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeSource) ListTenants(ctx context.Context) ([]*stamp.Tenant, error) {
	f.mu.Lock()
	if f.err != nil {
		f.mu.Unlock()
		return nil, f.err
	}
	out := make([]*stamp.Tenant, 0, len(f.tenants))
	for _, t := range f.tenants {
		c := *t
		out = append(out, &c)
	}
	hook := f.afterList
	f.afterList = nil
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if hook != nil {
		hook()
	}
	return out, nil
}

func (f *fakeSource) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	t, ok := f.tenants[name]
	if !ok {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", name)
	}
	c := *t
	return &c, nil
}

func (f *fakeSource) ListEvents(ctx context.Context, filter stamp.EventFilter) ([]*stamp.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	limit := filter.Limit
	if f.maxPage > 0 && (limit == 0 || limit > f.maxPage) {
		limit = f.maxPage
	}
	var out []*stamp.Event
	for _, e := range f.events {
		if e.Seq <= filter.AfterSeq || filter.Tenant != "" && e.Tenant != filter.Tenant {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		c := *e
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeSource) LastEventSeq(ctx context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return 0, f.err
	}
	return int64(len(f.events)), nil
}

var _ Source = (*fakeSource)(nil)
