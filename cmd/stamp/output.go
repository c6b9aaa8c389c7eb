package main

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"text/tabwriter"

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

// table reports whether the output is a table for people (-o table or
// wide) rather than JSON or YAML for scripts.
func (p *printer) table() bool { return p.format == "table" || p.format == "wide" }

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
		out, err := yamlOf(v)
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

// yamlOf is v as YAML with the JSON field names.
func yamlOf(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	return yaml.Marshal(generic)
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

// streamList is printList for items that arrive in batches, such as the
// pages of a listing: JSON and YAML are written as each batch comes, the
// same as printList would write them all, and a table once the last has
// come, so that its columns line up. An error from batches ends the
// listing: it is returned, and what was written stays written.
func streamList[T any](p *printer, batches iter.Seq2[[]T, error], header []any, cells func(T) []any) error {
	var tw *tabwriter.Writer
	if p.table() {
		tw = tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
		row(tw, header...)
	}
	n := 0
	for items, err := range batches {
		if err != nil {
			return err
		}
		for _, item := range items {
			var err error
			switch p.format {
			case "json":
				err = writeJSONItem(p.w, item, n)
			case "yaml":
				err = writeYAMLItem(p.w, item)
			default:
				row(tw, cells(item)...)
			}
			if err != nil {
				return err
			}
			n++
		}
	}
	switch {
	case tw != nil:
		return tw.Flush()
	case n == 0:
		_, err := io.WriteString(p.w, "[]\n")
		return err
	case p.format == "json":
		_, err := io.WriteString(p.w, "\n]\n")
		return err
	}
	return nil
}

// writeJSONItem writes item i of a JSON array, indented as printer.print
// indents a whole one.
func writeJSONItem(w io.Writer, item any, i int) error {
	b, err := json.MarshalIndent(item, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if i == 0 {
		sep = "[\n  "
	}
	_, err = io.WriteString(w, sep+string(b))
	return err
}

// writeYAMLItem writes item as one entry of a YAML sequence.
func writeYAMLItem(w io.Writer, item any) error {
	b, err := yamlOf([]any{item})
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// row writes one tab-separated table row.
func row(w io.Writer, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(w, strings.Join(s, "\t"))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
