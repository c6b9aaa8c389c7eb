package main

import (
	"bytes"
	"errors"
	"iter"
	"strings"
	"testing"
)

type listItem struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// batchesOf yields batches, then err if not nil.
func batchesOf(err error, batches ...[]listItem) iter.Seq2[[]listItem, error] {
	return func(yield func([]listItem, error) bool) {
		for _, b := range batches {
			if !yield(b, nil) {
				return
			}
		}
		if err != nil {
			yield(nil, err)
		}
	}
}

// TestStreamListPrintsAsPrintList: a listing streamed in batches reads
// the same, byte for byte, as the whole listing printed at once, in
// every format; an empty one too.
func TestStreamListPrintsAsPrintList(t *testing.T) {
	header := []any{"NAME", "SIZE"}
	cells := func(i listItem) []any { return []any{i.Name, i.Size} }
	a, b, c := listItem{"acme", 1}, listItem{"a-much-longer-name", 22}, listItem{"zeta", 333}
	tests := []struct {
		name    string
		batches [][]listItem
	}{
		{"empty", nil},
		{"empty batches", [][]listItem{{}, {}}},
		{"one batch", [][]listItem{{a, b, c}}},
		{"several batches", [][]listItem{{a}, {}, {b, c}}},
	}
	for _, format := range []string{"table", "wide", "json", "yaml"} {
		for _, tt := range tests {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				var want, got bytes.Buffer
				all := []listItem{}
				for _, batch := range tt.batches {
					all = append(all, batch...)
				}
				if err := printList(&printer{format: format, w: &want}, all, header, cells); err != nil {
					t.Fatal(err)
				}
				if err := streamList(&printer{format: format, w: &got}, batchesOf(nil, tt.batches...), header, cells); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("streamed:\n%s\nwant, as printList prints it:\n%s", got.String(), want.String())
				}
			})
		}
	}
}

func TestStreamListStopsAtAnError(t *testing.T) {
	var out bytes.Buffer
	failed := errors.New("page 2: connection refused")
	err := streamList(&printer{format: "json", w: &out}, batchesOf(failed, []listItem{{"acme", 1}}), []any{"NAME"},
		func(i listItem) []any { return []any{i.Name} })
	if !errors.Is(err, failed) {
		t.Errorf("got error %v, want %v", err, failed)
	}
	if !strings.Contains(out.String(), `"acme"`) {
		t.Errorf("the batch before the error was not written: %q", out.String())
	}
}
