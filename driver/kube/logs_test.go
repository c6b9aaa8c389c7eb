package kube

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	stamp "github.com/stamphq/stamp"
)

// TestInterleaveKeepsLinesWhole reads two streams written at once: every
// line of each arrives, whole and in its stream's order.
func TestInterleaveKeepsLinesWhole(t *testing.T) {
	var streams []io.ReadCloser
	var want []string
	for _, name := range []string{"a", "b"} {
		pr, pw := io.Pipe()
		streams = append(streams, pr)
		go func() {
			for i := range 200 {
				io.WriteString(pw, strings.Repeat(name, 10)+" "+string(rune('0'+i%10))+"\n")
			}
			pw.Close()
		}()
		for i := range 200 {
			want = append(want, strings.Repeat(name, 10)+" "+string(rune('0'+i%10)))
		}
	}
	r := interleave(streams)
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var a, bs []string
	for _, l := range got {
		if strings.HasPrefix(l, "a") {
			a = append(a, l)
		} else {
			bs = append(bs, l)
		}
	}
	if !slices.Equal(append(a, bs...), want) {
		t.Errorf("got %d lines, %d of a and %d of b, some mixed or out of order; want 200 of each in order", len(got), len(a), len(bs))
	}
}

// TestLogsOfAnUnknownService: a tenant or service the driver does not
// hold is ENOTFOUND.
func TestLogsOfAnUnknownService(t *testing.T) {
	c := testClient(t)
	t.Parallel() // a namespace each
	d := testDriver(t, c)
	ctx := context.Background()
	tenant, _ := testTenant(t, c, "logs")
	if _, err := d.Logs(ctx, tenant, "web", stamp.LogOptions{}); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("logs of a tenant with no namespace: %v, want ENOTFOUND", err)
	}
	if err := d.Apply(ctx, shopRuntime(tenant)); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, d, tenant, 2, "after Apply")
	if _, err := d.Logs(ctx, tenant, "mailer", stamp.LogOptions{}); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("logs of a service the tenant does not have: %v, want ENOTFOUND", err)
	}
	rc, err := d.Logs(ctx, tenant, "web", stamp.LogOptions{Tail: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	// kwok serves one file as every container's log: one line per pod.
	if n := strings.Count(string(b), "kwok: the log of every container"); n != 2 {
		t.Errorf("logs of web's 2 pods: %q, want kwok's line twice", b)
	}
}
