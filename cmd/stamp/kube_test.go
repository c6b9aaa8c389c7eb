package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/kube"
	"github.com/stamphq/stamp/driver/kube/kubetest"
	"github.com/stamphq/stamp/httpapi"
)

// The tests of this file run `stamp server --driver kubernetes` against
// the test cluster of scripts/kube: a real kube-apiserver with etcd, a
// controller manager and a scheduler, with kwok as a simulated kubelet
// (pods go Running and Ready, Jobs complete, and no container runs).

// kubeCluster returns the test cluster's kubeconfig and a client of it
// (see kubetest).
func kubeCluster(t *testing.T) (string, kubernetes.Interface) {
	t.Helper()
	c := kubetest.Connect(t)
	return c.Kubeconfig, c.Client
}

// startKubeServer starts a server with the kubernetes driver, as a
// control plane instance of the cluster no other test server shares (it
// would remove the others' tenants as tenants it has no record of), and
// returns it with its instance name. Its namespaces are deleted when the
// test ends.
func startKubeServer(t *testing.T, c kubernetes.Interface, kubeconfig string, extra ...string) (*stampServer, string) {
	t.Helper()
	instance := fmt.Sprintf("t%05x", rand.IntN(1<<20))
	s := startStampServer(t, append([]string{"--driver", "kubernetes", "--kubeconfig", kubeconfig, "--kube-instance", instance,
		"--health-timeout", "90s"}, extra...)...)
	t.Cleanup(func() {
		s.kill()
		ctx := context.Background()
		list, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: kube.LabelInstance + "=" + instance})
		if err != nil {
			t.Logf("clean up namespaces: %v", err)
			return
		}
		for _, ns := range list.Items {
			c.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		}
	})
	return s, instance
}

// kubeBlueprint writes a blueprint of container images at version.
func kubeBlueprint(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf(`name: kshop
version: %s
plans:
  starter: { memory: 256Mi, cpu: 0.5, replicas: 1 }
secrets:
  session_key: { generate: 16 }
services:
  web:
    image: registry.example/kshop:%s
    command: [kshop, serve]
    port: 8080
    public: true
    env:
      SESSION_KEY: ${secret.session_key}
      DATA: ${tenant.dir}
    health: { http: /healthz, interval: 1s, timeout: 1s }
hooks:
  migrate: [kshop, migrate]
  seed: [kshop, seed]
`, version, version)
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tenantResources are the kinds of object the driver writes for a
// tenant.
var tenantResources = []kschema.GroupVersionResource{
	{Version: "v1", Resource: "namespaces"}, {Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "services"}, {Version: "v1", Resource: "serviceaccounts"},
	{Version: "v1", Resource: "persistentvolumeclaims"}, {Version: "v1", Resource: "resourcequotas"},
	{Version: "v1", Resource: "limitranges"}, {Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "batch", Version: "v1", Resource: "jobs"}, {Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
}

// kubeObjectsOf lists every object of the kinds the driver writes that
// carries the labels of tenant of control plane instance, in any
// namespace, as "resource ns/name".
func kubeObjectsOf(t *testing.T, instance, tenant string) []string {
	t.Helper()
	dc, err := dynamic.NewForConfig(kubetest.Connect(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: kube.LabelInstance + "=" + instance + "," + kube.LabelTenant + "=" + tenant}
	var out []string
	for _, r := range tenantResources {
		l, err := dc.Resource(r).List(context.Background(), sel)
		if err != nil {
			t.Fatalf("list %s of %s: %v", r.Resource, tenant, err)
		}
		for _, o := range l.Items {
			out = append(out, r.Resource+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	slices.Sort(out)
	return out
}

// TestKubeTenantLifecycle stamps a tenant out on the cluster, upgrades
// it blue/green, sees an OOMKilled container open an incident, and
// deletes it without a trace.
func TestKubeTenantLifecycle(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig)
	ctx := context.Background()
	// Two replicas: both revisions' pods, sized by the plan, must fit
	// the tenant's quota during the upgrade.
	for _, v := range []string{"1.0.0", "1.1.0"} {
		s.mustCLI("blueprint", "push", editBlueprint(t, kubeBlueprint(t, v), "replicas: 1", "replicas: 2"))
	}
	name := "acme"
	ns := instance + "-" + name
	s.mustCLI("tenant", "create", name, "--blueprint", "kshop@1.0.0")

	tn := s.tenant(name)
	svc, err := c.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{svc.Spec.ClusterIP + ":8080"}; !slices.Equal(tn.Status.Endpoints, want) || svc.Spec.Selector[kube.LabelRevision] != "1-0-0" {
		t.Errorf("endpoints %v, service selector %v: want %v, revision 1-0-0", tn.Status.Endpoints, svc.Spec.Selector, want)
	}
	sec, err := c.CoreV1().Secrets(ns).Get(ctx, "web-1-0-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.Data["SESSION_KEY"]) < 16 || string(sec.Data["DATA"]) != "/data" {
		t.Errorf("web's environment: SESSION_KEY of %d bytes, DATA %q; want the generated secret and /data", len(sec.Data["SESSION_KEY"]), sec.Data["DATA"])
	}
	if l := tn.Status.Limits; l == nil || l.Memory != 256<<20 || l.CPU != 0.5 {
		t.Errorf("limits in force %+v: want the plan's 256Mi and 0.5 cores", l)
	}
	jobs := jobNames(t, c, ns)
	if want := []string{"task-migrate-1-0-0-g1", "task-seed-g1"}; !slices.Equal(jobs, want) {
		t.Errorf("jobs %v, want %v", jobs, want)
	}
	waitMonitorHealthy(t, s, name)
	// The API server fetches the pods' logs from their kubelet, here
	// kwok, which serves one file as every container's log.
	if out := s.mustCLI("tenant", "logs", name, "--service", "web"); !strings.Contains(out, "kwok: the log of every container") {
		t.Errorf("tenant logs: %q, want the container log kwok serves", out)
	}

	s.mustCLI("tenant", "upgrade", name, "--to", "1.1.0")
	svc, err = c.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tn := s.tenant(name); svc.Spec.Selector[kube.LabelRevision] != "1-1-0" || tn.Status.Version != "1.1.0" ||
		!slices.Equal(tn.Status.Endpoints, []string{svc.Spec.ClusterIP + ":8080"}) {
		t.Errorf("after the upgrade: selector %v, version %s, endpoints %v; want revision 1-1-0 at the same address", svc.Spec.Selector, tn.Status.Version, tn.Status.Endpoints)
	}
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, "web-1-1-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.ReadyReplicas != 2 || dep.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String() != "128Mi" {
		t.Errorf("web-1-1-0: %d ready, limits %v; want 2 replicas of half the plan's 256Mi", dep.Status.ReadyReplicas, dep.Spec.Template.Spec.Containers[0].Resources.Limits)
	}
	waitFor(t, "the old deployment to go", 30*time.Second, func() bool {
		return slices.Equal(deploymentsIn(t, c, ns), []string{"web-1-1-0"})
	})

	// A container killed for memory: kwok plays no kubelet that would,
	// so the test writes the status a kubelet writes.
	waitMonitorHealthy(t, s, name)
	oomKill(t, c, ns, "1-1-0")
	inc := waitIncident(t, s, name, "an OOM incident", func(i *stamp.Incident) bool { return i.Cause == stamp.CauseOOM })
	if !strings.Contains(inc.Message, "OOMKilled") {
		t.Errorf("incident message %q does not say the container was OOMKilled", inc.Message)
	}

	out := s.mustCLI("tenant", "delete", name)
	if !strings.Contains(out, "deleted") {
		t.Errorf("delete output %q", out)
	}
	if left := kubeObjectsOf(t, instance, name); len(left) > 0 {
		t.Errorf("objects of the deleted tenant left: %v", left)
	}
}

// jobNames lists the Jobs in ns, sorted.
func jobNames(t *testing.T, c kubernetes.Interface, ns string) []string {
	t.Helper()
	l, err := c.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range l.Items {
		out = append(out, j.Name)
	}
	slices.Sort(out)
	return out
}

// deploymentsIn lists the Deployments in ns not being deleted, sorted.
func deploymentsIn(t *testing.T, c kubernetes.Interface, ns string) []string {
	t.Helper()
	l, err := c.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range l.Items {
		if d.DeletionTimestamp == nil {
			out = append(out, d.Name)
		}
	}
	slices.Sort(out)
	return out
}

// oomKill writes into the status of the first web pod of revision in ns
// what a kubelet writes when the kernel killed its container for memory:
// a restart whose last state is OOMKilled.
func oomKill(t *testing.T, c kubernetes.Interface, ns, revision string) {
	t.Helper()
	ctx := context.Background()
	// Of the serving revision only: the old revision's pods may still be
	// there, on their way out, after their Deployment has gone.
	sel := kube.LabelService + "=web," + kube.LabelRevision + "=" + revision
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods %s in %s: %d, %v", sel, ns, len(pods.Items), err)
	}
	name := pods.Items[0].Name
	// kwok writes pod statuses too: on a conflict, read and write again.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range pod.Status.ContainerStatuses {
			cs := &pod.Status.ContainerStatuses[i]
			cs.RestartCount++
			cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "OOMKilled", FinishedAt: metav1.Now(),
			}}
		}
		_, err = c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// editBlueprint applies edits (old, new, old, new...: replacements) to
// the stamp.yaml of dir and returns dir.
func editBlueprint(t *testing.T, dir string, edits ...string) string {
	t.Helper()
	path := filepath.Join(dir, "stamp.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y := string(b)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(y, edits[i]) {
			t.Fatalf("blueprint edit: %q not found", edits[i])
		}
		y = strings.Replace(y, edits[i], edits[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestKubeRefusesSqlite: a blueprint whose database is a sqlite file
// cannot run on the cluster, and says why at create.
func TestKubeRefusesSqlite(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	_, errOut, code := s.cli("tenant", "create", "lite", "--blueprint", "ledger")
	if code == 0 || !strings.Contains(errOut, `database engine "sqlite"`) || !strings.Contains(errOut, "engine postgres") {
		t.Errorf("create of a sqlite tenant on kubernetes: exit %d, %q; want refused, pointing to engine postgres", code, errOut)
	}
	if _, err := c.CoreV1().Namespaces().Get(context.Background(), instance+"-lite", metav1.GetOptions{}); err == nil {
		t.Error("the refused tenant got a namespace")
	}
}

// TestKubeFleetConvergesAfterKillAndReleases creates 20 tenants, kills
// the server mid-create and restarts it: every tenant converges and no
// hook ran twice. A release then moves all 20 to the next version.
func TestKubeFleetConvergesAfterKillAndReleases(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig)
	ctx := context.Background()
	s.mustCLI("blueprint", "push", kubeBlueprint(t, "1.0.0"))
	s.mustCLI("blueprint", "push", kubeBlueprint(t, "1.1.0"))
	cl := s.client()
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("t%02d", i)
		names = append(names, name)
		if _, err := cl.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: "kshop", Version: "1.0.0"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a hook step to finish", 60*time.Second, func() bool {
		events, err := cl.Events(ctx, stamp.EventFilter{})
		return err == nil && slices.ContainsFunc(events, func(e *stamp.Event) bool {
			return e.Type == stamp.EventStep && (e.Step == stamp.StepMigrate || e.Step == stamp.StepSeed)
		})
	})
	start := time.Now()
	s.kill()
	s.start()
	waitFor(t, "20 tenants ready", 3*time.Minute, func() bool {
		return !slices.ContainsFunc(names, func(n string) bool { return !s.tenant(n).Ready() })
	})
	t.Logf("20 tenants ready %s after the restart", time.Since(start).Round(time.Millisecond))
	for _, name := range names {
		ns := instance + "-" + name
		jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs.Items) != 2 {
			t.Errorf("%s has %d jobs, want migrate and seed", name, len(jobs.Items))
		}
		for _, j := range jobs.Items {
			if j.Status.Succeeded != 1 || j.Status.Failed != 0 {
				t.Errorf("job %s/%s: %d succeeded, %d failed; want one run", ns, j.Name, j.Status.Succeeded, j.Status.Failed)
			}
		}
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelTask})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 2 {
			t.Errorf("%s ran %d hook pods, want 2 (migrate and seed, once each)", name, len(pods.Items))
		}
		if got := deploymentsIn(t, c, ns); !slices.Equal(got, []string{"web-1-0-0"}) {
			t.Errorf("%s has deployments %v, want web-1-0-0", name, got)
		}
	}

	// The server is killed again while the release upgrades tenants.
	start = time.Now()
	rel, err := cl.CreateRelease(ctx, httpapi.CreateReleaseRequest{Blueprint: "kshop", Version: "1.1.0",
		Waves: []stamp.Wave{{Count: 1}, {Percent: 50}, {Percent: 100}}, Soak: new(stamp.Duration(time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a tenant upgrading", time.Minute, func() bool {
		return slices.ContainsFunc(names, func(n string) bool { return s.tenant(n).Upgrading() })
	})
	s.kill()
	s.start()
	cl = s.client()
	waitFor(t, "the release to end", 3*time.Minute, func() bool {
		r, err := cl.Release(ctx, rel.ID)
		return err == nil && r.Finished()
	})
	if r, _ := cl.Release(ctx, rel.ID); r.Status.State != stamp.ReleaseSucceeded {
		t.Fatalf("release %s: %s (%s), want succeeded", rel.ID, r.Status.State, r.Status.Message)
	}
	t.Logf("release over 20 tenants, killed once, took %s", time.Since(start).Round(time.Millisecond))
	for _, name := range names {
		ns := instance + "-" + name
		tn := s.tenant(name)
		svc, err := c.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tn.Status.Version != "1.1.0" || svc.Spec.Selector[kube.LabelRevision] != "1-1-0" {
			t.Errorf("%s after the release: version %s, service selects %v; want 1.1.0", name, tn.Status.Version, svc.Spec.Selector)
		}
	}
	waitFor(t, "the old deployments to go", time.Minute, func() bool {
		return !slices.ContainsFunc(names, func(n string) bool {
			return !slices.Equal(deploymentsIn(t, c, instance+"-"+n), []string{"web-1-1-0"})
		})
	})
}

// TestKubeUnschedulableSaysWhy: a tenant whose pods no node can take
// fails its health step with the scheduler's reason. (It has no hooks:
// their pods would wait for a node until the hook's timeout.)
func TestKubeUnschedulableSaysWhy(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig, "--health-timeout", "5s")
	// The test cluster's one node has 256Gi.
	s.mustCLI("blueprint", "push", editBlueprint(t, kubeBlueprint(t, "1.0.0"), "memory: 256Mi", "memory: 1024Gi",
		"hooks:\n  migrate: [kshop, migrate]\n  seed: [kshop, seed]\n", ""))
	_, errOut, code := s.cli("tenant", "create", "huge", "--blueprint", "kshop")
	if code == 0 || !strings.Contains(errOut, "not scheduled: Unschedulable") || !strings.Contains(errOut, "Insufficient memory") {
		t.Errorf("create of a tenant no node can hold: exit %d, %q; want it failed with the scheduler's reason", code, errOut)
	}
	// A failed tenant is kept for an operator, running nothing.
	dep, err := c.AppsV1().Deployments(instance+"-huge").Get(context.Background(), "web-1-0-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 0 {
		t.Errorf("the failed tenant's deployment has %d replicas, want 0", *dep.Spec.Replicas)
	}
}

// TestKubeIngress: with --kube-ingress-class, a tenant gets an Ingress
// for its host, pointing at its public Service.
func TestKubeIngress(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig, "--kube-ingress-class", "nginx", "--base-domain", "shop.example")
	s.mustCLI("blueprint", "push", kubeBlueprint(t, "1.0.0"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "kshop")
	ing, err := c.NetworkingV1().Ingresses(instance+"-acme").Get(context.Background(), "stamp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" || len(ing.Spec.Rules) != 1 ||
		ing.Spec.Rules[0].Host != "acme.shop.example" {
		t.Fatalf("ingress spec %+v: want class nginx, one rule for acme.shop.example", ing.Spec)
	}
	b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if b == nil || b.Name != "web" || b.Port.Number != 8080 {
		t.Errorf("ingress backend %+v: want service web port 8080", b)
	}
}

// TestKubePostgresTenant: engine postgres works on the cluster as on
// the local driver: the tenant's database is made on the tenant
// PostgreSQL server, its pods get its URL, the network policy lets them
// reach that server alone, an upgrade snapshots it, and a delete drops
// it.
func TestKubePostgresTenant(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	_, tenantPG := tenantCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig, "--tenant-postgres", tenantPG)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		s.mustCLI("blueprint", "push", editBlueprint(t, kubeBlueprint(t, v),
			"services:", "databases:\n  main: { engine: postgres }\nservices:",
			"      DATA: ${tenant.dir}", "      DATA: ${tenant.dir}\n      DATABASE_URL: ${db.main.url}"))
	}
	s.mustCLI("tenant", "create", "acme", "--blueprint", "kshop@1.0.0")
	ctx := context.Background()
	ns := instance + "-acme"
	sec, err := c.CoreV1().Secrets(ns).Get(ctx, "web-1-0-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbURL := string(sec.Data["DATABASE_URL"])
	if !strings.HasPrefix(dbURL, "postgres://") || count(t, tenantPG, "SELECT count(*) FROM pg_database WHERE datname = 'stamp_acme_main'") != 1 {
		t.Errorf("DATABASE_URL %q: want the URL of database stamp_acme_main, made on the tenant server", dbURL)
	}
	np, err := c.NetworkingV1().NetworkPolicies(ns).Get(ctx, "stamp-isolation", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(tenantPG)
	found := false
	for _, r := range np.Spec.Egress {
		for _, to := range r.To {
			found = found || to.IPBlock != nil && to.IPBlock.CIDR == "127.0.0.1/32" && len(r.Ports) == 1 && r.Ports[0].Port.String() == u.Port()
		}
	}
	if !found {
		t.Errorf("egress rules %+v: want one to the tenant server at 127.0.0.1:%s", np.Spec.Egress, u.Port())
	}
	s.mustCLI("tenant", "upgrade", "acme", "--to", "1.1.0")
	if tn := s.tenant("acme"); tn.Status.Upgrade == nil || tn.Status.Upgrade.Snapshot == "" {
		t.Errorf("the upgrade took no snapshot of the database: %+v", tn.Status.Upgrade)
	}
	s.mustCLI("tenant", "delete", "acme")
	if n := count(t, tenantPG, "SELECT count(*) FROM pg_database WHERE datname LIKE 'stamp_acme%'"); n != 0 {
		t.Errorf("%d databases of the deleted tenant left", n)
	}
}

// TestKubeServerCheckAndBadKubeconfig: --check names the cluster and its
// version; a kubeconfig that is not there stops the server at start with
// the reason, leaving no data dir behind.
func TestKubeServerCheckAndBadKubeconfig(t *testing.T) {
	kubeconfig, _ := kubeCluster(t)
	data := filepath.Join(t.TempDir(), "data")
	out, err := exec.Command(stampBin, "server", "--check", "--driver", "kubernetes", "--kubeconfig", kubeconfig, "--data", data).CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^cluster: https://\S+, Kubernetes v1\.31\.4; tenants in namespaces stamp-<tenant>`).Match(out) {
		t.Errorf("server --check: %v\n%s\nwant a line naming the cluster and its version", err, out)
	}
	data = filepath.Join(t.TempDir(), "fresh")
	missing := filepath.Join(t.TempDir(), "no-kubeconfig")
	out, err = exec.Command(stampBin, "server", "--driver", "kubernetes", "--kubeconfig", missing, "--data", data,
		"--listen", freePort(t), "--router-listen", freePort(t)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "start kubernetes driver: kubeconfig:") || !strings.Contains(string(out), missing) {
		t.Errorf("server with a missing kubeconfig: %v\n%s\nwant it refused, naming the file", err, out)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the failed start left its data dir: %v", err)
	}
}

// TestKubeTenantSleepsAndWakes: an idle tenant's Deployment is scaled to
// zero and back when it is woken (the router's wake, by hand here: the
// test cluster's Service addresses are not reachable from the test).
func TestKubeTenantSleepsAndWakes(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig, "--idle-check", "200ms", "--drain", "100ms")
	s.mustCLI("blueprint", "push", editBlueprint(t, kubeBlueprint(t, "1.0.0"), "replicas: 1 }", "replicas: 1, idle: 2s }"))
	s.mustCLI("tenant", "create", "sleepy", "--blueprint", "kshop")
	replicas := func() int32 {
		dep, err := c.AppsV1().Deployments(instance+"-sleepy").Get(context.Background(), "web-1-0-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *dep.Spec.Replicas
	}
	waitFor(t, "the tenant to sleep", 60*time.Second, func() bool { return s.tenant("sleepy").Status.Phase == stamp.PhaseSleeping })
	waitFor(t, "its deployment to be scaled to zero", 10*time.Second, func() bool { return replicas() == 0 })
	out := s.mustCLI("tenant", "wake", "sleepy")
	if !strings.Contains(out, "ready:") {
		t.Errorf("stamp tenant wake:\n%s", out)
	}
	if tn := s.tenant("sleepy"); tn.Status.Phase != stamp.PhaseReady || len(tn.Status.Endpoints) == 0 {
		t.Errorf("woken: phase %s, endpoints %v; want ready with its Service", tn.Status.Phase, tn.Status.Endpoints)
	}
	if n := replicas(); n != 1 {
		t.Errorf("woken, the deployment has %d replicas, want 1", n)
	}
}
