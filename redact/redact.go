// Package redact hides a tenant's secret values in what its services
// print. Logs wraps a stamp.LogReader: every reader of tenant output
// through it (the monitor's incident excerpts, the API's logs endpoint)
// sees each secret value replaced by Mask, also when a value is split
// across reads or across the files of a rotated log. String does the same
// for a failed hook's output before it goes into a step's message.
package redact

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// Mask is what a secret value is replaced with.
const Mask = "[redacted]"

// MinLen is the length below which a value is left alone: replacing every
// "1" or "ab" in a log would hide more than it protects.
const MinLen = 4

// refreshEvery is how often a followed stream reads the tenant's secrets
// again, so that a secret added meanwhile (an upgrade's new one) is
// hidden too.
const refreshEvery = 2 * time.Second

// SecretSource gives a tenant's secrets; a stamp.Store is one.
type SecretSource interface {
	Secrets(ctx context.Context, tenant string) (map[string]string, error)
}

// Logs is a stamp.LogReader that redacts the tenant's secrets from the
// logs of the LogReader it wraps.
type Logs struct {
	logs    stamp.LogReader
	secrets SecretSource
}

var _ stamp.LogReader = (*Logs)(nil)

// New returns logs with the secrets of each tenant redacted. Secrets are
// read from the source on every call, not cached: a value generated a
// moment ago must already be hidden.
func New(logs stamp.LogReader, secrets SecretSource) *Logs {
	return &Logs{logs: logs, secrets: secrets}
}

// Logs returns the service's output with the tenant's secret values
// replaced by Mask. If the secrets cannot be read, no output is given.
func (l *Logs) Logs(ctx context.Context, tenant, service string, opts stamp.LogOptions) (io.ReadCloser, error) {
	values, err := l.values(ctx, tenant)
	if err != nil {
		return nil, err
	}
	rc, err := l.logs.Logs(ctx, tenant, service, opts)
	if err != nil {
		return nil, err
	}
	r := &reader{src: rc, closer: rc}
	r.set(values)
	if opts.Follow {
		r.refresh = func() ([]string, error) { return l.values(ctx, tenant) }
		r.refreshed = time.Now()
	}
	return r, nil
}

func (l *Logs) values(ctx context.Context, tenant string) ([]string, error) {
	m, err := l.secrets.Secrets(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("read secrets of %s to redact its logs: %w", tenant, err)
	}
	values := make([]string, 0, len(m))
	for _, v := range m {
		values = append(values, v)
	}
	return values, nil
}

// NewReader returns r with every value of values (those of MinLen bytes
// or more) replaced by Mask.
func NewReader(r io.Reader, values []string) io.Reader {
	rd := &reader{src: r}
	rd.set(values)
	return rd
}

// String returns s with every value of values (those of MinLen bytes or
// more) replaced by Mask, as NewReader would.
func String(s string, values []string) string {
	var b strings.Builder
	io.Copy(&b, NewReader(strings.NewReader(s), values)) // reads of a string do not fail
	return b.String()
}

// reader replaces values in a stream. It holds back the last
// longest-value-minus-one bytes it has read, which may be the start of a
// value the next read completes, except that when no value holds a
// newline everything up to the last newline can go at once (so a
// follower sees each line as it is printed).
type reader struct {
	src    io.Reader
	closer io.Closer

	values   [][]byte // longest first, so the longest match wins
	first    [256]bool
	maxLen   int
	lineSafe bool

	refresh   func() ([]string, error) // for a followed stream
	refreshed time.Time

	buf []byte // for reads of src
	raw []byte // read, not yet redacted
	out []byte // redacted, not yet returned
	err error  // src's error, returned once out is drained
}

// set makes values the ones to replace. Each line of a value holding
// newlines (a PEM key) is one too: a tail of a log can start inside such
// a value, and its rest must not show.
func (r *reader) set(values []string) {
	r.values, r.first, r.maxLen, r.lineSafe = nil, [256]bool{}, 0, true
	var lines []string
	for _, v := range values {
		if strings.Contains(v, "\n") {
			lines = slices.AppendSeq(lines, strings.SplitSeq(v, "\n"))
		}
	}
	for _, v := range slices.Concat(values, lines) {
		if len(v) < MinLen {
			continue
		}
		r.values = append(r.values, []byte(v))
		r.first[v[0]] = true
		r.maxLen = max(r.maxLen, len(v))
		if bytes.IndexByte([]byte(v), '\n') >= 0 {
			r.lineSafe = false
		}
	}
	slices.SortFunc(r.values, func(a, b []byte) int { return cmp.Compare(len(b), len(a)) })
}

// Read returns redacted output; src's error (io.EOF included) comes once
// everything read before it has been returned.
func (r *reader) Read(p []byte) (int, error) {
	if r.buf == nil {
		r.buf = make([]byte, 32<<10)
	}
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.refresh != nil && time.Since(r.refreshed) >= refreshEvery {
			values, err := r.refresh()
			if err != nil {
				return 0, err
			}
			r.set(values)
			r.refreshed = time.Now()
		}
		n, err := r.src.Read(r.buf)
		r.raw = append(r.raw, r.buf[:n]...)
		r.err = err
		r.redact(err != nil)
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// redact moves what of raw is known to hold no partial value to out,
// with the values in it replaced. At the end of input (done), all of it.
func (r *reader) redact(done bool) {
	limit := len(r.raw)
	if !done && r.maxLen > 0 {
		limit = len(r.raw) - (r.maxLen - 1)
		if r.lineSafe {
			limit = max(limit, bytes.LastIndexByte(r.raw, '\n')+1)
		}
	}
	i, plain := 0, 0 // raw[plain:i] holds no value: copied out in one go
	for i < limit {
		if !r.first[r.raw[i]] {
			i++
			continue
		}
		if n := r.match(r.raw[i:]); n > 0 {
			r.out = append(r.out, r.raw[plain:i]...)
			r.out = append(r.out, Mask...)
			i += n
			plain = i
			continue
		}
		i++
	}
	r.out = append(r.out, r.raw[plain:i]...)
	r.raw = append(r.raw[:0], r.raw[i:]...)
}

// match returns the length of the value b starts with, 0 if none.
func (r *reader) match(b []byte) int {
	for _, v := range r.values {
		if bytes.HasPrefix(b, v) {
			return len(v)
		}
	}
	return 0
}

// Close closes the wrapped logs.
func (r *reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}
