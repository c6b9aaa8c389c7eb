// Package health owns how Stamp decides that a tenant's service is healthy:
// the HTTP probes (Probe, WaitHealthy) that the reconciler's health and
// check steps take, and the Prober with which the monitor probes every
// instance again and again.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// defaultClient is used when a caller passes no client. Keep-alives are off
// so that probing hundreds of tenants holds no idle connection to any of
// them; redirects are not followed, so a health endpoint that redirects
// (to a login page, say) fails instead of passing on the page it lands on.
var defaultClient = &http.Client{
	Transport: &http.Transport{
		Proxy:             nil, // tenants are local addresses; never go through $HTTP_PROXY
		DialContext:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// maxDrain bounds how much of a probe's answer is read; health endpoints
// answer with a few bytes, and a huge body must not stall the prober.
const maxDrain = 64 << 10

// maxQuoted bounds how much of a failed probe's answer its error quotes.
const maxQuoted = 200

// probeError is a failed probe: "GET <url>: <what happened>".
type probeError struct {
	url  string
	what string
	err  error // the cause, if any, for errors.Is
}

func (e *probeError) Error() string { return "GET " + e.url + ": " + e.what }
func (e *probeError) Unwrap() error { return e.err }

// Probe GETs url within timeout and returns nil if the answer is a 2xx.
// Otherwise the error names the url and what went wrong: "GET <url>: status
// 503: <the start of the answer>", "...: connection refused", "...: no answer within 2s". A nil client
// means a shared one with keep-alives off that follows no redirects.
func Probe(ctx context.Context, client *http.Client, url string, timeout time.Duration) error {
	if client == nil {
		client = defaultClient
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, url, nil)
	if err != nil {
		return &probeError{url: url, what: err.Error(), err: err}
	}
	req.Header.Set("User-Agent", "stamp-health")
	resp, err := client.Do(req)
	if err != nil {
		return &probeError{url: url, what: describe(ctx, err, timeout), err: err}
	}
	defer resp.Body.Close()
	// Read the (small) body so the server sees a complete exchange; a
	// failure to read it says nothing about health.
	head := make([]byte, maxQuoted)
	n, _ := io.ReadFull(resp.Body, head)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	if err := statusError(resp.StatusCode, head[:n]); err != nil {
		err.url = url
		return err
	}
	return nil
}

// statusError returns nil for a 2xx status and otherwise a *probeError
// (without its url) naming the status and quoting head, the start of the
// answer, for a 4xx or 5xx.
func statusError(status int, head []byte) *probeError {
	if status >= 200 && status <= 299 {
		return nil
	}
	what := fmt.Sprintf("status %d", status)
	if body := strings.Join(strings.Fields(strings.ToValidUTF8(string(head), "?")), " "); body != "" && status >= 400 {
		what += ": " + body // what the app says is wrong
	}
	return &probeError{what: what}
}

// describe turns a transport error into the short phrase a person needs.
func describe(ctx context.Context, err error, timeout time.Duration) string {
	switch {
	case ctx.Err() != nil:
		return ctx.Err().Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var uerr interface{ Unwrap() error }
	if errors.As(err, &uerr) && uerr.Unwrap() != nil {
		// Drop net/http's `Get "<url>": ` prefix: the url is already named.
		return uerr.Unwrap().Error()
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// WaitHealthy probes url every interval, each probe limited to timeout,
// until one passes (nil), ctx ends, or the next probe would start after
// deadline. The first probe is sent at once. Every probe gets its full
// timeout, so the call may last up to timeout past deadline: a probe cut
// short would report "no answer" about a service that was merely slow to
// be asked. Giving up, it returns an error saying how long it waited and
// wrapping the last probe's error.
func WaitHealthy(ctx context.Context, client *http.Client, url string, interval, timeout, deadline time.Duration) error {
	if interval <= 0 || timeout <= 0 || deadline <= 0 {
		return fmt.Errorf("wait for %s to be healthy: interval (%s), timeout (%s) and deadline (%s) must be positive", url, interval, timeout, deadline)
	}
	start := time.Now()
	end := start.Add(deadline)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	var last error
	stopped := func() error {
		waited := roundWait(time.Since(start))
		if last == nil {
			return fmt.Errorf("stopped waiting for %s after %s: %w", url, waited, ctx.Err())
		}
		return fmt.Errorf("stopped waiting for %s after %s: %w; last probe: %w", url, waited, ctx.Err(), last)
	}
	for {
		probeAt := time.Now()
		err := Probe(ctx, client, url, timeout)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return stopped() // err only says the probe was cut short
		}
		last = err
		next := probeAt.Add(interval)
		if !next.Before(end) {
			return fmt.Errorf("not healthy after %s: %w", roundWait(time.Since(start)), last)
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return stopped()
		case <-timer.C:
		}
	}
}

// roundWait keeps waited times readable ("1.25s", not "1.250318271s").
func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
