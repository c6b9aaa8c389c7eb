package kube

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stamp "github.com/stamphq/stamp"
)

// TestTaskRunsOnce runs a seed hook as a Job on the test cluster, where
// kwok completes the Job's pod with exit code 0 (it runs no container),
// then asks for it again: the earlier run's result comes back and no
// second Job starts.
func TestTaskRunsOnce(t *testing.T) {
	c := testClient(t)
	t.Parallel() // a namespace each
	d := testDriver(t, c)
	tenant, ns := testTenant(t, c, "task")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	task := &stamp.Task{
		Name: "seed-g1", Image: "registry.example/shop:1.2.0", Command: []string{"shop", "seed"},
		Bundle: stamp.BundleRef{Name: "shop", Version: "1.2.0"}, Timeout: time.Minute,
		Env:    map[string]string{"DATABASE_URL": "postgres://shop:pw@db/shop"},
		Limits: stamp.Limits{Memory: 256 << 20, CPU: 0.5},
	}
	first, err := d.RunTask(ctx, tenant, task)
	if err != nil {
		t.Fatal(err)
	}
	if first.ExitCode != 0 {
		t.Fatalf("seed exited %d, want 0; output %q", first.ExitCode, first.Output)
	}
	again, err := d.RunTask(ctx, tenant, task)
	if err != nil {
		t.Fatal(err)
	}
	if *again != *first {
		t.Errorf("second run of seed-g1: %+v, want the first's %+v", again, first)
	}
	jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelTenant + "=" + tenant})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 || jobs.Items[0].Name != "task-seed-g1" || *jobs.Items[0].Spec.BackoffLimit != 0 {
		t.Errorf("jobs %+v: want task-seed-g1 alone, never retried", jobs.Items)
	}
	if s := jobs.Items[0].Spec.Template.Spec.Containers[0].SecurityContext; s == nil || !*s.RunAsNonRoot {
		t.Errorf("task container security context %+v: want non-root", s)
	}

	// The hook ran before any Apply, yet under the tenant's bounds.
	if _, err := c.NetworkingV1().NetworkPolicies(ns).Get(ctx, policyName, metav1.GetOptions{}); err != nil {
		t.Errorf("the hook ran without the tenant's network policy: %v", err)
	}
	if lr, err := c.CoreV1().LimitRanges(ns).Get(ctx, limitsName, metav1.GetOptions{}); err != nil || lr.Spec.Limits[0].Max.Memory().String() != "256Mi" {
		t.Errorf("the hook's limit range: %v, %v; want containers held to the plan's 256Mi", lr, err)
	}
	if _, err := c.CoreV1().ResourceQuotas(ns).Get(ctx, quotaName, metav1.GetOptions{}); err != nil {
		t.Errorf("the hook ran without the tenant's quota: %v", err)
	}

	if _, err := d.RunTask(ctx, tenant, &stamp.Task{Name: "migrate-1.2.0-g1", Command: []string{"x"}}); stamp.ErrorCode(err) != stamp.EINVALID {
		t.Errorf("a task without an image: %v, want EINVALID", err)
	}
}
