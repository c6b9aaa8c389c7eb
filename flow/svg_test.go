package flow

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// TestSVG draws the fixtures' map and reads it back as XML: a box per
// step of each stream, in order, the bottleneck's alone marked.
func TestSVG(t *testing.T) {
	var buf bytes.Buffer
	r := Compute(fixture(), Filter{Since: t0})
	pipeline, releases := deliveryFixture()
	r.Delivery = Delivery(pipeline, releases, Filter{Since: t0})
	if err := SVG(&buf, r); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	var boxes, bottlenecks []string
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not XML: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = el.Name.Space + " " + el.Name.Local
		}
		if el.Name.Local != "g" {
			continue
		}
		var step, class string
		for _, a := range el.Attr {
			switch a.Name.Local {
			case "data-step":
				step = a.Value
			case "class":
				class = a.Value
			}
		}
		boxes = append(boxes, step)
		if slices.Contains(strings.Fields(class), "bottleneck") {
			bottlenecks = append(bottlenecks, step)
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q", root)
	}
	want := []string{StepQueued, stamp.StepAllocate, stamp.StepDatabase, stamp.StepStart, stamp.StepRoute, // creates
		StepQueued, stamp.StepCheck, stamp.StepMigrate, stamp.StepRoute, // upgrades
		"build", "test", "review", StepRelease} // delivery
	if !slices.Equal(boxes, want) {
		t.Errorf("boxes %v, want %v", boxes, want)
	}
	if !slices.Equal(bottlenecks, []string{stamp.StepDatabase, stamp.StepMigrate, StepRelease}) {
		t.Errorf("bottlenecks %v, want database (creates), migrate (upgrades) and release (delivery)", bottlenecks)
	}
}

func TestSVGOfNothing(t *testing.T) {
	var buf bytes.Buffer
	if err := SVG(&buf, Compute(nil, Filter{})); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(buf.Bytes(), new(struct{})); err != nil {
		t.Errorf("an empty map is not XML: %v", err)
	}
}
