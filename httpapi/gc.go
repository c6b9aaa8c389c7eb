package httpapi

import (
	"context"
	"net/http"

	"github.com/stamphq/stamp"
)

// handleGC runs the garbage collector (reconcile.Reconciler.
// CollectGarbage): ?dry-run=true only reports, ?force=true removes past
// the bound that protects a store that lost its tenants.
func handleGC(gc func(ctx context.Context, dryRun, force bool) (*stamp.GCReport, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gc == nil {
			writeError(w, r, stamp.Errorf(stamp.EUNAVAILABLE, "this server has no garbage collector"))
			return
		}
		q := r.URL.Query()
		report, err := gc(r.Context(), q.Get("dry-run") == "true", q.Get("force") == "true")
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, report)
	})
}

// CollectGarbage runs the server's garbage collector (see handleGC).
func (c *Client) CollectGarbage(ctx context.Context, dryRun, force bool) (*stamp.GCReport, error) {
	path := "/v1/gc?dry-run=false"
	if dryRun {
		path = "/v1/gc?dry-run=true"
	}
	if force {
		path += "&force=true"
	}
	out := new(stamp.GCReport)
	if err := c.do(ctx, http.MethodPost, path, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}
