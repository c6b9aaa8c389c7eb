package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The manifests an operator applies to run stamp server on a cluster
// (docs/kubernetes.md).
const (
	deployManifest  = "../../deploy/kubernetes/stamp.yaml"
	ingressManifest = "../../deploy/kubernetes/ingress-rbac.yaml"
)

// refusedWithin bounds each step of the tests below: a write the role
// does not allow is retried with backoff for ever, and the CLI would
// wait its default minutes for it.
const refusedWithin = "60s"

// TestKubeLeastPrivilegeRole runs the server as a service account bound
// to nothing but the ClusterRole of the deploy manifest, and drives a
// tenant through create (hooks as Jobs), logs, a blue/green upgrade
// (retiring the old revision) and delete. A verb the role lacks shows as
// the API server's Forbidden in the server's log, or as a step that
// never finishes.
func TestKubeLeastPrivilegeRole(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	objs := manifestObjects(t, deployManifest)
	for _, o := range objs {
		if r, ok := o.(*rbacv1.ClusterRole); ok {
			checkNoWildcards(t, r)
		}
	}
	s, instance := startKubeServer(t, c, boundKubeconfig(t, c, kubeconfig, objs))
	ctx := context.Background()
	s.mustCLI("blueprint", "push", kubeBlueprint(t, "1.0.0"))
	s.mustCLI("blueprint", "push", kubeBlueprint(t, "1.1.0"))
	name := "acme"
	ns := instance + "-" + name
	s.mustCLI("tenant", "create", name, "--blueprint", "kshop@1.0.0", "--timeout", refusedWithin)
	if jobs := jobNames(t, c, ns); !slices.Equal(jobs, []string{"task-migrate-1-0-0-g1", "task-seed-g1"}) {
		t.Errorf("jobs %v, want the migrate and seed hooks'", jobs)
	}
	waitMonitorHealthy(t, s, name)
	if out := s.mustCLI("tenant", "logs", name, "--service", "web"); !strings.Contains(out, "kwok: the log of every container") {
		t.Errorf("tenant logs: %q, want the container log kwok serves", out)
	}

	s.mustCLI("tenant", "upgrade", name, "--to", "1.1.0", "--timeout", refusedWithin)
	svc, err := c.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := s.tenant(name).Status.Version; v != "1.1.0" || svc.Spec.Selector["stamp.dev/revision"] != "1-1-0" {
		t.Errorf("after the upgrade: version %s, service selects %v; want 1.1.0, revision 1-1-0", v, svc.Spec.Selector)
	}
	waitFor(t, "the old revision to be retired", 30*time.Second, func() bool {
		return slices.Equal(deploymentsIn(t, c, ns), []string{"web-1-1-0"})
	})

	s.mustCLI("tenant", "delete", name, "--timeout", refusedWithin)
	if left := kubeObjectsOf(t, instance, name); len(left) > 0 {
		t.Errorf("objects of the deleted tenant left: %v", left)
	}
	checkNotForbidden(t, s)
}

// TestKubeLeastPrivilegeIngress: with --kube-ingress-class the server
// needs the ClusterRole of the ingress manifest beside the deploy
// manifest's, and no more.
func TestKubeLeastPrivilegeIngress(t *testing.T) {
	kubeconfig, c := kubeCluster(t)
	objs := append(manifestObjects(t, deployManifest), manifestObjects(t, ingressManifest)...)
	for _, o := range objs {
		if r, ok := o.(*rbacv1.ClusterRole); ok {
			checkNoWildcards(t, r)
		}
	}
	s, instance := startKubeServer(t, c, boundKubeconfig(t, c, kubeconfig, objs),
		"--kube-ingress-class", "nginx", "--base-domain", "shop.example")
	s.mustCLI("blueprint", "push", kubeBlueprint(t, "1.0.0"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "kshop", "--timeout", refusedWithin)
	ing, err := c.NetworkingV1().Ingresses(instance+"-acme").Get(context.Background(), "stamp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "acme.shop.example" {
		t.Errorf("ingress rules %+v: want one for acme.shop.example", ing.Spec.Rules)
	}
	s.mustCLI("tenant", "delete", "acme", "--timeout", refusedWithin)
	checkNotForbidden(t, s)
}

// manifestObjects decodes every document of the manifest at path,
// strictly: a field Kubernetes does not know fails the test.
func manifestObjects(t *testing.T, path string) []runtime.Object {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decode a document of %s: %v\n%s", path, err, doc)
		}
		out = append(out, obj)
	}
	return out
}

// checkNoWildcards fails the test if role grants any verb, resource or
// API group by "*", or a URL that is no resource.
func checkNoWildcards(t *testing.T, role *rbacv1.ClusterRole) {
	t.Helper()
	if role.AggregationRule != nil {
		t.Errorf("ClusterRole %s aggregates other roles", role.Name)
	}
	for i, r := range role.Rules {
		for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups} {
			if slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, "*") }) {
				t.Errorf("ClusterRole %s rule %d has a wildcard: %+v", role.Name, i, r)
			}
		}
		if len(r.NonResourceURLs) > 0 || len(r.Verbs) == 0 || len(r.Resources) == 0 {
			t.Errorf("ClusterRole %s rule %d: want verbs on resources only, got %+v", role.Name, i, r)
		}
	}
}

// boundKubeconfig makes, on the cluster of the admin kubeconfig
// adminPath, the ClusterRoles of objs and a service account in a
// namespace of its own bound to them by objs' ClusterRoleBindings,
// every name made unique so that runs at once do not meet; and returns
// the path of a kubeconfig with a token of that account. Everything it
// made is deleted when the test ends.
func boundKubeconfig(t *testing.T, c kubernetes.Interface, adminPath string, objs []runtime.Object) string {
	t.Helper()
	ctx := context.Background()
	suffix := fmt.Sprintf("-t%05x", rand.IntN(1<<20))
	ns := "stamp-rbac" + suffix
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	var account *corev1.ServiceAccount
	roles := map[string]string{} // manifest name -> name in this run
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			account = o
		case *rbacv1.ClusterRole:
			name := o.Name + suffix
			roles[o.Name] = name
			role := o.DeepCopy()
			role.Name = name
			if _, err := c.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		}
	}
	if account == nil {
		t.Fatal("the manifests have no ServiceAccount")
	}
	sa, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account.Name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bindings := 0
	for _, o := range objs {
		b, ok := o.(*rbacv1.ClusterRoleBinding)
		if !ok {
			continue
		}
		bindings++
		want := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: account.Name, Namespace: account.Namespace}
		role, ok := roles[b.RoleRef.Name]
		if b.RoleRef.Kind != "ClusterRole" || !ok || !slices.Equal(b.Subjects, []rbacv1.Subject{want}) {
			t.Fatalf("ClusterRoleBinding %s binds %+v to %+v: want a ClusterRole of the manifests bound to %+v only", b.Name, b.RoleRef, b.Subjects, want)
		}
		bind := b.DeepCopy()
		bind.Name += suffix
		bind.RoleRef.Name = role
		bind.Subjects[0].Namespace = ns
		if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, bind, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.RbacV1().ClusterRoleBindings().Delete(context.Background(), bind.Name, metav1.DeleteOptions{})
		})
	}
	if bindings != len(roles) {
		t.Fatalf("the manifests have %d ClusterRoles and %d ClusterRoleBindings: want one binding each", len(roles), bindings)
	}

	expiry := int64(3600)
	tok, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return writeTokenKubeconfig(t, adminPath, tok.Status.Token)
}

// writeTokenKubeconfig writes a kubeconfig for the cluster of the
// kubeconfig at adminPath (its server and CA) with token, and returns its
// path.
func writeTokenKubeconfig(t *testing.T, adminPath, token string) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(adminPath)
	if err != nil {
		t.Fatal(err)
	}
	cur, ok := admin.Contexts[admin.CurrentContext]
	if !ok || admin.Clusters[cur.Cluster] == nil {
		t.Fatalf("kubeconfig %s: no cluster for its current context %q", adminPath, admin.CurrentContext)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = admin.Clusters[cur.Cluster]
	cfg.AuthInfos["stamp"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["stamp"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "stamp"}
	cfg.CurrentContext = "stamp"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkNotForbidden fails the test if the API server refused the server
// anything, with the lines that say what.
func checkNotForbidden(t *testing.T, s *stampServer) {
	t.Helper()
	var refused []string
	for line := range strings.Lines(s.log()) {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			refused = append(refused, strings.TrimSpace(line))
		}
	}
	if len(refused) > 0 {
		t.Errorf("the API server refused the server's service account %d times:\n%s", len(refused), strings.Join(refused, "\n"))
	}
}
