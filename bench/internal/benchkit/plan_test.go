package benchkit

import "testing"

func TestWithBenchPlan(t *testing.T) {
	src := "name: ledger\nplans:\n  starter:  { memory: 128Mi, cpu: 0.25 }\ndefault_plan: starter\n"
	got, err := withBenchPlan([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := "name: ledger\nplans:\n" + benchPlan + "  starter:  { memory: 128Mi, cpu: 0.25 }\ndefault_plan: starter\n"
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := withBenchPlan([]byte("name: ledger\n")); err == nil {
		t.Error("a blueprint without plans: got no error")
	}
}
