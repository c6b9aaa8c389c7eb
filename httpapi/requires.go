package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// BuildDurationHeader carries, on a push, how long the blueprint's build
// took where it ran (the CLI runs it before packing), as a Go duration
// ("3.2s"); the push is then recorded with a blueprint.built event.
const BuildDurationHeader = "Stamp-Build-Duration"

// PushedBundle is the answer to a push: the bundle, and what its
// blueprint requires that this host does not provide.
type PushedBundle struct {
	stamp.Bundle
	// Missing says what the host lacks, as a tenant create of the
	// version would be told; empty when it provides every requirement.
	Missing string `json:"missing,omitempty"`
	// Notes say what of the blueprint this server cannot do as written
	// (a declared port on a shared network).
	Notes []string `json:"notes,omitempty"`
}

// buildDuration reads BuildDurationHeader; 0 when absent.
func buildDuration(r *http.Request) (time.Duration, error) {
	v := r.Header.Get(BuildDurationHeader)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, stamp.Errorf(stamp.EINVALID, "header %s: %q is not a duration such as 3.2s", BuildDurationHeader, v)
	}
	return d, nil
}

// requirementsMet refuses a blueprint version whose requirements this
// host does not provide, with the check's own message.
func (c *blueprintCache) requirementsMet(ctx context.Context, b *stamp.Bundle, bp *blueprint.Blueprint) error {
	if c.requirements == nil || len(bp.Requires) == 0 {
		return nil
	}
	return c.requirements(ctx, b.Ref(), bp.Requires)
}

// missing is requirementsMet's message, for a push's answer.
func (c *blueprintCache) missing(ctx context.Context, b *stamp.Bundle, bp *blueprint.Blueprint) string {
	if err := c.requirementsMet(ctx, b, bp); err != nil {
		return stamp.ErrorMessage(err)
	}
	return ""
}
