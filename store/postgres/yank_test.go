package postgres

import (
	"slices"
	"testing"

	"github.com/stamphq/stamp"
)

// undoBundleYanks undoes migration 6.
var undoBundleYanks = []string{`DROP TABLE bundle_yanks`}

// TestMigrateBundleYanks takes a database with a pushed bundle back to
// the schema before yanks (migration 6) and reopens it: the bundle is
// there, not yanked, and can be yanked.
func TestMigrateBundleYanks(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	b := &stamp.Bundle{Name: "ledger", Version: "1.0.0", Digest: "sha256:1", Size: 3, Content: []byte("one")}
	if err := s.CreateBundle(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 6, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, db)
	if got, err := s.GetBundle(t.Context(), "ledger", "1.0.0"); err != nil || got.Yanked || got.Digest != b.Digest {
		t.Fatalf("bundle after migrating: %+v, %v; want it as pushed, not yanked", got, err)
	}
	if got, changed, err := s.SetYanked(t.Context(), "ledger", "1.0.0", true, "bad"); err != nil || !changed || !got.Yanked {
		t.Errorf("yank after migrating: %+v, %v, %v", got, changed, err)
	}
}
