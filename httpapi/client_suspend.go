package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stamphq/stamp"
)

// SuspendTenant asks for tenant name to be suspended (see
// handleTenantSuspend), past the guard against mass suspension with
// confirmMany; suspend false resumes it instead.
func (c *Client) SuspendTenant(ctx context.Context, name string, suspend, confirmMany bool) (*stamp.Tenant, error) {
	action := "/resume"
	if suspend {
		action = "/suspend"
		if confirmMany {
			action += "?" + confirmParam + "=many"
		}
	}
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+action, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}
