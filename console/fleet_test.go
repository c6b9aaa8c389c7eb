package console

import (
	"fmt"
	"html"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

var (
	rowRE  = regexp.MustCompile(`<tr data-tenant="([^"]+)"`)
	linkRE = regexp.MustCompile(`<a href="([^"]+)"(?: rel="(prev|next)")?>(First|← Previous|Next →)</a>`)
)

// fleetPage is what a fleet page shows: its tenants and its links to
// the pages around, by rel (first, prev, next).
type fleetPage struct {
	rows  []string
	links map[string]string
	body  string
}

// getFleet signs in and reads the fleet page at target.
func getFleet(t *testing.T, e *env, target string) fleetPage {
	t.Helper()
	c := browser(t)
	post(t, c, e.url+Prefix+"login", url.Values{"token": {e.token}}, "")
	resp, err := c.Get(e.url + target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", target, resp.StatusCode, err)
	}
	p := fleetPage{links: map[string]string{}, body: string(b)}
	for _, m := range rowRE.FindAllStringSubmatch(p.body, -1) {
		p.rows = append(p.rows, m[1])
	}
	for _, m := range linkRE.FindAllStringSubmatch(p.body, -1) {
		rel := m[2]
		if rel == "" {
			rel = "first"
		}
		p.links[rel] = html.UnescapeString(m[1])
	}
	return p
}

// TestFleetPages walks the fleet page forwards and back over 120
// tenants, filtered and not: every page holds the next 50 tenants in
// name order, its links keep the filter, and the counts cover the whole
// fleet whatever the filter.
func TestFleetPages(t *testing.T) {
	e := newEnv(t)
	var all, failed []string
	for i := range 120 {
		tn := &stamp.Tenant{Name: fmt.Sprintf("t%03d", i), Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"},
			Status: stamp.TenantStatus{Phase: stamp.PhaseReady}}
		if i%2 == 0 { // 60: two pages
			tn.Status.Phase = stamp.PhaseFailed
			failed = append(failed, tn.Name)
		}
		if err := e.store.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		all = append(all, tn.Name)
	}
	for _, tt := range []struct {
		start string
		want  []string
	}{{Prefix, all}, {Prefix + "?state=failed", failed}} {
		t.Run(tt.start, func(t *testing.T) {
			var pages [][]string
			p := getFleet(t, e, tt.start)
			if p.links["first"] != "" || p.links["prev"] != "" {
				t.Errorf("the first page links back: %v", p.links)
			}
			for target := tt.start; ; target = p.links["next"] {
				p = getFleet(t, e, target)
				pages = append(pages, p.rows)
				if p.links["next"] == "" {
					break
				}
				if len(pages) > 5 {
					t.Fatalf("still paging after %d pages", len(pages))
				}
			}
			if got := slices.Concat(pages...); !slices.Equal(got, tt.want) {
				t.Fatalf("pages forwards: %q, want %q", pages, tt.want)
			}
			// Back from the last page to the first.
			for i := len(pages) - 2; i >= 0; i-- {
				if p.links["first"] == "" {
					t.Errorf("page %d has no link to the first", i+2)
				}
				p = getFleet(t, e, p.links["prev"])
				if !slices.Equal(p.rows, pages[i]) {
					t.Errorf("page %d read backwards: %q, want %q", i+1, p.rows, pages[i])
				}
			}
			if p.links["prev"] != "" {
				t.Errorf("the first page, read backwards, links to one before it: %q", p.links["prev"])
			}
			for _, link := range p.links {
				if tt.start != Prefix && !strings.Contains(link, "state=failed") {
					t.Errorf("link %q drops the filter", link)
				}
			}
			for _, want := range []string{"120 tenants", `>failed</a> <b>60</b>`, `>ready</a> <b>60</b>`, `>1.0.0</a> <b>120</b>`} {
				if !strings.Contains(p.body, want) {
					t.Errorf("the page lacks the fleet's count %q", want)
				}
			}
		})
	}
}
