package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFailedUpgradeKeepsTheOldVersionsWrites upgrades a tenant to a
// version with no migrate hook whose health check fails, while customers
// are written through the router: the old version serves throughout, so
// every write it answered 201 is still there after the move is undone
// (restoring the snapshot, as the rollback once did, threw them away).
func TestFailedUpgradeKeepsTheOldVersionsWrites(t *testing.T) {
	s := startStampServer(t, "--health-timeout", "3s")
	s.mustCLI("blueprint", "push", blueprintDir(t, "version: 2.0.0", "version: 1.0.0"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger@1.0.0")
	broken := blueprintDir(t, "http: /healthz", "http: /nope", "hooks:\n  migrate: [bin/ledger, migrate]\n", "hooks:\n")
	s.mustCLI("blueprint", "push", broken)

	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ { // bounded: the move takes a few seconds
			select {
			case <-stop:
				return
			default:
			}
			body := fmt.Sprintf(`{"name":"c%d","email":"c%d@acme.test"}`, i, i)
			if code, _ := s.do("POST", "acme", "/api/customers", body); code == http.StatusCreated {
				written.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	_, errOut, code := s.cli("tenant", "upgrade", "acme", "--to", "2.0.0")
	close(stop)
	wg.Wait()
	if code == 0 || !strings.Contains(errOut, "health") {
		t.Fatalf("upgrade to a version that never turns healthy: exit %d, stderr:\n%s", code, errOut)
	}
	if written.Load() == 0 {
		t.Fatal("no write was answered during the upgrade; the test proves nothing")
	}
	waitFor(t, "acme to serve 1.0.0 again", 10*time.Second, func() bool {
		out, _, _ := s.cli("tenant", "get", "acme", "-o", "json")
		return strings.Contains(out, `"phase": "ready"`) && strings.Contains(out, `"result": "rolled-back"`)
	})
	if got := s.count("acme", "/api/customers"); int64(got) < written.Load() {
		t.Errorf("after the rollback acme has %d customers; the old version answered %d writes with 201 during the move", got, written.Load())
	}
}
