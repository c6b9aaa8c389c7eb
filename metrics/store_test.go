package metrics

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stamphq/stamp"
)

// TestStoreTimesEveryMethod calls every method of stamp.Store on a timed
// real SQLite store, with zero arguments, and checks that each call was
// timed under its own name. A method added to stamp.Store and not to
// timedStore reaches the SQLite store untimed through the embedding, and
// fails here.
func TestStoreTimesEveryMethod(t *testing.T) {
	m := New(quiet)
	st := m.WrapStore(openStore(t))
	ctx := reflect.ValueOf(context.Background())
	ctxType := reflect.TypeFor[context.Context]()
	store := reflect.ValueOf(st)
	iface := reflect.TypeFor[stamp.Store]()
	// Close last: the calls after it would only fail.
	names := slices.DeleteFunc(slices.Clone(storeMethods), func(n string) bool { return n == "Close" })
	names = append(names, "Close")
	if len(names) != iface.NumMethod() {
		t.Fatalf("%d method names for the %d methods of stamp.Store", len(names), iface.NumMethod())
	}
	for _, name := range names {
		method := store.MethodByName(name)
		mt := method.Type()
		var args []reflect.Value
		for i := range mt.NumIn() {
			in := mt.In(i)
			switch {
			case in == ctxType:
				args = append(args, ctx)
			case mt.IsVariadic() && i == mt.NumIn()-1:
				// no variadic arguments
			case in.Kind() == reflect.Pointer:
				args = append(args, reflect.New(in.Elem()))
			default:
				args = append(args, reflect.Zero(in))
			}
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s with zero arguments panicked: %v", name, p)
				}
			}()
			method.Call(args)
		}()
		h := m.storeCalls.WithLabelValues(name).(prometheus.Histogram)
		if got := write(t, h).GetHistogram().GetSampleCount(); got != 1 {
			t.Errorf("%s: %d timed calls, want 1", name, got)
		}
	}
	// The errors they returned are counted by method and code.
	ch := make(chan prometheus.Metric, 100)
	m.storeErrors.Collect(ch)
	close(ch)
	var codes []string
	for metric := range ch {
		for _, l := range write(t, metric).GetLabel() {
			if l.GetName() == "code" {
				codes = append(codes, l.GetValue())
			}
		}
	}
	if len(codes) == 0 {
		t.Error("no store error was counted, though calls with zero arguments fail")
	}
	for _, code := range codes {
		if code == "" {
			t.Errorf("an error counted with an empty code: %v", codes)
		}
	}
}
