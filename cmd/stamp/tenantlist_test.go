package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	sqlitestore "github.com/stamphq/stamp/store/sqlite"
)

// storeOf opens the store of the server s, beside the server.
func storeOf(t *testing.T, s *stampServer) stamp.Store {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(s.data, "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestTenantListPages lists tenants with the CLI: all of them, and a page
// at a time by the cursor each page prints, while tenants come and go.
// The tenants are written straight to the server's store, failed at
// their generation, which the reconciler leaves alone: the listing is
// under test, not stamping them out.
func TestTenantListPages(t *testing.T) {
	s := startStampServer(t)
	st := storeOf(t, s)
	var names []string
	for i := range 25 {
		name := fmt.Sprintf("t%02d", i)
		names = append(names, name)
		tn := &stamp.Tenant{
			Name:       name,
			Spec:       stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning},
			Status:     stamp.TenantStatus{Phase: stamp.PhaseFailed, ObservedGeneration: 1},
			Generation: 1,
		}
		if err := st.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
	}

	if got := tableNames(t, s.mustCLI("tenant", "list")); !slices.Equal(got, names) {
		t.Errorf("tenant list: got %q, want %q", got, names)
	}
	var all []stamp.Tenant
	if err := json.Unmarshal([]byte(s.mustCLI("tenant", "list", "-o", "json")), &all); err != nil || len(all) != len(names) {
		t.Errorf("tenant list -o json: %d tenants (%v), want %d", len(all), err, len(names))
	}
	if y := s.mustCLI("tenant", "list", "-o", "yaml"); strings.Count(y, "\n- ") != len(names)-1 || !strings.Contains(y, "name: t24") {
		t.Errorf("tenant list -o yaml: want %d entries, t24 among them:\n%s", len(names), y)
	}

	// The first page, and the command for the next on stderr.
	out, errOut, code := s.cli("tenant", "list", "--limit", "10")
	if code != 0 {
		t.Fatalf("tenant list --limit 10: exit %d: %s", code, errOut)
	}
	if got := tableNames(t, out); !slices.Equal(got, names[:10]) {
		t.Errorf("tenant list --limit 10: got %q, want %q", got, names[:10])
	}
	m := regexp.MustCompile(`^next page: stamp tenant list --limit 10 --after (\S+)\n$`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("tenant list --limit 10: stderr %q, want the command for the next page", errOut)
	}
	// Between pages, one tenant comes behind the cursor and one beyond
	// it, and one not yet listed goes.
	for _, name := range []string{"t05a", "t15a"} {
		if err := st.CreateTenant(t.Context(), &stamp.Tenant{Name: name, Status: stamp.TenantStatus{Phase: stamp.PhaseFailed}}); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := st.GetTenant(t.Context(), "t12")
	if err == nil {
		err = st.DeleteTenant(t.Context(), "t12", gone.ResourceVersion)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = s.cli("tenant", "list", "--limit", "10", "--after", m[1])
	want := []string{"t10", "t11", "t13", "t14", "t15", "t15a", "t16", "t17", "t18", "t19"}
	if got := tableNames(t, out); code != 0 || !slices.Equal(got, want) {
		t.Errorf("the second page: exit %d, got %q, want %q (stderr %q)", code, got, want, errOut)
	}
	m = regexp.MustCompile(`--after (\S+)\n$`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("the second page: stderr %q, want the command for the next page", errOut)
	}

	// A filtered page, and the command for the next keeps the filter.
	out, errOut, code = s.cli("tenant", "list", "--phase", "failed", "--name", "t1", "--limit", "3")
	if got := tableNames(t, out); code != 0 || !slices.Equal(got, []string{"t10", "t11", "t13"}) {
		t.Errorf("a filtered page: exit %d, got %q (stderr %q)", code, got, errOut)
	}
	filtered := regexp.MustCompile(`^next page: stamp tenant list --limit 3 --phase failed --name t1 --after (\S+)\n$`).FindStringSubmatch(errOut)
	if filtered == nil {
		t.Fatalf("a filtered page: stderr %q, want the command for the next page, filter kept", errOut)
	}
	out, errOut, code = s.cli("tenant", "list", "--phase", "failed", "--name", "t1", "--limit", "3", "--after", filtered[1])
	if got := tableNames(t, out); code != 0 || !slices.Equal(got, []string{"t14", "t15", "t15a"}) {
		t.Errorf("the filtered page after: exit %d, got %q (stderr %q)", code, got, errOut)
	}
	if got := tableNames(t, s.mustCLI("tenant", "list", "--phase", "ready")); len(got) != 0 {
		t.Errorf("tenant list --phase ready: got %q, want none", got)
	}

	// The last page, as JSON: the page and an empty next; nothing on stderr.
	out, errOut, code = s.cli("tenant", "list", "--after", m[1], "-o", "json")
	var last httpapi.TenantList
	if err := json.Unmarshal([]byte(out), &last); code != 0 || err != nil {
		t.Fatalf("the last page -o json: exit %d, %v: %s%s", code, err, out, errOut)
	}
	if got := tenantNamesOf(last.Tenants); !slices.Equal(got, names[20:]) || last.Next != "" || errOut != "" {
		t.Errorf("the last page: got %q, next %q, stderr %q; want %q, no next, no stderr", got, last.Next, errOut, names[20:])
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--limit", "0"}, "--limit 0: want 1 to 1000"},
		{[]string{"--limit", "1001"}, "--limit 1001: want 1 to 1000"},
		{[]string{"--after", "t10"}, `query parameter after="t10" is not a page cursor: it holds no tenant name`},
		{[]string{"--phase", "reddy"}, `query parameter phase="reddy" is not a phase`},
		{[]string{"--pooled", "--phase", "failed"}, "--pooled lists every stamp of the pool: drop the filter"},
	} {
		_, errOut, code := s.cli(append([]string{"tenant", "list"}, tt.args...)...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("tenant list %s: exit %d, stderr %q; want a failure saying %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
}

// tableNames returns the first column of a table's rows, below its header.
func tableNames(t *testing.T, table string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("table without a header:\n%s", table)
	}
	var names []string
	for _, l := range lines[1:] {
		names = append(names, strings.Fields(l)[0])
	}
	return names
}

func tenantNamesOf(ts []*stamp.Tenant) []string {
	names := make([]string, len(ts))
	for i, tn := range ts {
		names[i] = tn.Name
	}
	return names
}
