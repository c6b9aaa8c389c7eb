package flow

import (
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/stamphq/stamp/internal/human"
)

// Layout of the map, in SVG user units.
const (
	boxW, boxH = 120, 56 // a step's box
	gapW       = 56      // the arrow between two boxes, with the wait above it
	margin     = 16
	rowH       = boxH + 90 // a stream's row: title, boxes, lead time
)

// SVG draws the value stream map of r: a row per stream (creates,
// upgrades, then delivery) with a box per step holding its work time (p50), the wait
// before it (p50) on the arrow that leads to it, and the bottleneck's
// box marked (class "bottleneck", drawn red). Each box is a <g> with
// data-step naming its step; the document is self-contained SVG 1.1.
func SVG(w io.Writer, r *Report) error {
	rows := []struct {
		title string
		s     Stream
	}{{"Creates", r.Create}, {"Upgrades", r.Upgrade}, {"Delivery, commit to fleet", r.Delivery}}
	steps := 1
	for _, row := range rows {
		steps = max(steps, len(row.s.Steps))
	}
	width := 2*margin + steps*boxW + (steps-1)*gapW
	height := 2*margin + len(rows)*rowH
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">
<style>.step rect{fill:#eef3fb;stroke:#4a6fa5;stroke-width:1.5}.bottleneck rect{fill:#fdecea;stroke:#c0392b;stroke-width:3}.wait{fill:#666}.title{font-size:14px;font-weight:bold}</style>
<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#666"/></marker></defs>
`, width, height, width, height)
	for i, row := range rows {
		drawStream(&b, row.title, row.s, margin+i*rowH)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// drawStream draws one stream's row, its top at y.
func drawStream(b *strings.Builder, title string, s Stream, y int) {
	summary := fmt.Sprintf("%s: %d completed", title, s.Completed)
	if s.Completed > 0 {
		summary += fmt.Sprintf(", lead time p50 %s, flow efficiency %.0f%%", human.Duration(s.Lead.P50), 100*s.Efficiency)
	}
	fmt.Fprintf(b, `<text class="title" x="%d" y="%d">%s</text>`+"\n", margin, y+14, html.EscapeString(summary))
	top := y + 40
	for i, st := range s.Steps {
		x := margin + i*(boxW+gapW)
		if i > 0 {
			ax := x - gapW
			fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#666" marker-end="url(#arrow)"/>`+"\n", ax+4, top+boxH/2, x-2, top+boxH/2)
		}
		if st.Wait.Count > 0 && st.Wait.P50 > 0 {
			fmt.Fprintf(b, `<text class="wait" x="%d" y="%d" text-anchor="middle">wait %s</text>`+"\n", x-gapW/2, top+boxH/2-6, human.Duration(st.Wait.P50))
		}
		class := "step"
		if st.Name == s.Bottleneck {
			class = "step bottleneck"
		}
		fmt.Fprintf(b, `<g class="%s" data-step="%s"><rect x="%d" y="%d" width="%d" height="%d" rx="6"/>`, class, html.EscapeString(st.Name), x, top, boxW, boxH)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>`, x+boxW/2, top+22, html.EscapeString(st.Name))
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">work %s</text></g>`+"\n", x+boxW/2, top+42, human.Duration(st.Work.P50))
	}
}
