package console

import (
	"bytes"
	"cmp"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/stamphq/stamp/flow"
	"github.com/stamphq/stamp/internal/human"
)

// figure is one DORA figure as the flow page shows it: now and before,
// a small chart of the two, and whether it got better.
type figure struct {
	Name, Now, Before, Trend string
	NowBar, BeforeBar        int // bar heights, 0 to 40
}

type flowView struct {
	page
	Since   string
	Map     template.HTML // the value stream map, SVG drawn by package flow
	Report  *flow.Report
	Figures []figure
}

// flowPage shows the value stream map and the DORA figures of a window
// (?since=, default 30d).
func (c *Console) flowPage(w http.ResponseWriter, r *http.Request, s *session) {
	since := r.URL.Query().Get("since")
	if since == "" {
		since = "30d"
	}
	report, err := s.api.Flow(r.Context(), since, nil, nil)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	var svg bytes.Buffer
	if err := flow.SVG(&svg, report); err != nil {
		c.failed(w, r, s, err)
		return
	}
	d := report.DORA
	deploys, lead, failures, restore := d.Trends()
	v := flowView{page: s.page("Flow", r), Since: since, Report: report,
		// flow.SVG escapes every name it writes: safe to embed as is.
		Map: template.HTML(svg.String()),
		Figures: []figure{
			newFigure("Deploys per week", 7*d.DeployFrequency.Current, 7*d.DeployFrequency.Previous, deploys, rate),
			newFigure("Lead time for changes", float64(d.LeadTime.Current), float64(d.LeadTime.Previous), lead, span),
			newFigure("Change failure rate", d.ChangeFailureRate.Current, d.ChangeFailureRate.Previous, failures, percent),
			newFigure("Time to restore", float64(d.TimeToRestore.Current), float64(d.TimeToRestore.Previous), restore, span),
		}}
	c.render(w, http.StatusOK, "flow.html", v)
}

// newFigure draws a figure with its trend (flow.DORA.Trends).
func newFigure(name string, now, before float64, trend string, format func(float64) string) figure {
	f := figure{Name: name, Now: format(now), Before: format(before), Trend: cmp.Or(trend, "no trend yet")}
	if most := max(now, before); most > 0 {
		f.NowBar, f.BeforeBar = int(40*now/most), int(40*before/most)
	}
	return f
}

func rate(v float64) string    { return strconv.FormatFloat(v, 'f', 1, 64) }
func percent(v float64) string { return strconv.FormatFloat(100*v, 'f', 0, 64) + "%" }
func span(v float64) string    { return human.Duration(time.Duration(v)) }
