package kube

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/kube/kubetest"
)

// testClient returns a client of the test cluster (see kubetest).
func testClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	return kubetest.Connect(t).Client
}

// testTenant returns a tenant name no other test run uses, and its
// namespace, which is deleted when the test ends.
func testTenant(t *testing.T, c kubernetes.Interface, prefix string) (tenant, ns string) {
	t.Helper()
	tenant = fit(prefix + "-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")))
	ns = namespaceOf(testInstance, tenant)
	t.Cleanup(func() { c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	return tenant, ns
}

func shopRuntime(tenant string) *stamp.Runtime {
	return &stamp.Runtime{
		Tenant: tenant, Revision: "1.2.0",
		Bundle: stamp.BundleRef{Name: "shop", Version: "1.2.0"},
		UID:    200123,
		Limits: stamp.Limits{Memory: 384 << 20, CPU: 1.5},
		Services: []stamp.Service{
			{
				Name: "web", Image: "registry.example/shop:1.2.0", Port: 8080, Public: true, Replicas: 2,
				Memory: 128 << 20, CPU: 0.5,
				Env:    map[string]string{"DATABASE_URL": "postgres://shop:pw@db/shop", "LISTEN": stamp.InstanceVar(stamp.VarListen)},
				Health: &stamp.HealthCheck{Path: "/healthz", Interval: 2 * time.Second, Timeout: 1500 * time.Millisecond},
			},
			{Name: "worker", Image: "registry.example/shop:1.2.0", Command: []string{"shop", "work"}, Replicas: 1},
		},
	}
}

func TestTenantObjects(t *testing.T) {
	c := testClient(t)
	t.Parallel() // a namespace each
	ctx := context.Background()
	tenant, ns := testTenant(t, c, "objects")

	rt := shopRuntime(tenant)
	drv := testDriver(t, c)
	if err := drv.Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}

	n, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{LabelTenant: tenant, LabelManagedBy: "stamp", LabelBlueprint: "shop", LabelVersion: "1.2.0",
		"pod-security.kubernetes.io/enforce": "restricted"} {
		if n.Labels[k] != v {
			t.Errorf("namespace label %s = %q, want %q", k, n.Labels[k], v)
		}
	}

	q, err := c.CoreV1().ResourceQuotas(ns).Get(ctx, quotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Twice the plan: room for a second revision during an upgrade.
	for name, want := range map[corev1.ResourceName]string{"limits.memory": "768Mi", "requests.memory": "768Mi",
		"limits.cpu": "3", "requests.cpu": "3"} {
		if got := q.Spec.Hard[name]; got.String() != want {
			t.Errorf("quota %s = %s, want %s", name, got.String(), want)
		}
	}
	if len(q.Spec.Hard) != 4 {
		t.Errorf("quota %v: want memory and CPU alone", q.Spec.Hard)
	}

	lr, err := c.CoreV1().LimitRanges(ns).Get(ctx, limitsName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if item := lr.Spec.Limits[0]; item.Default.Memory().String() != "384Mi" || item.Max.Memory().String() != "384Mi" || item.Max.Cpu().String() != "1500m" {
		t.Errorf("limit range %+v: want a container at most the tenant's 384Mi and 1.5 cores, an unsized one all of it", item)
	}

	np, err := c.NetworkingV1().NetworkPolicies(ns).Get(ctx, policyName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) || len(np.Spec.PodSelector.MatchLabels) != 0 {
		t.Errorf("network policy selects %v with types %v: want every pod, ingress and egress", np.Spec.PodSelector, np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 2 || np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "stamp-system" {
		t.Errorf("ingress rules %+v: want the tenant's own pods and the router's namespace only", np.Spec.Ingress)
	}
	egress := np.Spec.Egress
	if len(egress) != 3 || egress[1].Ports[0].Port.IntValue() != 53 || egress[2].To[0].IPBlock.CIDR != "192.0.2.10/32" ||
		egress[2].Ports[0].Port.IntValue() != 5432 {
		t.Errorf("egress rules %+v: want own pods, DNS, and the database at 192.0.2.10:5432 only", egress)
	}

	sa, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, accountName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("service account mounts its token: %v", sa.AutomountServiceAccountToken)
	}

	d, err := c.AppsV1().Deployments(ns).Get(ctx, "web-1-2-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := d.Spec.Template.Spec
	ctr := pod.Containers[0]
	sc := ctr.SecurityContext
	if *d.Spec.Replicas != 2 || ctr.Image != "registry.example/shop:1.2.0" || !*sc.RunAsNonRoot || *sc.RunAsUser != 200123 ||
		!*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("web deployment: replicas %d, image %s, security context %+v", *d.Spec.Replicas, ctr.Image, sc)
	}
	if p := ctr.ReadinessProbe; p == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.IntValue() != 8080 || p.PeriodSeconds != 2 || p.TimeoutSeconds != 2 {
		t.Errorf("readiness probe %+v: want GET /healthz on 8080 every 2s, 2s timeout", p)
	}
	// Three pods (two of web, one of worker) share the plan.
	if ctr.Resources.Limits.Memory().String() != "128Mi" || ctr.Resources.Limits.Cpu().String() != "500m" {
		t.Errorf("web resources %+v: want a third of the plan's 384Mi and 1.5 cores each", ctr.Resources)
	}
	secret, err := c.CoreV1().Secrets(ns).Get(ctx, "web-1-2-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(secret.Data["LISTEN"]); got != "0.0.0.0:8080" || string(secret.Data["PORT"]) != "8080" {
		t.Errorf("web env LISTEN %q PORT %q: want 0.0.0.0:8080 and 8080", got, secret.Data["PORT"])
	}
	pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "1Gi" ||
		!slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("data claim of %s %v: want 1Gi, ReadWriteOnce", got.String(), pvc.Spec.AccessModes)
	}
	if !mountsClaim(pod, ctr, dataDir) {
		t.Errorf("web pod volumes %+v, mounts %+v: want claim %s at %s", pod.Volumes, ctr.VolumeMounts, claimName, dataDir)
	}
	// The first revision gets the Service of its public service at once.
	svcs, err := c.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs.Items) != 1 || svcs.Items[0].Name != "web" || svcs.Items[0].Spec.Selector[LabelRevision] != "1-2-0" {
		t.Errorf("services %+v: want web alone, selecting revision 1-2-0", svcs.Items)
	}

	// kwok plays the kubelet: the pods pass the restricted pod security
	// admission and go Ready.
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, "web-1-2-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web has %d ready replicas after 60s, want 2; conditions %+v", d.Status.ReadyReplicas, d.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Observe reads the ready pods from the cache, by service.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		obs, err := drv.Observe(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		web, worker := obs.Services["web"], obs.Services["worker"]
		if web != nil && worker != nil && len(web.Instances) == 2 && len(worker.Instances) == 1 {
			for _, in := range web.Instances {
				if in.Revision != "1.2.0" || !strings.HasSuffix(in.Endpoint, ":8080") || in.StartedAt.IsZero() {
					t.Errorf("web instance %+v: want revision 1.2.0, an endpoint on port 8080, a start time", in)
				}
			}
			if in := worker.Instances[0]; in.Endpoint != "" {
				t.Errorf("worker instance %+v has an endpoint, but no port", in)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Observe: %+v, want 2 web instances and 1 worker", obs.Services)
		}
	}

	// The same runtime again sends nothing, once the driver's cache has
	// seen what it wrote; and had it sent them, they would change nothing.
	before := resourceVersions(t, c, ns)
	deadline = time.Now().Add(10 * time.Second)
	for {
		o, err := desired(rt, drv.cfg)
		if err != nil {
			t.Fatal(err)
		}
		writes, err := apply(ctx, c, o, drv)
		if err != nil {
			t.Fatal(err)
		}
		if writes == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("applying the same runtime again still writes %d objects after 10s", writes)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if after := resourceVersions(t, c, ns); !slices.Equal(before, after) {
		t.Errorf("applying the same objects again changed them: %v, then %v", before, after)
	}
}

// mountsClaim reports whether ctr of pod mounts the tenant's data claim
// at path.
func mountsClaim(pod corev1.PodSpec, ctr corev1.Container, path string) bool {
	vol := ""
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claimName {
			vol = v.Name
		}
	}
	for _, m := range ctr.VolumeMounts {
		if vol != "" && m.Name == vol && m.MountPath == path {
			return true
		}
	}
	return false
}

// testInstance is the control plane instance of the driver's tests: no
// server a test of another package starts on the cluster sees them.
const testInstance = "drvtest"

// testDriver returns a driver on c, closed when the test ends, that lets
// the router namespace stamp-system in and tenants out to a database at
// 192.0.2.10:5432.
func testDriver(t *testing.T, c kubernetes.Interface) *Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := New(ctx, Config{Client: c, Instance: testInstance, Network: Network{RouterNamespace: "stamp-system",
		Databases: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:5432")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// resourceVersions lists the versions of the objects the driver applied
// in ns that only a write of their spec changes: the resource versions of
// those without a status, the generation of deployments (whose status
// the cluster keeps writing). The quota's status changes with every pod.
func resourceVersions(t *testing.T, c kubernetes.Interface, ns string) []string {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: LabelManagedBy + "=stamp"}
	var out []string
	deps, err := c.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		out = append(out, fmt.Sprintf("deployment %s generation %d", d.Name, d.Generation))
	}
	secrets, err := c.CoreV1().Secrets(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		out = append(out, "secret "+s.Name+" "+s.ResourceVersion)
	}
	np, err := c.NetworkingV1().NetworkPolicies(ns).Get(ctx, policyName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lr, err := c.CoreV1().LimitRanges(ns).Get(ctx, limitsName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, accountName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return append(out, "policy "+np.ResourceVersion, "limits "+lr.ResourceVersion, "account "+sa.ResourceVersion,
		"claim generation "+fmt.Sprint(pvc.Generation))
}

// TestEnvChangeRollsPods: a change of a service's environment alone
// (a claimed stamp's tenant name, a rotated secret) changes the pod
// template, since pods read their Secret only at start; the same
// environment again leaves it as it was.
func TestEnvChangeRollsPods(t *testing.T) {
	c := testClient(t)
	t.Parallel() // a namespace each
	ctx := context.Background()
	tenant, ns := testTenant(t, c, "envroll")
	drv := testDriver(t, c)
	template := func(rt *stamp.Runtime) string {
		t.Helper()
		if err := drv.Apply(ctx, rt); err != nil {
			t.Fatal(err)
		}
		d, err := c.AppsV1().Deployments(ns).Get(ctx, objectName("web", rt.Revision), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[AnnotationEnv]
	}
	first := template(shopRuntime(tenant))
	again := template(shopRuntime(tenant))
	changed := shopRuntime(tenant)
	changed.Services[0].Env["STAMP_TENANT"] = "acme"
	after := template(changed)
	if first == "" || again != first || after == first {
		t.Errorf("pod template's %s: %q, the same env again %q, a changed env %q; want set, equal, different", AnnotationEnv, first, again, after)
	}
}
