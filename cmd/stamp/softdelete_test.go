package main

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestSoftDeleteUndelete: a deleted tenant is stopped and, to its
// customers, gone, but kept: undelete brings it back with its data. Past
// the grace period it is purged: no process, file or route is left.
func TestSoftDeleteUndelete(t *testing.T) {
	s := startStampServer(t, "--delete-grace", "4s")
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	if code, body := s.do("POST", "acme", "/api/customers", `{"name":"Wile E.","email":"wile@acme.test"}`); code != http.StatusCreated {
		t.Fatalf("POST customer: %d %s", code, body)
	}
	dir := filepath.Join(s.data, "local", "tenants", "acme")

	if out := s.mustCLI("tenant", "delete", "acme"); !strings.Contains(out, "tenant acme deleted: stopped and kept until") {
		t.Errorf("delete output:\n%s", out)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes of the deleted tenant: %v", procs)
	}
	if code, body := s.do("GET", "acme", "/api/customers", ""); code != http.StatusNotFound || !strings.Contains(body, `tenant \"acme\" does not exist`) {
		t.Errorf("the router, for a deleted tenant: %d %s", code, body)
	}
	if _, errOut, code := s.cli("tenant", "set", "acme", "--param", "currency=USD"); code == 0 || !strings.Contains(errOut, "is deleted; undelete it first") {
		t.Errorf("a change of a deleted tenant: exit %d, %s", code, errOut)
	}
	if out := s.mustCLI("tenant", "undelete", "acme"); !strings.Contains(out, "ready: ") {
		t.Errorf("undelete output:\n%s", out)
	}
	if code, body := s.do("GET", "acme", "/api/customers", ""); code != http.StatusOK || !strings.Contains(body, "Wile E.") {
		t.Errorf("customers after undelete: %d %s", code, body)
	}
	if _, errOut, code := s.cli("tenant", "undelete", "acme"); code == 0 || !strings.Contains(errOut, `tenant "acme" is not deleted`) {
		t.Errorf("undelete of a tenant not deleted: exit %d, %s", code, errOut)
	}

	// Past the grace period, purged with nothing left.
	s.mustCLI("tenant", "delete", "acme")
	waitFor(t, "acme purged", time.Minute, func() bool {
		_, err := s.client().GetTenant(context.Background(), "acme")
		return stamp.ErrorCode(err) == stamp.ENOTFOUND
	})
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the purged tenant's files: %v", err)
	}
	events := s.mustCLI("events", "--tenant", "acme")
	for _, want := range []string{"tenant.soft-deleted", "tenant.undeleted", "purged: deleted since its grace period ended", "tenant.deleted"} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %q:\n%s", want, events)
		}
	}

	// --purge skips the grace period.
	s.mustCLI("tenant", "create", "globex", "--blueprint", "ledger")
	if out := s.mustCLI("tenant", "delete", "globex", "--purge"); !strings.Contains(out, "tenant globex deleted\n") {
		t.Errorf("delete --purge output:\n%s", out)
	}
}
