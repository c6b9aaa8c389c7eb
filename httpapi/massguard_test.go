package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestMassChangeGuard: past the limit of deletes and suspensions in the
// window, one more goes ahead only within the fleet share, or with
// ?confirm=many; refused calls do not count.
func TestMassChangeGuard(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MassChangeLimit, c.MassChangeShare = 3, 0.5 })
	env.pushLedgers(t)
	for i := range 10 {
		env.createTenant(t, CreateTenantRequest{Name: fmt.Sprintf("t%d", i), Blueprint: "ledger", Version: "1.0.0"})
	}
	if code, _, _ := env.call(t, "DELETE", "/v1/tenants/nobody", ""); code != http.StatusNotFound {
		t.Fatalf("delete of a tenant that does not exist: %d", code)
	}
	for i, call := range []string{"DELETE /v1/tenants/t0", "POST /v1/tenants/t1/suspend", "DELETE /v1/tenants/t2",
		"DELETE /v1/tenants/t3", "POST /v1/tenants/t4/suspend"} { // 5: half the fleet of 10
		method, path, _ := strings.Cut(call, " ")
		if code, e, _ := env.call(t, method, path, ""); code != http.StatusAccepted {
			t.Fatalf("call %d, %s: %d %s", i+1, call, code, e.Message)
		}
	}
	code, e, _ := env.call(t, "DELETE", "/v1/tenants/t5", "")
	if code != http.StatusConflict || !strings.Contains(e.Message, "5 tenants were deleted or suspended in the last 10m0s, of 10: one more needs confirmation") {
		t.Errorf("a sixth delete: %d %s", code, e.Message)
	}
	if code, e, _ := env.call(t, "POST", "/v1/tenants/t5/suspend", ""); code != http.StatusConflict {
		t.Errorf("a sixth change, a suspension: %d %s", code, e.Message)
	}
	if tn, err := env.store.GetTenant(t.Context(), "t5"); err != nil || tn.Spec.Desired != "running" {
		t.Errorf("t5 after the refusals: %+v %v", tn, err)
	}
	if code, e, _ := env.call(t, "DELETE", "/v1/tenants/t5?confirm=many", ""); code != http.StatusAccepted {
		t.Errorf("a confirmed delete: %d %s", code, e.Message)
	}
	if code, e, _ := env.call(t, "POST", "/v1/tenants/t1/resume", ""); code != http.StatusAccepted {
		t.Errorf("a resume is no mass change: %d %s", code, e.Message)
	}
}
