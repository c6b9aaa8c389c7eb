package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// seedTenants stores tenants t0000 and on straight in the store, asleep
// (scale to zero), as a large fleet mostly is: a listing reads only the
// store, and a thousand creations through the API would mostly time the
// creation.
func seedTenants(t *testing.T, st stamp.Store, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("t%04d", i)
		tn := &stamp.Tenant{
			Name: names[i],
			Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning},
			Status: stamp.TenantStatus{Phase: stamp.PhaseSleeping, ObservedGeneration: 1, Version: "1.0.0",
				MigratedVersion: "1.0.0", Seeded: true, SleptAt: time.Unix(1e9, 0)},
			Generation: 1,
		}
		if err := st.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func tenantNames(ts []*stamp.Tenant) []string {
	names := make([]string, len(ts))
	for i, tn := range ts {
		names[i] = tn.Name
	}
	return names
}

// TestTenantListPages lists 1,000 tenants through the server a page at a
// time, then again while tenants are created and deleted between pages.
func TestTenantListPages(t *testing.T) {
	env := newTestEnv(t)
	ctx := t.Context()
	seeded := seedTenants(t, env.store, 1000)
	env.push(t, ledgerYAML)
	create := func(t *testing.T, name string) {
		t.Helper()
		_, err := env.client.CreateTenant(ctx, CreateTenantRequest{Name: name, Blueprint: "ledger", Params: map[string]string{"admin_email": "ops@" + name + ".test"}})
		if err != nil {
			t.Fatalf("create tenant %s: %v", name, err)
		}
	}
	// remove deletes a tenant's record, as the reconciler does once it
	// has released the tenant's resources (DELETE only marks it).
	remove := func(t *testing.T, name string) {
		t.Helper()
		tn, err := env.store.GetTenant(ctx, name)
		if err == nil {
			err = env.store.DeleteTenant(ctx, name, tn.ResourceVersion)
		}
		if err != nil {
			t.Fatalf("delete tenant %s: %v", name, err)
		}
	}

	t.Run("default page", func(t *testing.T) {
		first, err := env.client.ListTenantsPage(ctx, TenantQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := tenantNames(first.Tenants); !slices.Equal(got, seeded[:DefaultTenantPage]) {
			t.Fatalf("page without limit: got %d tenants %q..., want the first %d", len(got), got[:min(3, len(got))], DefaultTenantPage)
		}
		second, err := env.client.ListTenantsPage(ctx, TenantQuery{After: first.Next})
		if err != nil {
			t.Fatal(err)
		}
		if got := tenantNames(second.Tenants); !slices.Equal(got, seeded[DefaultTenantPage:2*DefaultTenantPage]) {
			t.Errorf("page after the first's next: got %d tenants from %q, want %d from %q", len(got), got[0], DefaultTenantPage, seeded[DefaultTenantPage])
		}
	})

	t.Run("last page", func(t *testing.T) {
		all, err := env.client.ListTenantsPage(ctx, TenantQuery{Limit: MaxTenantPage})
		if err != nil {
			t.Fatal(err)
		}
		if got := tenantNames(all.Tenants); !slices.Equal(got, seeded) || all.Next != "" {
			t.Errorf("page of %d over %d tenants: got %d, next %q; want all of them and no next", MaxTenantPage, len(seeded), len(got), all.Next)
		}
		butOne, err := env.client.ListTenantsPage(ctx, TenantQuery{Limit: len(seeded) - 1})
		if err != nil {
			t.Fatal(err)
		}
		last, err := env.client.ListTenantsPage(ctx, TenantQuery{After: butOne.Next, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if got := tenantNames(last.Tenants); !slices.Equal(got, seeded[len(seeded)-1:]) || last.Next != "" {
			t.Errorf("page after all but one: got %q, next %q; want [%s] and no next", got, last.Next, seeded[len(seeded)-1])
		}
		beyond, err := env.client.ListTenantsPage(ctx, TenantQuery{After: tenantCursor(seeded[len(seeded)-1]), Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(beyond.Tenants) != 0 || beyond.Next != "" {
			t.Errorf("page after the last tenant: got %q, next %q; want none", tenantNames(beyond.Tenants), beyond.Next)
		}
	})

	t.Run("ListTenants follows next", func(t *testing.T) {
		create(t, "u1000") // 1,001 tenants: more than one page of the largest
		got, err := env.client.ListTenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(slices.Clone(seeded), "u1000"); !slices.Equal(tenantNames(got), want) {
			t.Errorf("ListTenants: got %d tenants, want the %d stored", len(got), len(want))
		}
		remove(t, "u1000")
	})

	t.Run("pages while tenants come and go", func(t *testing.T) {
		const limit = 7
		stored := map[string]bool{} // seeded and not deleted
		for _, name := range seeded {
			stored[name] = true
		}
		deletedUnreached := map[string]bool{}
		createdBehind, createdBeyond := map[string]bool{}, map[string]bool{}
		var listed []string
		after := ""
		for pages := 1; ; pages++ {
			page, err := env.client.ListTenantsPage(ctx, TenantQuery{After: after, Limit: limit})
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			if n := len(page.Tenants); n > limit || n == 0 && page.Next != "" {
				t.Fatalf("page %d: %d tenants, next %q", pages, n, page.Next)
			}
			listed = append(listed, tenantNames(page.Tenants)...)
			if page.Next == "" {
				break
			}
			if pages > len(seeded) {
				t.Fatalf("still paging after %d pages of %d", pages, limit)
			}
			after = page.Next
			last := page.Tenants[len(page.Tenants)-1].Name

			// Between pages, through the API: a tenant behind the cursor,
			// which must not show, and one beyond it, which must. In the
			// store: the next two seeded tenants not yet reached (the
			// first right at the cursor) and one already listed go.
			behind, beyondName := "a-"+last, last+"-x"
			create(t, behind)
			create(t, beyondName)
			createdBehind[behind], createdBeyond[beyondName] = true, true
			gone := 0
			for _, name := range seeded {
				if gone == 2 {
					break
				}
				if name > last && stored[name] {
					remove(t, name)
					delete(stored, name)
					deletedUnreached[name] = true
					gone++
				}
			}
			// Every other page, the tenant the cursor names is the one
			// that goes: a cursor need not name a stored tenant.
			listedName := page.Tenants[0].Name
			if pages%2 == 0 {
				listedName = last
			}
			remove(t, listedName)
			delete(stored, listedName)
			delete(createdBeyond, listedName) // listed already, if it was one
		}

		for i := 1; i < len(listed); i++ {
			if listed[i] <= listed[i-1] {
				t.Fatalf("tenant %s listed after %s: the pages repeat a tenant or leave name order", listed[i], listed[i-1])
			}
		}
		seen := map[string]bool{}
		for _, name := range listed {
			seen[name] = true
		}
		for _, name := range seeded {
			switch {
			case deletedUnreached[name] && seen[name]:
				t.Errorf("tenant %s, deleted before its page, was listed", name)
			case !deletedUnreached[name] && !seen[name]:
				t.Errorf("tenant %s, stored until its page was read, was not listed", name)
			}
		}
		for name := range createdBehind {
			if seen[name] {
				t.Errorf("tenant %s, created behind the cursor, was listed", name)
			}
		}
		for name := range createdBeyond {
			if !seen[name] {
				t.Errorf("tenant %s, created beyond the cursor, was not listed", name)
			}
		}
		if len(deletedUnreached) < 100 || len(createdBeyond) < 50 {
			t.Errorf("only %d tenants deleted before their page and %d created beyond the cursor; the test means many of both",
				len(deletedUnreached), len(createdBeyond))
		}
	})
}

func TestTenantListRefusesBadQueries(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		query string
		want  string
	}{
		{"limit=0", `query parameter limit="0" must be an integer from 1 to 1000`},
		{"limit=1001", `query parameter limit="1001" must be an integer from 1 to 1000`},
		{"limit=-5", `query parameter limit="-5" must be an integer from 1 to 1000`},
		{"limit=ten", `query parameter limit="ten" must be an integer from 1 to 1000`},
		{"after=t0001", `query parameter after="t0001" is not a page cursor: illegal base64 data at input byte 4; send the "next" of a page as it came`},
		{"after=" + tenantCursor("Acme"), `query parameter after="QWNtZQ" is not a page cursor: it holds no tenant name; send the "next" of a page as it came`},
		{"before=t0001", `query parameter before="t0001" is not a page cursor: illegal base64 data at input byte 4; send the "prev" of a page as it came`},
		{"after=" + tenantCursor("a") + "&before=" + tenantCursor("b"), `query parameters after= and before= read a page forwards or backwards: send one of them`},
		{"phase=reddy", `query parameter phase="reddy" is not a phase: want one of ` + strings.Join(stamp.Phases(), ", ")},
		{"label==eu", `query parameter label="=eu" has no key: want key or key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			status, _, got := env.raw(t, http.MethodGet, "/v1/tenants?"+tt.query, env.token, nil)
			if status != http.StatusBadRequest || got.Code != stamp.EINVALID || got.Message != tt.want {
				t.Errorf("got %d %s %q, want 400 %s %q", status, got.Code, got.Message, stamp.EINVALID, tt.want)
			}
			if !strings.HasPrefix(tt.query, "phase") && !strings.HasPrefix(tt.query, "label") {
				return
			}
			status, _, got = env.raw(t, http.MethodGet, "/v1/tenant-counts?"+tt.query, env.token, nil)
			if status != http.StatusBadRequest || got.Code != stamp.EINVALID || got.Message != tt.want {
				t.Errorf("counts: got %d %s %q, want 400 %s %q", status, got.Code, got.Message, stamp.EINVALID, tt.want)
			}
		})
	}
	_, err := env.client.ListTenantsPage(t.Context(), TenantQuery{After: "!"})
	wantError(t, err, stamp.EINVALID, `query parameter after="!" is not a page cursor: illegal base64 data at input byte 0; send the "next" of a page as it came`)
}

// TestTenantListFiltered lists and counts a fleet of many kinds through
// the server by filter, paging forwards and backwards; the answers are
// what the filter's Holds picks from the fleet. A token confined to a
// tenant lists and counts that tenant alone.
func TestTenantListFiltered(t *testing.T) {
	env := newTestEnv(t)
	ctx := t.Context()
	var fleet []*stamp.Tenant
	for i := range 60 {
		tn := &stamp.Tenant{
			Name: fmt.Sprintf("k%02d", i),
			Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.1.0", Plan: []string{"starter", "business"}[i%2], Desired: stamp.DesiredRunning,
				Labels: map[string]string{"region": []string{"eu", "us", "ap"}[i%3]}},
			Status:     stamp.TenantStatus{Phase: []string{stamp.PhaseReady, stamp.PhaseFailed, stamp.PhaseSuspended, stamp.PhaseReady}[i%4], Version: "1.0.0"},
			Generation: 1,
		}
		if i%5 == 0 {
			tn.Status.Version = "1.1.0"
		}
		if err := env.store.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		fleet = append(fleet, tn)
	}
	filters := []stamp.TenantFilter{
		{},
		{Phase: stamp.PhaseFailed},
		{Version: "1.1.0", Label: "region=eu"},
		{Plan: "business", Name: "1"},
		{Label: "region"},
		{Label: "zone"},
	}
	for _, f := range filters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []string
			wantCounts := map[stamp.TenantCount]int{}
			for _, tn := range fleet {
				if f.Holds(tn) {
					want = append(want, tn.Name)
					wantCounts[stamp.TenantCount{Phase: tn.Status.Phase, Version: tn.CurrentVersion(), Plan: tn.Spec.Plan}]++
				}
			}
			// Forwards by next, checking that each page's prev leads
			// back to the page before it; then backwards by prev.
			var forwards, backwards, before []string
			for q := (TenantQuery{Limit: 7, Filter: f}); ; {
				page, err := env.client.ListTenantsPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if (page.Prev == "") != (before == nil) {
					t.Errorf("page after %q: prev %q, want one exactly when a page came before", q.After, page.Prev)
				}
				if page.Prev != "" {
					back, err := env.client.ListTenantsPage(ctx, TenantQuery{Before: page.Prev, Limit: 7, Filter: f})
					if err != nil || !slices.Equal(tenantNames(back.Tenants), before) || back.Next != q.After {
						t.Errorf("the page before the one after %q: %v, next %q, %v; want %q, next %q", q.After, tenantNames(back.Tenants), back.Next, err, before, q.After)
					}
				}
				before = tenantNames(page.Tenants)
				forwards = append(forwards, before...)
				if q.After = page.Next; q.After == "" {
					break
				}
			}
			for q := (TenantQuery{Before: tenantCursor("zzz"), Limit: 7, Filter: f}); ; {
				page, err := env.client.ListTenantsPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				backwards = append(tenantNames(page.Tenants), backwards...)
				if q.Before = page.Prev; q.Before == "" {
					break
				}
			}
			if !slices.Equal(forwards, want) || !slices.Equal(backwards, want) {
				t.Errorf("listed forwards %q and backwards %q, want %q", forwards, backwards, want)
			}
			counts, err := env.client.CountTenants(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got := map[stamp.TenantCount]int{}
			for _, g := range counts.Groups {
				n := g.N
				g.N = 0
				got[g] = n
			}
			if counts.Total != len(want) || !maps.Equal(got, wantCounts) {
				t.Errorf("counts: total %d, groups %v; want %d, %v", counts.Total, got, len(want), wantCounts)
			}
		})
	}

	made, err := env.client.CreateToken(ctx, CreateTokenRequest{Name: "support", Role: stamp.RoleViewer, Tenant: "k01"})
	if err != nil {
		t.Fatal(err)
	}
	own := NewClient(env.url, made.Secret)
	for _, tt := range []struct {
		f    stamp.TenantFilter
		want int
	}{{stamp.TenantFilter{}, 1}, {stamp.TenantFilter{Phase: stamp.PhaseFailed}, 1}, {stamp.TenantFilter{Phase: stamp.PhaseReady}, 0}} {
		counts, err := own.CountTenants(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		page, err := own.ListTenantsPage(ctx, TenantQuery{Filter: tt.f})
		if err != nil {
			t.Fatal(err)
		}
		if counts.Total != tt.want || len(page.Tenants) != tt.want {
			t.Errorf("tenant k01's token, filter %+v: counts %d and lists %q; want %d, k01 alone", tt.f, counts.Total, tenantNames(page.Tenants), tt.want)
		}
	}
}
