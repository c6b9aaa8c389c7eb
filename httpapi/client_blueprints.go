package httpapi

import (
	"context"
	"net/http"
	"net/url"
)

// YankBundle withdraws name@version: no new tenant, upgrade or release
// takes it. reason may be empty. The result lists the tenants still on it.
func (c *Client) YankBundle(ctx context.Context, name, version, reason string) (*YankResult, error) {
	out := new(YankResult)
	if err := c.do(ctx, http.MethodPost, yankPath(name, version), YankRequest{Reason: reason}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UnyankBundle takes a yank of name@version back.
func (c *Client) UnyankBundle(ctx context.Context, name, version string) (*YankResult, error) {
	out := new(YankResult)
	if err := c.do(ctx, http.MethodDelete, yankPath(name, version), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

func yankPath(name, version string) string {
	return "/v1/blueprints/" + url.PathEscape(name) + "/" + url.PathEscape(version) + "/yank"
}
