package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// t0 is the start of every synthetic event log.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// at returns t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// logOf builds events in Seq order from a compact description, one event
// per line: "tenant type [rel=release] [gen=generation]
// [step:queued:started:finished]" with times in ms after t0, and "@ms"
// giving the event's time.
func logOf(t *testing.T, lines ...string) []*stamp.Event {
	t.Helper()
	var events []*stamp.Event
	for i, line := range lines {
		f := strings.Fields(line)
		e := &stamp.Event{Seq: int64(i + 1), Tenant: f[0], Type: f[1]}
		for _, x := range f[2:] {
			var ms, q, s, fin int
			var step string
			switch {
			case strings.HasPrefix(x, "@"):
				fmt.Sscanf(x, "@%d", &ms)
				e.Time = at(ms)
			case strings.HasPrefix(x, "rel="):
				e.Release = strings.TrimPrefix(x, "rel=")
			case strings.HasPrefix(x, "gen="):
				fmt.Sscanf(x, "gen=%d", &e.Generation)
			case strings.Count(x, ":") == 3:
				if _, err := fmt.Sscanf(strings.ReplaceAll(x, ":", " "), "%s %d %d %d", &step, &q, &s, &fin); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				e.Step, e.Status, e.QueuedAt, e.StartedAt, e.FinishedAt = step, stamp.StatusOK, at(q), at(s), at(fin)
				e.Time = at(fin)
			case x == "failed":
				e.Status = stamp.StatusFailed
			default:
				t.Fatalf("line %q: cannot read %q", line, x)
			}
		}
		events = append(events, e)
	}
	return events
}

// cleanUpgrade is the log of one upgrade of tenant (generation 2)
// requested at ms 0 by release rel (empty: the API): 10 ms to the first
// step, steps of 10 ms with 1 ms between them, a drain of 1000 ms before
// retire, which waits 5 ms for a worker.
func cleanUpgrade(tenant, rel string) []string {
	r := ""
	if rel != "" {
		r = " rel=" + rel
	}
	return []string{
		tenant + " tenant.created @-5000 gen=1",
		tenant + " tenant.step retire:-4000:-4000:-3990 gen=1", // not of the upgrade
		tenant + " tenant.upgrade-requested @0 gen=2" + r,
		tenant + " tenant.upgrading @5 gen=2",
		tenant + " tenant.step check:0:10:20 gen=2",
		tenant + " tenant.step snapshot:20:21:31 gen=2",
		tenant + " tenant.step migrate:31:32:42 gen=2",
		tenant + " tenant.step route:42:43:53 gen=2",
		tenant + " tenant.step retire:1053:1058:1068 gen=2",
		tenant + " tenant.upgraded @1070 gen=2",
	}
}

func TestUpgradesOfAndSegments(t *testing.T) {
	events := logOf(t, append(cleanUpgrade("a", ""), cleanUpgrade("b", "r1")...)...)
	lone, odd, err := upgradesOf(events, []string{"a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(odd, &oddities{}) {
		t.Errorf("oddities of a clean log: %+v", odd)
	}
	u := lone[0]
	u.asked = at(-2)
	if got, want := u.took(), 1072*time.Millisecond; got != want {
		t.Errorf("took: got %s, want %s", got, want)
	}
	if got, want := u.reconciled(), 1065*time.Millisecond; got != want {
		t.Errorf("reconciled: got %s, want %s", got, want)
	}
	if got := stepNames(u.steps); strings.Join(got, ",") != "check,snapshot,migrate,route,retire" {
		t.Errorf("steps: got %v", got)
	}

	// The segments of a lone upgrade add up to took, those of a
	// release's tenant to its slot.
	fleet, _, err := upgradesOf(events, []string{"b"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	r := &stamp.Release{ID: "r1", Status: stamp.ReleaseStatus{Tenants: []stamp.ReleaseTenant{
		{Name: "b", State: stamp.ReleaseTenantUpgraded, StartedAt: at(-3), FinishedAt: at(1200)},
	}}}
	if err := withSlots(fleet, r); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"request to first step started (spec write, reconcile queue, read, plan, record)": 13 * time.Millisecond,
		"check": 10 * time.Millisecond, "migrate": 10 * time.Millisecond,
		"between steps (status writes, events)":      3 * time.Millisecond,
		"drain: last step done to retire queued":     1000 * time.Millisecond,
		"retire queued to started (reconcile queue)": 5 * time.Millisecond,
		"retire done to the tenant.upgraded event":   2 * time.Millisecond,
		"tenant.upgraded to the release seeing it":   130 * time.Millisecond,
	}
	var loneSum, slotSum time.Duration
	for _, seg := range segments(middleSteps(lone, fleet)) {
		if d, ok := want[seg.name]; ok && seg.of(fleet[0]) != d {
			t.Errorf("segment %q: got %s, want %s", seg.name, seg.of(fleet[0]), d)
		}
		if !seg.release {
			loneSum += seg.of(u)
		}
		slotSum += seg.of(fleet[0])
	}
	if loneSum != u.took() {
		t.Errorf("lone segments add up to %s, want took %s", loneSum, u.took())
	}
	if slotSum != fleet[0].slot() {
		t.Errorf("fleet segments add up to %s, want the slot %s", slotSum, fleet[0].slot())
	}
}

func TestUpgradesOfOddities(t *testing.T) {
	log := append(cleanUpgrade("a", "r1"),
		"a tenant.retry @1100 gen=2",
		"a tenant.upgraded @1200 gen=2",
	)
	_, odd, err := upgradesOf(logOf(t, log...), []string{"a"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(odd.upgradedTwice) != 1 || len(odd.retries) != 1 || len(odd.rolledBack) != 0 || len(odd.requestedLate) != 0 {
		t.Errorf("oddities: got %+v, want one tenant upgraded twice and one retry", odd)
	}
}

// TestUpgradesOfRequestAfterStart reads an upgrade whose request event
// was recorded after the reconciler had started on it, as the release
// controller can (it wakes the reconciler before recording the request).
func TestUpgradesOfRequestAfterStart(t *testing.T) {
	log := cleanUpgrade("a", "r1")
	log[2], log[3], log[4] = log[3], log[4], log[2] // upgrading, check, then the request
	ups, odd, err := upgradesOf(logOf(t, log...), []string{"a"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got := stepNames(ups[0].steps); strings.Join(got, ",") != "check,snapshot,migrate,route,retire" {
		t.Errorf("steps: got %v", got)
	}
	if len(odd.requestedLate) != 1 {
		t.Errorf("oddities: got %+v, want the late request noted", odd)
	}
}

func TestUpgradesOfIncomplete(t *testing.T) {
	tests := []struct {
		name    string
		log     []string
		release string
		want    string
	}{
		{"no request of that release", cleanUpgrade("a", "r1"), "r2", "no tenant.upgrade-requested"},
		{"no upgraded event", cleanUpgrade("a", "")[:9], "", "lacks its"},
		{"no retire", append(cleanUpgrade("a", "")[:8], "a tenant.upgraded @60 gen=2"), "", "do not end with retire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := upgradesOf(logOf(t, tt.log...), []string{"a"}, tt.release)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWithSlotsRefusesUnfinished(t *testing.T) {
	ups := []upgrade{{tenant: "a"}}
	r := &stamp.Release{ID: "r1", Status: stamp.ReleaseStatus{Tenants: []stamp.ReleaseTenant{{Name: "a", State: stamp.ReleaseTenantUpgrading, StartedAt: at(0)}}}}
	if err := withSlots(ups, r); err == nil {
		t.Error("a tenant still upgrading got a slot")
	}
}

func TestPerSlotAndInFlight(t *testing.T) {
	if got, want := perSlot(100*time.Second, 500, 8), 1600*time.Millisecond; got != want {
		t.Errorf("perSlot(100s, 500, 8): got %s, want %s", got, want)
	}
	ups := []upgrade{
		{asked: at(0), slotEnd: at(1000)},
		{asked: at(0), slotEnd: at(1000)},
		{asked: at(1000), slotEnd: at(2000)},
	}
	if got := inFlight(ups, 2*time.Second); got != 1.5 {
		t.Errorf("inFlight: got %v, want 1.5", got)
	}
}

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{in: "100,250,500", want: "[100 250 500]"},
		{in: " 7 ", want: "[7]"},
		{in: "0", err: true},
		{in: "100,", err: true},
		{in: "5000", err: true},
	}
	for _, tt := range tests {
		got, err := parseSizes(tt.in)
		if (err != nil) != tt.err || (err == nil && fmt.Sprint(got) != tt.want) {
			t.Errorf("parseSizes(%q): got %v, %v; want %s (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}
