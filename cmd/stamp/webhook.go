package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
	"github.com/stamphq/stamp/notify"
)

func newWebhookCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "webhook",
		Aliases: []string{"webhooks"},
		Short:   "Send events to HTTP endpoints as signed CloudEvents",
	}
	cmd.AddCommand(newWebhookAddCmd(g), newWebhookListCmd(g), newWebhookRemoveCmd(g), newWebhookAttemptsCmd(g))
	return cmd
}

func newWebhookAddCmd(g *globals) *cobra.Command {
	var events string
	cmd := &cobra.Command{
		Use:   "add URL --events PATTERN[,PATTERN...]",
		Short: "Subscribe URL to the events matching the patterns, from now on",
		Long: `Each matching event is POSTed to URL as a CloudEvents 1.0 JSON event
(Content-Type: application/cloudevents+json; id is the event's sequence
number, type "stamp." and the event type, subject the tenant, data the
event). Header ` + notify.SignatureHeader + ` is "sha256=" and the hex HMAC-SHA256 of the
body keyed with the secret printed here (and only here); ` + notify.DeliveryHeader + ` is
"<webhook id>/<event seq>", the same on every retry. Events arrive one at
a time in the order they happened; with the pattern audit.recorded the
audit log's records follow (type stamp.audit.recorded, id "audit-<seq>",
the record as data, Stamp-Delivery "<webhook id>/audit-<seq>"). A failure (no 2xx answer within 10s)
is retried with a backoff doubling from 1s to 5m, and holds back only this
webhook's later events. Delivery survives restarts: at least once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var patterns []string
			for _, p := range strings.Split(events, ",") {
				if p = strings.TrimSpace(p); p != "" {
					patterns = append(patterns, p)
				}
			}
			w, err := c.CreateWebhook(cmd.Context(), httpapi.CreateWebhookRequest{URL: args[0], Events: patterns})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "webhook %s: %s for %s\nsecret: %s\n", w.ID, w.URL, strings.Join(w.Events, ","), w.Secret)
			return nil
		},
	}
	cmd.Flags().StringVar(&events, "events", "", "event type patterns, comma-separated, e.g. incident.*,tenant.*")
	cmd.MarkFlagRequired("events")
	return cmd
}

func newWebhookListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List webhooks and how their delivery goes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			hooks, err := c.Webhooks(cmd.Context())
			if err != nil {
				return err
			}
			return printList(p, hooks, []any{"ID", "URL", "EVENTS", "DELIVERED", "FAILURES", "LAST ERROR"}, func(h *stamp.Webhook) []any {
				return []any{h.ID, h.URL, strings.Join(h.Events, ","), h.Delivered, h.Failures, orDash(h.LastError)}
			})
		},
	}
}

func newWebhookRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Unsubscribe a webhook; what it was not sent yet never is",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteWebhook(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "webhook %s removed\n", args[0])
			return nil
		},
	}
}

func newWebhookAttemptsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "attempts ID",
		Short: "List a webhook's delivery attempts, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			list, err := c.DeliveryAttempts(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printList(p, list, []any{"EVENT", "ATTEMPT", "AT", "STATUS", "TOOK", "ERROR"}, func(a *stamp.DeliveryAttempt) []any {
				status := "-"
				if a.Status != 0 {
					status = fmt.Sprint(a.Status)
				}
				var what any = a.EventSeq
				if a.AuditSeq > 0 {
					what = fmt.Sprintf("audit-%d", a.AuditSeq)
				}
				return []any{what, a.Attempt, a.At.Local().Format(time.DateTime), status, human.Duration(a.Duration), orDash(a.Error)}
			})
		},
	}
}
