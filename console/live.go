package console

import (
	"net/http"
	"net/url"
)

// live streams the API's events to the page as server-sent events: the
// fleet's, or with ?tenant= one tenant's. It is the API's own stream
// (GET /v1/events?follow=1), served through the session: the browser's
// Last-Event-ID takes a dropped stream up where it stopped.
func (c *Console) live(w http.ResponseWriter, r *http.Request, s *session) {
	path := "/v1/events"
	if t := r.URL.Query().Get("tenant"); t != "" {
		path = "/v1/tenants/" + url.PathEscape(t) + "/events"
	}
	api := r.Clone(r.Context())
	api.URL = &url.URL{Path: path, RawQuery: "follow=1"}
	api.RequestURI = api.URL.RequestURI()
	api.Header.Del("Cookie")
	api.Header.Set("Authorization", "Bearer "+s.token)
	c.api.ServeHTTP(w, api)
}
