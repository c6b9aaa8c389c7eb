package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stamphq/stamp"
)

// CreateToken makes an API token; the answer holds its secret, which no
// later call shows.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (*CreatedToken, error) {
	out := new(CreatedToken)
	if err := c.do(ctx, http.MethodPost, "/v1/tokens", req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Tokens lists every API token, revoked ones included.
func (c *Client) Tokens(ctx context.Context) ([]*stamp.Token, error) {
	var out tokenList
	if err := c.do(ctx, http.MethodGet, "/v1/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes the token ref names (its name or ID).
func (c *Client) RevokeToken(ctx context.Context, ref string) (*stamp.Token, error) {
	out := new(stamp.Token)
	if err := c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(ref), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// WhoAmI returns the client's own token (its secret and hash aside).
func (c *Client) WhoAmI(ctx context.Context) (*stamp.Token, error) {
	out := new(stamp.Token)
	if err := c.do(ctx, http.MethodGet, "/v1/whoami", nil, out); err != nil {
		return nil, err
	}
	return out, nil
}
