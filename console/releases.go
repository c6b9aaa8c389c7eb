package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/stamphq/stamp"
)

type releasesView struct {
	page
	Releases []*stamp.Release
}

// releases lists the releases, newest first.
func (c *Console) releases(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := s.api.Releases(r.Context())
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	slices.Reverse(list) // the API lists oldest first
	c.render(w, http.StatusOK, "releases.html", releasesView{page: s.page("Releases", r), Releases: list})
}

// wave is one wave of a release as its page draws it.
type wave struct {
	Name                      string
	Total, Upgraded, Failed   int
	Skipped, Percent, Pending int
	Current                   bool
}

type releaseView struct {
	page
	R     *stamp.Release
	Waves []wave
	Gates []*stamp.Event // the gates' results, newest first
}

// release shows one release: its waves as progress bars, each tenant's
// part, the gates' results and the controls.
func (c *Console) release(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, id := r.Context(), r.PathValue("id")
	rel, err := s.api.Release(ctx, id)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	v := releaseView{page: s.page("Release "+rel.ID, r), R: rel, Waves: waves(rel)}
	events, err := s.api.Events(ctx, stamp.EventFilter{Release: id, Limit: 1000})
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	for _, e := range slices.Backward(events) {
		if e.Type == stamp.EventReleaseGate {
			v.Gates = append(v.Gates, e)
		}
	}
	c.render(w, http.StatusOK, "release.html", v)
}

// waves sums up each wave of rel from its tenants.
func waves(rel *stamp.Release) []wave {
	out := make([]wave, len(rel.Spec.Waves))
	for i, sw := range rel.Spec.Waves {
		out[i].Name = waveName(sw)
		out[i].Current = i == rel.Status.Wave && !rel.Finished()
	}
	for _, t := range rel.Status.Tenants {
		if t.Wave < 0 || t.Wave >= len(out) {
			continue
		}
		wv := &out[t.Wave]
		wv.Total++
		switch t.State {
		case stamp.ReleaseTenantUpgraded:
			wv.Upgraded++
		case stamp.ReleaseTenantFailed:
			wv.Failed++
		case stamp.ReleaseTenantSkipped:
			wv.Skipped++
		default:
			wv.Pending++
		}
	}
	for i := range out {
		if out[i].Total > 0 {
			out[i].Percent = 100 * (out[i].Upgraded + out[i].Failed + out[i].Skipped) / out[i].Total
		}
	}
	return out
}

// waveName says what a wave picks.
func waveName(w stamp.Wave) string {
	switch {
	case w.Count == 1:
		return "1 tenant"
	case w.Count > 0:
		return strconv.Itoa(w.Count) + " tenants"
	case w.Percent > 0:
		return strconv.FormatFloat(w.Percent, 'f', -1, 64) + "% of the fleet"
	case len(w.Tenants) > 0:
		return fmt.Sprintf("%d named tenants", len(w.Tenants))
	default:
		return fmt.Sprintf("tenants labelled %v", w.Selector)
	}
}

// releaseAction pauses, resumes or aborts a release through the API.
func (c *Console) releaseAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	back := Prefix + "releases/" + url.PathEscape(id)
	if !slices.Contains([]string{"pause", "resume", "abort"}, action) {
		c.failed(w, r, s, stamp.Errorf(stamp.ENOTFOUND, "the console has no release action %q", action))
		return
	}
	_, err := s.api.ControlRelease(r.Context(), id, action)
	backTo(w, r, back, "Asked the release to "+action+".", err)
}
