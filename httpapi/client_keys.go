package httpapi

import (
	"context"
	"net/http"

	"github.com/stamphq/stamp"
)

// RotateKeys has the server seal every secret anew under a new master
// key and says what it did.
func (c *Client) RotateKeys(ctx context.Context) (*stamp.KeyRotation, error) {
	out := new(stamp.KeyRotation)
	if err := c.do(ctx, http.MethodPost, "/v1/keys/rotate", nil, out); err != nil {
		return nil, err
	}
	return out, nil
}
