package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stamphq/stamp"
)

// CreateWebhook subscribes a URL; the answer holds the signing secret.
func (c *Client) CreateWebhook(ctx context.Context, req CreateWebhookRequest) (*stamp.Webhook, error) {
	out := new(stamp.Webhook)
	if err := c.do(ctx, http.MethodPost, "/v1/webhooks", req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Webhooks lists the webhooks, without secrets.
func (c *Client) Webhooks(ctx context.Context) ([]*stamp.Webhook, error) {
	var out webhookList
	if err := c.do(ctx, http.MethodGet, "/v1/webhooks", nil, &out); err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// DeleteWebhook unsubscribes webhook id.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v1/webhooks/"+url.PathEscape(id), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp)
	}
	return nil
}

// DeliveryAttempts lists webhook id's delivery attempts, newest first.
func (c *Client) DeliveryAttempts(ctx context.Context, id string) ([]*stamp.DeliveryAttempt, error) {
	var out attemptList
	if err := c.do(ctx, http.MethodGet, "/v1/webhooks/"+url.PathEscape(id)+"/attempts", nil, &out); err != nil {
		return nil, err
	}
	return out.Attempts, nil
}
