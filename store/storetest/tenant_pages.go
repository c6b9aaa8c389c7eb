package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stamphq/stamp"
)

// testTenantPages: pages in name order cover every tenant once, each as
// ListTenants has it; next names the last tenant of a page that has a
// successor and is empty on the last; the limit defaults to 100 and is
// lowered to 1000.
func testTenantPages(t *testing.T, s stamp.Store) {
	page, next := mustPage(t, s, stamp.TenantPage{})
	if len(page) != 0 || next != "" {
		t.Fatalf("first page of an empty store: got %d tenants, next %q; want none and no next", len(page), next)
	}
	// 103 tenants, created out of name order: one over the default page
	// and a short page after it.
	const n = 103
	for _, i := range rand.Perm(n) {
		tenantKind.mustCreate(t, s, newTenant(fmt.Sprintf("t%03d", i)))
	}
	all, err := s.ListTenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("ListTenants: got %d tenants, want %d", len(all), n)
	}

	for _, limit := range []int{1, 7, 0, 102, n, 5000} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			size := limit
			switch {
			case limit == 0:
				size = 100 // the default
			case limit > 1000:
				size = 1000 // the maximum
			}
			var got []*stamp.Tenant
			after := ""
			for {
				page, next := mustPage(t, s, stamp.TenantPage{After: after, Limit: limit})
				left := n - len(got)
				if want := min(size, left); len(page) != want {
					t.Fatalf("page after %q: got %d tenants, want %d", after, len(page), want)
				}
				got = append(got, page...)
				if len(got) == n {
					if next != "" {
						t.Fatalf("last page after %q: next %q, want none", after, next)
					}
					break
				}
				if want := page[len(page)-1].Name; next != want {
					t.Fatalf("page after %q: next %q, want its last tenant %q", after, next, want)
				}
				after = next
			}
			for i := range got {
				assertEqual(t, "paged tenant", normTenant(got[i]), normTenant(all[i]))
			}
		})
	}

	tests := []struct {
		after     string
		wantFirst string
		wantLen   int
	}{
		{"t049", "t050", 5},
		{"t049a", "t050", 5}, // a cursor need not name a stored tenant
		{"t100", "t101", 2},
		{"t102", "", 0}, // after the last tenant
		{"zzz", "", 0},
	}
	for _, tt := range tests {
		page, next := mustPage(t, s, stamp.TenantPage{After: tt.after, Limit: 5})
		if len(page) != tt.wantLen || len(page) > 0 && page[0].Name != tt.wantFirst {
			t.Errorf("page of 5 after %q: got %q; want %d from %q", tt.after, tenantNames(page), tt.wantLen, tt.wantFirst)
		}
		if tt.wantLen < 5 && next != "" {
			t.Errorf("page of 5 after %q ends the list, but next is %q", tt.after, next)
		}
	}

	_, _, err = s.ListTenantsPage(t.Context(), stamp.TenantPage{Limit: -1})
	assertError(t, err, stamp.EINVALID, "tenant limit -1 is negative")
}

// testTenantPagesWhileChanging: tenants created and deleted between pages
// neither make a page skip nor repeat a tenant that exists throughout; one
// created beyond the cursor is listed, one created behind it or deleted
// before it was reached is not.
func testTenantPagesWhileChanging(t *testing.T, s stamp.Store) {
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("m%02d", i))
	}
	for _, name := range names {
		tenantKind.mustCreate(t, s, newTenant(name))
	}
	created := map[string]bool{} // by whether beyond the cursor
	deleted := map[string]bool{} // by whether reached before
	seen := map[string]int{}
	after := ""
	for pages := 1; ; pages++ {
		page, next := mustPage(t, s, stamp.TenantPage{After: after, Limit: 3})
		for _, tn := range page {
			seen[tn.Name]++
		}
		if next == "" {
			break
		}
		if pages > 20 {
			t.Fatalf("still paging after %d pages of 3 over about 20 tenants: next %q", pages, next)
		}
		after = next
		// Between pages: a tenant behind the cursor and one beyond it
		// come; one not yet reached and one listed go.
		created["a"+after], created[after+"x"] = false, true
		tenantKind.mustCreate(t, s, newTenant("a"+after))
		tenantKind.mustCreate(t, s, newTenant(after+"x"))
		for _, name := range slices.Backward(names) {
			if _, gone := deleted[name]; name > after && !gone {
				mustDeleteTenant(t, s, name)
				deleted[name] = false
				break
			}
		}
		// Every other page, the tenant the cursor names is the one
		// listed that goes: a cursor need not name a stored tenant.
		listed := page[0].Name
		if pages%2 == 0 {
			listed = after
		}
		mustDeleteTenant(t, s, listed)
		deleted[listed] = true
	}

	for name, n := range seen {
		if n > 1 {
			t.Errorf("tenant %q listed %d times", name, n)
		}
	}
	for _, name := range names {
		if _, gone := deleted[name]; !gone && seen[name] != 1 {
			t.Errorf("tenant %q, stored throughout, listed %d times; want once", name, seen[name])
		}
	}
	for name, beyond := range created {
		if _, gone := deleted[name]; beyond && !gone && seen[name] != 1 {
			t.Errorf("tenant %q, created beyond the cursor, listed %d times; want once", name, seen[name])
		}
		if !beyond && seen[name] != 0 {
			t.Errorf("tenant %q, created behind the cursor, was listed", name)
		}
	}
	unreached := 0
	for name, reached := range deleted {
		if !reached {
			unreached++
			if seen[name] != 0 {
				t.Errorf("tenant %q, deleted before its page, was listed", name)
			}
		}
	}
	if unreached < 3 {
		t.Errorf("only %d tenants were deleted before their page; the test means to delete one per page", unreached)
	}
}

func mustDeleteTenant(t *testing.T, s stamp.Store, name string) {
	t.Helper()
	tn := tenantKind.mustGet(t, s, name)
	if err := s.DeleteTenant(t.Context(), name, tn.ResourceVersion); err != nil {
		t.Fatalf("DeleteTenant %q: %v", name, err)
	}
}

func mustPage(t *testing.T, s stamp.Store, p stamp.TenantPage) ([]*stamp.Tenant, string) {
	t.Helper()
	page, next, err := s.ListTenantsPage(t.Context(), p)
	if err != nil {
		t.Fatalf("ListTenantsPage(%+v): %v", p, err)
	}
	return page, next
}

func tenantNames(ts []*stamp.Tenant) []string {
	names := make([]string, len(ts))
	for i, tn := range ts {
		names[i] = tn.Name
	}
	return names
}
