package kube

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stamp "github.com/stamphq/stamp"
)

// TestSwitchRetireRemove runs a blue/green upgrade's driver calls:
// both revisions run, the Service switches from one to the other, the
// old one is retired, and the removed tenant leaves nothing.
func TestSwitchRetireRemove(t *testing.T) {
	c := testClient(t)
	t.Parallel() // a namespace each
	d := testDriver(t, c)
	ctx := context.Background()
	tenant, ns := testTenant(t, c, "retire")

	old, next := shopRuntime(tenant), shopRuntime(tenant)
	next.Revision, next.Bundle.Version = "1.3.0", "1.3.0"
	for _, rt := range []*stamp.Runtime{old, next} {
		if err := d.Apply(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"web-1-2-0", "web-1-3-0", "worker-1-2-0", "worker-1-3-0"}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := deploymentNames(d, ns)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployments %v, want both revisions of web and worker: %v", got, want)
		}
	}
	waitInstances(t, d, tenant, 4, "with both revisions")
	for _, rev := range []string{"1.2.0", "1.3.0", "1.3.0"} {
		eps, err := d.Switch(ctx, tenant, rev)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := c.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{svc.Spec.ClusterIP + ":8080"}
		if !slices.Equal(eps, want) || svc.Spec.Selector[LabelRevision] != labelSafe(rev) || svc.Labels[LabelVersion] != rev {
			t.Errorf("Switch to %s: endpoints %v, selector %v, labels %v; want %v, revision %s", rev, eps, svc.Spec.Selector, svc.Labels, want, rev)
		}
	}
	if err := d.Retire(ctx, tenant, "1.3.0"); err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: LabelTenant + "=" + tenant}
	deps, err := c.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range deps.Items {
		if dep.Labels[LabelRevision] != "1-3-0" && dep.DeletionTimestamp == nil {
			t.Errorf("deployment %s of revision %s outlived Retire", dep.Name, dep.Labels[LabelRevision])
		}
	}
	svcs, err := c.CoreV1().Services(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs.Items) != 1 || svcs.Items[0].Name != "web" {
		t.Errorf("services after Retire: %d, want web alone", len(svcs.Items))
	}

	tenants, err := d.Tenants(ctx)
	if err != nil || !slices.Contains(tenants, tenant) {
		t.Fatalf("Tenants: %v, %v; want %s among them", tenants, err, tenant)
	}
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := d.Remove(rctx, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		t.Errorf("namespace %s still there after Remove", ns)
	}
	for _, kind := range []string{"deployments", "secrets", "services", "pods", "persistentvolumeclaims"} {
		for _, obj := range d.caches[kind].List() {
			if m := obj.(metav1.Object); m.GetLabels()[LabelTenant] == tenant {
				t.Errorf("%s %s/%s of the removed tenant is left", kind, m.GetNamespace(), m.GetName())
			}
		}
	}
	if tenants, _ := d.Tenants(ctx); slices.Contains(tenants, tenant) {
		t.Errorf("Tenants still lists %s after Remove", tenant)
	}
	// Removing what is gone is no error.
	if err := d.Remove(rctx, tenant); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

// deploymentNames lists the deployments of ns the driver's cache holds,
// sorted.
func deploymentNames(d *Driver, ns string) []string {
	var names []string
	for _, obj := range d.caches["deployments"].List() {
		if m := obj.(metav1.Object); m.GetNamespace() == ns {
			names = append(names, m.GetName())
		}
	}
	slices.Sort(names)
	return names
}

// TestStopThenApply stops a tenant (a failed one is kept, running
// nothing) and starts it again with Apply.
func TestStopThenApply(t *testing.T) {
	c := testClient(t)
	t.Parallel() // a namespace each
	d := testDriver(t, c)
	ctx := context.Background()
	tenant, ns := testTenant(t, c, "stop")
	rt := shopRuntime(tenant)
	if err := d.Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, d, tenant, 2, "after Apply")
	if err := d.Stop(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, d, tenant, 0, "after Stop")
	if _, err := c.CoreV1().Secrets(ns).Get(ctx, "web-1-2-0", metav1.GetOptions{}); err != nil {
		t.Errorf("Stop took the tenant's secret: %v", err)
	}
	if err := d.Stop(ctx, tenant); err != nil {
		t.Errorf("stopping a stopped tenant: %v", err)
	}
	// The cache must see the stop before Apply, which it reads, comes.
	if err := d.Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, d, tenant, 2, "after Apply again")
}

// waitInstances waits up to 30s until the tenant's web service has n
// ready instances.
func waitInstances(t *testing.T, d *Driver, tenant string, n int, when string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		obs, err := d.Observe(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		if web := obs.Services["web"]; web != nil {
			got = len(web.Instances)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d web instances %s, want %d", got, when, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
