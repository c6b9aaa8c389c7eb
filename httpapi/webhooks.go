package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/stamphq/stamp"
)

// CreateWebhookRequest is the body of POST /v1/webhooks.
type CreateWebhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

type webhookList struct {
	Webhooks []*stamp.Webhook `json:"webhooks"`
}

type attemptList struct {
	Attempts []*stamp.DeliveryAttempt `json:"attempts"`
}

// handleWebhookCreate subscribes URL to the events matching the patterns,
// from now on. The answer is the only one to show the secret.
func handleWebhookCreate(st Store, clock stamp.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[CreateWebhookRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := validateWebhook(req); err != nil {
			writeError(w, r, err)
			return
		}
		last, err := st.LastEventSeq(r.Context())
		if err != nil {
			writeError(w, r, fmt.Errorf("read the event log position: %w", err))
			return
		}
		lastAudit, err := st.LastAuditSeq(r.Context())
		if err != nil {
			writeError(w, r, fmt.Errorf("read the audit log position: %w", err))
			return
		}
		hook := &stamp.Webhook{ID: "wh-" + randomHex(4), URL: req.URL, Events: req.Events, Secret: randomHex(32), Delivered: last, AuditDelivered: lastAudit}
		if err := st.CreateWebhook(r.Context(), hook); err != nil {
			writeError(w, r, fmt.Errorf("create webhook: %w", err))
			return
		}
		encode(w, r, http.StatusCreated, hook)
	})
}

// validateWebhook checks the URL (absolute http or https) and the event
// patterns (path.Match syntax over event types).
func validateWebhook(req CreateWebhookRequest) error {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return stamp.Errorf(stamp.EINVALID, "url %s: want an absolute http or https URL (the URL is not repeated here: it may hold a secret)", stamp.RedactURL(req.URL))
	}
	if len(req.URL) > 2048 {
		return stamp.Errorf(stamp.EINVALID, "url is %d characters long; at most 2048 are allowed", len(req.URL))
	}
	if len(req.Events) == 0 || len(req.Events) > 32 {
		return stamp.Errorf(stamp.EINVALID, "events: give 1 to 32 patterns such as incident.* or tenant.ready, not %d", len(req.Events))
	}
	for _, p := range req.Events {
		if _, err := path.Match(p, ""); err != nil || p == "" || strings.ContainsAny(p, "/ ") {
			return stamp.Errorf(stamp.EINVALID, "event pattern %q is not valid; use a type such as tenant.ready, * for any part, e.g. incident.*", p)
		}
		// A pattern that matches no type (a typo: tenant.redy) would
		// deliver nothing, silently.
		if !slices.ContainsFunc(stamp.EventTypes, func(t string) bool { ok, _ := path.Match(p, t); return ok }) {
			return stamp.Errorf(stamp.EINVALID, "event pattern %q matches no event type; the types are %s", p, strings.Join(stamp.EventTypes, ", "))
		}
	}
	return nil
}

// handleWebhookList lists the webhooks without their secrets, their URLs
// redacted (stamp.RedactURL): only the answer to create shows them whole.
func handleWebhookList(st stamp.WebhookStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks, err := st.ListWebhooks(r.Context())
		if err != nil {
			writeError(w, r, fmt.Errorf("list webhooks: %w", err))
			return
		}
		for _, h := range hooks {
			hideSecrets(h)
		}
		encode(w, r, http.StatusOK, webhookList{Webhooks: nonNil(hooks)})
	})
}

// handleWebhookGet returns one webhook without its secret, its URL
// redacted.
func handleWebhookGet(st stamp.WebhookStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook, err := getWebhook(r, st)
		if err != nil {
			writeError(w, r, err)
			return
		}
		hideSecrets(hook)
		encode(w, r, http.StatusOK, hook)
	})
}

// hideSecrets clears h's secret and redacts its URL (stamp.RedactURL),
// also in its last error, which a server before the redaction recorded
// with the whole URL.
func hideSecrets(h *stamp.Webhook) {
	h.LastError = redactIn(h.LastError, h.URL)
	h.Secret, h.URL = "", stamp.RedactURL(h.URL)
}

// redactIn replaces rawURL in text with its redacted form.
func redactIn(text, rawURL string) string {
	return strings.ReplaceAll(text, rawURL, stamp.RedactURL(rawURL))
}

func getWebhook(r *http.Request, st stamp.WebhookStore) (*stamp.Webhook, error) {
	id := r.PathValue("id")
	hook, err := st.GetWebhook(r.Context(), id)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "webhook %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get webhook %s: %w", id, err)
	}
	return hook, nil
}

// handleWebhookDelete unsubscribes; what was not delivered yet never is.
func handleWebhookDelete(st stamp.WebhookStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		err := st.DeleteWebhook(r.Context(), id)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			err = stamp.Errorf(stamp.ENOTFOUND, "webhook %q does not exist", id)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleWebhookAttempts lists a webhook's delivery attempts, newest first
// (?limit=, default 100).
func handleWebhookAttempts(st stamp.WebhookStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook, err := getWebhook(r, st)
		if err != nil {
			writeError(w, r, err)
			return
		}
		limit := 0
		if v := r.URL.Query().Get("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
				writeError(w, r, stamp.Errorf(stamp.EINVALID, "query parameter limit=%q must be an integer from 1 to 1000", v))
				return
			}
		}
		list, err := st.ListDeliveryAttempts(r.Context(), hook.ID, limit)
		if err != nil {
			writeError(w, r, fmt.Errorf("list attempts of webhook %s: %w", hook.ID, err))
			return
		}
		for _, a := range list {
			a.Error = redactIn(a.Error, hook.URL)
		}
		encode(w, r, http.StatusOK, attemptList{Attempts: nonNil(list)})
	})
}
