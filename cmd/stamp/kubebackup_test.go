package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp/driver/kube"
)

// TestKubeBackupRestoreClone runs backup, restore, clone, suspend and
// resume, export and import of tenants on the Kubernetes driver with
// PostgreSQL databases (the test cluster runs no container, so the test
// writes the rows the app would), then collects a namespace no tenant
// owns.
func TestKubeBackupRestoreClone(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	_, tenantPG := tenantCluster(t)
	s, instance := startKubeServer(t, c, kubeconfig, "--tenant-postgres", tenantPG)
	s.mustCLI("blueprint", "push", editBlueprint(t, kubeBlueprint(t, "1.0.0"),
		"services:", "databases:\n  main: { engine: postgres }\nservices:",
		"      DATA: ${tenant.dir}", "      DATA: ${tenant.dir}\n      DATABASE_URL: ${db.main.url}"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "kshop")
	ctx := context.Background()
	appURL := func(tenant string) string {
		t.Helper()
		sec, err := c.CoreV1().Secrets(instance+"-"+tenant).Get(ctx, "web-1-0-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(sec.Data["DATABASE_URL"])
	}
	exec := func(tenant, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, appURL(tenant))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s on %s: %v", sql, tenant, err)
		}
	}
	rows := func(tenant string) string {
		t.Helper()
		conn, err := pgx.Connect(ctx, appURL(tenant))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		r, err := conn.Query(ctx, `SELECT name FROM customers ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(names, ",")
	}
	exec("acme", `CREATE TABLE customers (id serial PRIMARY KEY, name text)`)
	exec("acme", `INSERT INTO customers (name) VALUES ('wile'), ('road')`)
	s.mustCLI("tenant", "backup", "acme")
	exec("acme", `INSERT INTO customers (name) VALUES ('after')`)

	if out := s.mustCLI("tenant", "restore", "acme"); !strings.Contains(out, "ready: ") {
		t.Errorf("restore on Kubernetes:\n%s", out)
	}
	if got := rows("acme"); got != "wile,road" {
		t.Errorf("acme's customers after restore: %q", got)
	}
	exec("acme", `INSERT INTO customers (name) VALUES ('coyote')`) // the app's role owns what was loaded

	s.mustCLI("tenant", "clone", "acme", "staging") // from the latest backup
	if got := rows("staging"); got != "wile,road" {
		t.Errorf("the clone's customers: %q", got)
	}
	if appURL("staging") == appURL("acme") {
		t.Errorf("the clone connects as its source")
	}
	exec("staging", `INSERT INTO customers (name) VALUES ('staging')`)
	if strings.Contains(rows("acme"), "staging") {
		t.Errorf("a write to the clone shows in its source")
	}

	// Suspended, its deployments scale to nothing; resumed, it serves its data.
	if out := s.mustCLI("tenant", "suspend", "staging"); !strings.Contains(out, "suspended: its instances are stopped") {
		t.Errorf("suspend on Kubernetes:\n%s", out)
	}
	deps, err := c.AppsV1().Deployments(instance+"-staging").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
			t.Errorf("deployment %s of the suspended tenant has replicas %v", d.Name, d.Spec.Replicas)
		}
	}
	if out := s.mustCLI("tenant", "resume", "staging"); !strings.Contains(out, "ready: ") {
		t.Errorf("resume on Kubernetes:\n%s", out)
	}
	if got := rows("staging"); got != "wile,road,staging" {
		t.Errorf("the resumed tenant's customers: %q", got)
	}

	export := filepath.Join(t.TempDir(), "acme.stamp")
	s.mustCLI("tenant", "delete", "acme", "--export", export)
	s.mustCLI("tenant", "import", "acme-again", export)
	if got := rows("acme-again"); got != "wile,road,coyote" {
		t.Errorf("the tenant from the export: %q", got)
	}

	plantNamespace(t, c, instance, "ghost")
	if out := s.mustCLI("gc"); !strings.Contains(out, "ghost") || strings.Contains(out, "staging") {
		t.Errorf("gc on Kubernetes:\n%s", out)
	}
	if _, err := c.CoreV1().Namespaces().Get(ctx, instance+"-ghost", metav1.GetOptions{}); err == nil {
		t.Errorf("the orphan namespace is still there")
	}
}

// plantNamespace makes the namespace of a tenant the store does not
// know, as a deletion cut short would leave it.
func plantNamespace(t *testing.T, c kubernetes.Interface, instance, tenant string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: instance + "-" + tenant, Labels: map[string]string{
		kube.LabelInstance: instance, kube.LabelTenant: tenant, kube.LabelManagedBy: "stamp"}}}
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
