package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/stamphq/stamp/driver/kube"
	"github.com/stamphq/stamp/reconcile"
)

// Drivers `stamp server --driver` takes.
const (
	driverLocal = "local"
	driverKube  = "kubernetes"
)

// kubeConfig is how `stamp server --driver kubernetes` reaches its
// cluster and shapes tenants there.
type kubeConfig struct {
	Kubeconfig      string
	Instance        string
	RouterNamespace string
	IngressClass    string
	DataSize        string
	StorageClass    string
	QPS             float32
	Burst           int
}

func (c *kubeConfig) flags(f *pflag.FlagSet) {
	f.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster, with --driver kubernetes (default: $KUBECONFIG, in a pod its service account, else ~/.kube/config)")
	f.StringVar(&c.Instance, "kube-instance", kube.DefaultInstance, "name of this control plane on the cluster: its tenants' namespaces are <instance>-<tenant>, and it never touches another instance's")
	f.StringVar(&c.RouterNamespace, "kube-router-namespace", "", "namespace whose pods may connect to tenants: the stamp server's, or the ingress controller's (default: the server's own in a pod, else stamp-system)")
	f.StringVar(&c.IngressClass, "kube-ingress-class", "", "also write an Ingress per tenant for <tenant>.<base-domain>, of this IngressClass")
	f.StringVar(&c.DataSize, "kube-data-size", kube.DefaultDataSize.String(), "size of the PersistentVolumeClaim holding each tenant's data directory")
	f.StringVar(&c.StorageClass, "kube-storage-class", "", "StorageClass of tenants' data claims (default: the cluster's default)")
	f.Float32Var(&c.QPS, "kube-qps", 50, "requests per second the server sends the API server at most, beyond bursts")
	f.IntVar(&c.Burst, "kube-burst", 100, "requests the server may send the API server at once above --kube-qps")
}

// problems reports what is wrong with the configuration, one line each.
func (c *kubeConfig) problems() []string {
	var out []string
	if err := kube.ValidateInstance(c.Instance); err != nil {
		out = append(out, "--kube-instance: "+err.Error())
	}
	if c.QPS <= 0 || c.Burst < 1 {
		out = append(out, fmt.Sprintf("--kube-qps %g, --kube-burst %d: want both above 0", c.QPS, c.Burst))
	}
	if q, err := resource.ParseQuantity(c.DataSize); err != nil || q.Sign() <= 0 {
		out = append(out, fmt.Sprintf("--kube-data-size %q: want a size such as 1Gi", c.DataSize))
	}
	return out
}

// inClusterNamespace is where a pod finds the namespace it runs in.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// restConfig finds the cluster: --kubeconfig, else $KUBECONFIG, else the
// pod's service account when the server runs in the cluster, else
// ~/.kube/config.
func (c *kubeConfig) restConfig() (*rest.Config, error) {
	if c.Kubeconfig == "" && os.Getenv("KUBECONFIG") == "" {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			return cfg, nil
		}
		if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// routerNamespace is --kube-router-namespace, else the namespace the
// server runs in, else stamp-system.
func (c *kubeConfig) routerNamespace() string {
	if c.RouterNamespace != "" {
		return c.RouterNamespace
	}
	if b, err := os.ReadFile(inClusterNamespace); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b))
	}
	return "stamp-system"
}

// newKubeDriver connects to the cluster and starts the driver's caches.
// tenantPG, the tenant PostgreSQL server, is the one address outside the
// cluster tenants without outbound access may reach.
func newKubeDriver(ctx context.Context, c kubeConfig, baseDomain, tenantPG string, logger *slog.Logger) (*kube.Driver, error) {
	rc, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	rc.UserAgent = "stamp"
	// client-go's default of 5 a second (burst 10) would queue a fleet's
	// creates behind each other: 20 tenants of 10 objects take 40 s.
	rc.QPS, rc.Burst = c.QPS, c.Burst
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	dbs, err := databaseAddrs(ctx, tenantPG)
	if err != nil {
		return nil, err
	}
	size, _ := resource.ParseQuantity(c.DataSize) // validated with the configuration
	d, err := kube.New(ctx, kube.Config{
		Client:   client,
		Instance: c.Instance,
		Network:  kube.Network{RouterNamespace: c.routerNamespace(), Databases: dbs},
		Storage:  kube.Storage{DataSize: size, Class: c.StorageClass},
		Ingress:  kube.Ingress{Class: c.IngressClass, BaseDomain: baseDomain},
		Logger:   logger,
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes at %s: %w", rc.Host, err)
	}
	return d, nil
}

// databaseAddrs resolves the host of the tenant PostgreSQL URL to the
// addresses a network policy lets tenants reach; none without one.
func databaseAddrs(ctx context.Context, tenantPG string) ([]netip.AddrPort, error) {
	if tenantPG == "" {
		return nil, nil
	}
	u, err := url.Parse(tenantPG)
	if err != nil {
		return nil, fmt.Errorf("--tenant-postgres: %w", err)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("--tenant-postgres: resolve %s for the tenants' network policy: %w", u.Hostname(), err)
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		ap, err := netip.ParseAddrPort(net.JoinHostPort(ip.Unmap().String(), port))
		if err != nil {
			return nil, fmt.Errorf("--tenant-postgres: port %q: %w", port, err)
		}
		out = append(out, ap)
	}
	return out, nil
}

// onKubernetes describes the isolation the Kubernetes driver writes
// into each tenant's namespace; the cluster enforces it.
func (iso *isolation) onKubernetes(uids reconcile.UIDRange) {
	iso.uids = uids
	if uids.Size() == 0 {
		iso.gap("users", "off (--tenant-uids none): every tenant's containers run as uid 65532")
	} else {
		iso.enforced("users", fmt.Sprintf("one per tenant from %d-%d, as the pods' runAsUser, never root (the namespace enforces the restricted pod security standard)", uids.Min, uids.Max))
	}
	iso.enforced("limits", "a ResourceQuota and a LimitRange per tenant from its plan")
	iso.enforced("network", "a default-deny NetworkPolicy per tenant, if the cluster's network plugin enforces network policies")
}

// printCluster says which cluster the server would use and whether it
// answers, for `stamp server --check`.
func printCluster(ctx context.Context, w io.Writer, c kubeConfig) error {
	rc, err := c.restConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("kubernetes at %s does not answer: %w", rc.Host, err)
	}
	fmt.Fprintf(w, "cluster: %s, Kubernetes %s; tenants in namespaces %s-<tenant>, reachable from namespace %s\n",
		rc.Host, v.GitVersion, c.Instance, c.routerNamespace())
	return nil
}
