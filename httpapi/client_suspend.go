package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stamphq/stamp"
)

// SuspendTenant asks for tenant name to be suspended (see
// handleTenantSuspend); resume false resumes it instead.
func (c *Client) SuspendTenant(ctx context.Context, name string, suspend bool) (*stamp.Tenant, error) {
	action := "/resume"
	if suspend {
		action = "/suspend"
	}
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+action, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}
