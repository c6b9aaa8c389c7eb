// Package kubetest connects tests to the test cluster that scripts/kube
// starts: a real kube-apiserver with etcd, a controller manager and a
// scheduler, and kwok, a simulated kubelet that marks pods Running and
// Ready and Jobs complete without running a container.
package kubetest

import (
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is the test cluster as a test reaches it.
type Cluster struct {
	// Kubeconfig is the path of its admin kubeconfig.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
}

// Connect returns the test cluster STAMP_TEST_KUBECONFIG names. Without
// one the test is skipped, or fails where STAMP_TEST_KUBE=required (as
// the README's test command sets it).
func Connect(t testing.TB) *Cluster {
	t.Helper()
	path := os.Getenv("STAMP_TEST_KUBECONFIG")
	if path == "" {
		if os.Getenv("STAMP_TEST_KUBE") == "required" {
			t.Fatal("STAMP_TEST_KUBECONFIG is not set: start a test cluster with scripts/kube start DIR")
		}
		t.Skip("no test cluster: set STAMP_TEST_KUBECONFIG (scripts/kube start DIR prints it)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", path, err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client of %s: %v", cfg.Host, err)
	}
	return &Cluster{Kubeconfig: path, Config: cfg, Client: c}
}
