package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metrics is a scrape of the server's /metrics in the text format: each
// sample's value by its name and labels as written ("name{a="x"}").
type metrics map[string]float64

// scrape reads the server's /metrics, as the admin.
func (b *bench) scrape(ctx context.Context) (metrics, error) {
	token, err := os.ReadFile(filepath.Join(b.srv.Data, "admin.token"))
	if err != nil {
		return nil, fmt.Errorf("read the admin token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.srv.API+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape /metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape /metrics: status %d: %.200s", resp.StatusCode, body)
	}
	return parseMetrics(string(body)), nil
}

// parseMetrics reads the samples of the text exposition format; comments
// and lines it cannot read are skipped.
func parseMetrics(text string) metrics {
	m := metrics{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m
}

// value returns the sample named name (with its labels as written), or 0.
func (m metrics) value(name string) float64 { return m[name] }

// bucket is one cumulative bucket of a histogram.
type bucket struct {
	le    string // upper bound as written, "+Inf" for the last
	count int64  // observations at or below it
}

// histogram is one histogram's series.
type histogram struct {
	buckets []bucket // in increasing le
	count   int64
	sum     float64 // seconds
}

// histogram returns the series of histogram name whose labels, less le,
// are labels (`outcome="woke"`), with its buckets in increasing bound.
func (m metrics) histogram(name, labels string) histogram {
	h := histogram{count: int64(m[name+"_count{"+labels+"}"]), sum: m[name+"_sum{"+labels+"}"]}
	prefix := name + "_bucket{" + labels + `,le="`
	for k, v := range m {
		if le, ok := strings.CutPrefix(k, prefix); ok {
			h.buckets = append(h.buckets, bucket{le: strings.TrimSuffix(le, `"}`), count: int64(v)})
		}
	}
	slices.SortFunc(h.buckets, func(a, b bucket) int { return cmp.Compare(a.bound(), b.bound()) })
	return h
}

// bound returns b's upper bound as a number: +Inf for "+Inf".
func (b bucket) bound() float64 {
	f, err := strconv.ParseFloat(b.le, 64)
	if err != nil {
		return math.Inf(1)
	}
	return f
}
