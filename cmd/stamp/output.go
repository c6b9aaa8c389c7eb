package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stamphq/stamp/httpapi"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printer writes a listing as a table, JSON or YAML (-o).
type printer struct {
	format string
	w      io.Writer
}

func (g *globals) printer() (*printer, error) {
	switch g.output {
	case "table", "wide", "json", "yaml":
		return &printer{format: g.output, w: g.stdout}, nil
	}
	return nil, fmt.Errorf("-o %q: want table, wide, json or yaml", g.output)
}

// reader returns what a command that reads and prints needs: the API
// client and the printer for -o, checking -o before anything is asked.
func (g *globals) reader() (*httpapi.Client, *printer, error) {
	p, err := g.printer()
	if err != nil {
		return nil, nil, err
	}
	c, err := g.client()
	if err != nil {
		return nil, nil, err
	}
	return c, p, nil
}

// wide reports whether tables show their long columns whole (-o wide).
func (p *printer) wide() bool { return p.format == "wide" }

// print writes v as JSON or YAML, or calls table for the table formats
// (table and wide). YAML
// uses the JSON field names, so both formats read the same to scripts.
func (p *printer) print(v any, table func(t *tabwriter.Writer)) error {
	switch p.format {
	case "json":
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := json.Unmarshal(b, &generic); err != nil {
			return err
		}
		out, err := yaml.Marshal(generic)
		if err != nil {
			return err
		}
		_, err = p.w.Write(out)
		return err
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// printList prints items as JSON or YAML, or as a table: a row of header,
// then a row of each item's cells.
func printList[T any](p *printer, items []T, header []any, cells func(T) []any) error {
	return p.print(items, func(w *tabwriter.Writer) {
		row(w, header...)
		for _, item := range items {
			row(w, cells(item)...)
		}
	})
}

// row writes one tab-separated table row.
func row(w io.Writer, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(w, strings.Join(s, "\t"))
}

// age formats how long ago t was, as kubectl does: 12s, 5m, 3h, 2d.
func age(t time.Time) string {
	d := time.Since(t)
	switch {
	case t.IsZero():
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// duration formats a step's duration for people: 3ms, 1.2s.
func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
