package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/stamphq/stamp/driver/kube"
)

// cluster is the Kubernetes cluster of the run, reached as its admin.
type cluster struct {
	config  *rest.Config
	client  kubernetes.Interface
	version string // the API server's, such as v1.31.4
	// dir is where scripts/kube keeps the cluster the bench started, ""
	// for one it was given; root is the module root, which holds the
	// script.
	dir, root string
}

// startCluster starts a test cluster in dir with scripts/kube. The
// returned cluster is non-nil whenever something may have started, so
// the caller can stop it.
func startCluster(ctx context.Context, root, dir string) (*cluster, error) {
	c := &cluster{dir: dir, root: root}
	cmd := exec.CommandContext(ctx, "scripts/kube", "start", dir)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return c, fmt.Errorf("scripts/kube start: %w\n%s", err, stderr.String())
	}
	return c, c.connect(strings.TrimSpace(string(out)))
}

// connectCluster reaches the cluster of kubeconfig, which the bench did
// not start.
func connectCluster(kubeconfig string) (*cluster, error) {
	c := &cluster{}
	return c, c.connect(kubeconfig)
}

// connect makes the admin client from kubeconfig and asks the API
// server's version.
func (c *cluster) connect(kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	// The bench's own reads (the watches' lists, the metrics) must not
	// queue behind client-go's default of 5 a second.
	cfg.QPS, cfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("kubernetes at %s does not answer: %w", cfg.Host, err)
	}
	c.config, c.client, c.version = cfg, client, v.GitVersion
	return nil
}

// started reports whether the bench started the cluster.
func (c *cluster) started() bool { return c.dir != "" }

// stop stops the cluster if the bench started it.
func (c *cluster) stop() error {
	if !c.started() {
		return nil
	}
	cmd := exec.Command("scripts/kube", "stop", c.dir)
	cmd.Dir = c.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/kube stop: %w\n%s", err, out)
	}
	return nil
}

// deleteInstance deletes the namespaces of control plane instance, and
// with them everything of its tenants, without waiting for them to go.
func (c *cluster) deleteInstance(ctx context.Context, instance string) error {
	list, err := c.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: kube.LabelInstance + "=" + instance})
	if err != nil {
		return fmt.Errorf("list the namespaces of instance %s: %w", instance, err)
	}
	for _, ns := range list.Items {
		if err := c.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete namespace %s: %w", ns.Name, err)
		}
	}
	return nil
}

// requestTotals reads the API server's own count of the requests it
// answered (apiserver_request_total of its /metrics), summed over
// response codes, by verb and resource. It counts every client's
// requests, the controllers' included.
func (c *cluster) requestTotals(ctx context.Context) (map[verbResource]float64, error) {
	b, err := c.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the API server's metrics: %w", err)
	}
	return parseRequestTotals(b)
}

// verbResource is a verb, as the API server's metrics name it (APPLY,
// POST, ...), and a resource.
type verbResource struct{ verb, resource string }

// metricLabel matches one label="value" of a Prometheus text line.
var metricLabel = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// parseRequestTotals sums the apiserver_request_total samples of a
// Prometheus text exposition by verb and resource.
func parseRequestTotals(text []byte) (map[verbResource]float64, error) {
	out := map[verbResource]float64{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(line, "} ")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			return nil, fmt.Errorf("apiserver_request_total line without a value: %q", sc.Text())
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("apiserver_request_total value %q: %w", value, err)
		}
		var k verbResource
		for _, m := range metricLabel.FindAllStringSubmatch(labels, -1) {
			switch m[1] {
			case "verb":
				k.verb = m[2]
			case "resource":
				k.resource = m[2]
			}
		}
		out[k] += v
	}
	return out, sc.Err()
}
