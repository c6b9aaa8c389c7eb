package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/httpapi"
)

// timelineLength is how many of a tenant's newest events its page shows.
const timelineLength = 200

type tenantView struct {
	page
	T         *stamp.Tenant
	Services  []string // each service's health and instances
	Events    []*stamp.Event
	LastSeq   int64 // the newest event's, for the live updates
	Incidents []*stamp.Incident
	Backups   []stamp.Backup
	Versions  []string // the blueprint's versions it may move to
}

// tenant shows one tenant: its address, services, timeline, incidents,
// backups and actions.
func (c *Console) tenant(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name := r.Context(), r.PathValue("name")
	t, err := s.api.GetTenant(ctx, name)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	v := tenantView{page: s.page(t.Name, r), T: t}
	if t.Health != nil {
		for svc, state := range t.Health.Services {
			line := svc + ": " + state
			if n, ok := t.Health.Instances[svc]; ok {
				line += fmt.Sprintf(", %d of %d instances running, %d restarts", n.Running, n.Replicas, n.Restarts)
			}
			v.Services = append(v.Services, line)
		}
		slices.Sort(v.Services)
	}
	if v.Events, err = c.timeline(r, s, name); err != nil {
		c.failed(w, r, s, err)
		return
	}
	if n := len(v.Events); n > 0 {
		v.LastSeq = v.Events[0].Seq
	}
	if v.Incidents, err = s.api.Incidents(ctx, stamp.IncidentFilter{Tenant: name, Limit: 20}); err != nil && stamp.ErrorCode(err) != stamp.EFORBIDDEN {
		c.log.Warn("console: list incidents", "tenant", name, "err", err)
	}
	if v.Backups, err = s.api.ListBackups(ctx, name); err != nil && stamp.ErrorCode(err) != stamp.EUNAVAILABLE {
		c.log.Warn("console: list backups", "tenant", name, "err", err)
	}
	if s.whoami.CanOperate() {
		v.Versions = c.versions(r, s, t)
	}
	c.render(w, http.StatusOK, "tenant.html", v)
}

// timeline returns the tenant's newest events, newest first.
func (c *Console) timeline(r *http.Request, s *session, name string) ([]*stamp.Event, error) {
	var all []*stamp.Event
	var after int64
	for {
		page, err := s.api.TenantEvents(r.Context(), name, after, 1000)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(all) > timelineLength {
			all = all[len(all)-timelineLength:]
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Seq
	}
	slices.Reverse(all)
	return all, nil
}

// versions lists the versions of t's blueprint other than its own,
// newest first, leaving out yanked ones.
func (c *Console) versions(r *http.Request, s *session, t *stamp.Tenant) []string {
	bundles, err := s.api.ListBundles(r.Context())
	if err != nil {
		c.log.Warn("console: list blueprints", "err", err)
		return nil
	}
	var out []string
	for _, b := range bundles {
		if b.Name == t.Spec.Blueprint && b.Version != t.Spec.Version && !b.Yanked {
			out = append(out, b.Version)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return blueprint.CompareVersions(b, a) })
	return out
}

// tenantAction does what a tenant page's button asks through the API,
// then shows the tenant (or the fleet, after a delete) saying what was
// done or why not.
func (c *Console) tenantAction(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name := r.Context(), r.PathValue("name")
	back := Prefix + "tenants/" + url.PathEscape(name)
	var done string
	var err error
	switch r.PathValue("action") {
	case "suspend":
		_, err = s.api.SuspendTenant(ctx, name, true, false)
		done = "Suspended: its address answers 503 until it is resumed."
	case "resume":
		_, err = s.api.SuspendTenant(ctx, name, false, false)
		done = "Resuming: it serves again once its services are healthy."
	case "backup":
		var b *stamp.Backup
		if b, err = s.api.BackupTenant(ctx, name, httpapi.BackupRequest{}); err == nil {
			done = "Backed up as " + b.ID + "."
		}
	case "upgrade":
		version := r.PostFormValue("version")
		_, err = s.api.UpgradeTenant(ctx, name, version)
		done = "Upgrading to " + version + "."
	case "delete":
		if r.PostFormValue("confirm") != name {
			err = stamp.Errorf(stamp.EINVALID, "type the tenant's name, %s, to delete it", name)
			break
		}
		if _, err = s.api.DeleteTenant(ctx, name, httpapi.DeleteOptions{}); err == nil {
			backTo(w, r, Prefix, "Deleted "+name+".", nil)
			return
		}
	default:
		c.failed(w, r, s, stamp.Errorf(stamp.ENOTFOUND, "the console has no action %q", r.PathValue("action")))
		return
	}
	backTo(w, r, back, done, err)
}
