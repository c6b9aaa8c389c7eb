package console

import (
	"net/http"
	"net/url"

	"github.com/stamphq/stamp"
)

type incidentsView struct {
	page
	Open, Recent []*stamp.Incident
}

// incidents lists the open incidents, then the newest resolved ones.
func (c *Console) incidents(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := s.api.Incidents(r.Context(), stamp.IncidentFilter{Limit: 200})
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	v := incidentsView{page: s.page("Incidents", r)}
	for _, inc := range list {
		if inc.State == stamp.IncidentResolved {
			v.Recent = append(v.Recent, inc)
		} else {
			v.Open = append(v.Open, inc)
		}
	}
	c.render(w, http.StatusOK, "incidents.html", v)
}

type incidentView struct {
	page
	I *stamp.Incident
}

// incident shows one incident with its timeline.
func (c *Console) incident(w http.ResponseWriter, r *http.Request, s *session) {
	inc, err := s.api.Incident(r.Context(), r.PathValue("id"))
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	v := incidentView{page: s.page("Incident "+inc.ID, r), I: inc}
	c.render(w, http.StatusOK, "incident.html", v)
}

// incidentAction acknowledges or resolves an incident through the API.
func (c *Console) incidentAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	back := Prefix + "incidents/" + url.PathEscape(id)
	if action != "ack" && action != "resolve" {
		c.failed(w, r, s, stamp.Errorf(stamp.ENOTFOUND, "the console has no incident action %q", action))
		return
	}
	_, err := s.api.IncidentAction(r.Context(), id, action)
	backTo(w, r, back, map[string]string{"ack": "Acknowledged.", "resolve": "Resolved."}[action], err)
}
