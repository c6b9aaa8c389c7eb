package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	stamp "github.com/stamphq/stamp"
)

// Config configures the driver.
type Config struct {
	Client kubernetes.Interface
	// Instance names this control plane on the cluster (DefaultInstance
	// if empty): its tenants' namespaces are <Instance>-<tenant>, and
	// the driver sees and touches only objects labelled with it, so that
	// two control planes (production and staging, say) share a cluster.
	Instance string
	Network  Network
	Storage  Storage
	// Ingress, if its Class is set, has Switch write an Ingress per
	// tenant for a controller of that class.
	Ingress Ingress
	Logger  *slog.Logger
}

// Driver runs tenants on Kubernetes, a namespace each. It reads what it
// made through shared informers, one per kind, that watch only objects
// labelled as managed by stamp: observing a tenant costs the API server
// nothing, and an unchanged tenant is not written again.
type Driver struct {
	cfg     Config
	factory informers.SharedInformerFactory
	caches  map[string]cache.Indexer // by resource name
	stop    context.CancelFunc

	mu     sync.Mutex
	recent map[string]recentWrite // by kind/ns/name, until the cache shows it
}

// recentWrite is a write of the driver's the cache may not show yet.
type recentWrite struct {
	hash string
	at   time.Time
}

// recentFor is how long a write stands for what the cache does not show:
// the cache follows the API server's watch within milliseconds, so a
// longer gap means another hand changed or deleted the object.
const recentFor = 10 * time.Second

// New starts the driver's informers and returns once their caches hold
// what the cluster has.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Instance == "" {
		cfg.Instance = DefaultInstance
	}
	if err := ValidateInstance(cfg.Instance); err != nil {
		return nil, err
	}
	sel := fmt.Sprintf("%s=%s,%s=%s", LabelManagedBy, managedBy, LabelInstance, cfg.Instance)
	f := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	caches := map[string]cache.Indexer{
		"namespaces":             f.Core().V1().Namespaces().Informer().GetIndexer(),
		"resourcequotas":         f.Core().V1().ResourceQuotas().Informer().GetIndexer(),
		"limitranges":            f.Core().V1().LimitRanges().Informer().GetIndexer(),
		"networkpolicies":        f.Networking().V1().NetworkPolicies().Informer().GetIndexer(),
		"serviceaccounts":        f.Core().V1().ServiceAccounts().Informer().GetIndexer(),
		"secrets":                f.Core().V1().Secrets().Informer().GetIndexer(),
		"deployments":            f.Apps().V1().Deployments().Informer().GetIndexer(),
		"services":               f.Core().V1().Services().Informer().GetIndexer(),
		"pods":                   f.Core().V1().Pods().Informer().GetIndexer(),
		"jobs":                   f.Batch().V1().Jobs().Informer().GetIndexer(),
		"persistentvolumeclaims": f.Core().V1().PersistentVolumeClaims().Informer().GetIndexer(),
	}
	if cfg.Ingress.Class != "" {
		caches["ingresses"] = f.Networking().V1().Ingresses().Informer().GetIndexer()
	}
	runCtx, stop := context.WithCancel(context.Background())
	f.Start(runCtx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			stop()
			f.Shutdown()
			return nil, fmt.Errorf("kubernetes driver: the cache of %s did not fill: %w", typ, errors.Join(ctx.Err(), errors.New("is the API server reachable?")))
		}
	}
	return &Driver{cfg: cfg, factory: f, caches: caches, stop: stop, recent: map[string]recentWrite{}}, nil
}

// ValidateInstance checks a control plane's instance name: a DNS label
// of at most 20 characters, which leaves a tenant's name room in its
// namespace's.
func ValidateInstance(name string) error {
	if len(name) > 20 || len(validation.IsDNS1123Label(name)) > 0 {
		return fmt.Errorf("kubernetes instance name %q: want at most 20 of a-z, 0-9 and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// ns returns the namespace of tenant.
func (d *Driver) ns(tenant string) string { return namespaceOf(d.cfg.Instance, tenant) }

// Close stops the informers.
func (d *Driver) Close() error {
	d.stop()
	d.factory.Shutdown()
	return nil
}

// applied returns the hash the cache shows applied to an object, or
// that of the driver's own write of it the cache does not show yet
// (see appliedState).
func (d *Driver) applied(kind, ns, name string) (string, bool) {
	hash, ok := d.cached(kind, ns, name)
	key := kind + "/" + ns + "/" + name
	d.mu.Lock()
	defer d.mu.Unlock()
	w, recent := d.recent[key]
	switch {
	case !recent:
		return hash, ok
	case ok && hash == w.hash, time.Since(w.at) > recentFor:
		delete(d.recent, key) // the cache caught up, or never will
		return hash, ok
	}
	return w.hash, true
}

// wrote records a write of the driver's for applied.
func (d *Driver) wrote(kind, ns, name, hash string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recent[kind+"/"+ns+"/"+name] = recentWrite{hash: hash, at: time.Now()}
}

// forget drops the recent writes of the kinds in namespace ns, the
// namespace itself with them if kinds is empty: the driver changed or
// deleted those objects otherwise than by applying them.
func (d *Driver) forget(ns string, kinds ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key := range d.recent {
		kind, rest, _ := strings.Cut(key, "/")
		inNS := strings.HasPrefix(rest, ns+"/") || kind == "namespaces" && rest == "/"+ns
		if inNS && (len(kinds) == 0 || slices.Contains(kinds, kind)) {
			delete(d.recent, key)
		}
	}
}

// cached returns the AnnotationApplied of an object in the cache.
func (d *Driver) cached(kind, ns, name string) (string, bool) {
	key := name
	if ns != "" {
		key = ns + "/" + name
	}
	obj, ok, err := d.caches[kind].GetByKey(key)
	if err != nil || !ok {
		return "", false
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", false
	}
	return m.GetAnnotations()[AnnotationApplied], true
}

// Apply writes what rt's revision of its tenant needs and the cluster
// does not have yet. A write the cache has not seen yet is written again
// at worst, which changes nothing. A tenant's first revision gets its
// Services with its workloads, so that all it needs is applied at once;
// Switch, at the route step, then finds them pointing at it already.
func (d *Driver) Apply(ctx context.Context, rt *stamp.Runtime) error {
	o, err := desired(rt, d.cfg)
	if err != nil {
		return err
	}
	if _, err := apply(ctx, d.cfg.Client, o, d); err != nil {
		return err
	}
	ns := d.ns(rt.Tenant)
	if d.holdsOtherRevision("deployments", ns, rt.Revision) {
		return nil // the Services serve another revision until Switch
	}
	for _, p := range publicOf(rt, d.cfg.Instance) {
		if _, ok, _ := d.caches["services"].GetByKey(ns + "/" + fit(p.service)); ok {
			continue
		}
		if _, err := d.switchService(ctx, ns, p); err != nil {
			return err
		}
	}
	return nil
}

// Tenants lists the tenants that have a namespace of the driver's.
func (d *Driver) Tenants(ctx context.Context) ([]string, error) {
	var out []string
	for _, obj := range d.caches["namespaces"].List() {
		if m, err := meta.Accessor(obj); err == nil && m.GetLabels()[LabelTenant] != "" {
			out = append(out, m.GetLabels()[LabelTenant])
		}
	}
	slices.Sort(out)
	return out, nil
}

// Remove deletes the tenant's namespace, everything in it with it, and
// returns once the API server has removed it: until then a tenant of the
// same name cannot be made again.
func (d *Driver) Remove(ctx context.Context, tenant string) error {
	ns := d.ns(tenant)
	d.forget(ns)
	fg := metav1.DeletePropagationForeground
	err := d.cfg.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{PropagationPolicy: &fg})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	return d.waitGone(ctx, ns)
}

// waitGone waits until namespace ns has left the driver's cache, which
// follows the API server's watch.
func (d *Driver) waitGone(ctx context.Context, ns string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, ok, _ := d.caches["namespaces"].GetByKey(ns); !ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s is still being deleted: %w", ns, ctx.Err())
		case <-tick.C:
		}
	}
}

// Retire deletes the tenant's workloads and their secrets of every
// revision but keep. The tenant's Services stay: Switch points them. A
// kind of which the cache holds nothing of another revision (a tenant's
// first provisioning) is not asked for: the older revisions were
// applied long before, so the cache has them.
func (d *Driver) Retire(ctx context.Context, tenant, keep string) error {
	ns := d.ns(tenant)
	sel := metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=%s,%s,%s!=%s", LabelManagedBy, managedBy, LabelRevision, LabelRevision, labelSafe(keep))}
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	c := d.cfg.Client
	for what, del := range map[string]func() error{
		"deployments": func() error { return c.AppsV1().Deployments(ns).DeleteCollection(ctx, opts, sel) },
		"secrets":     func() error { return c.CoreV1().Secrets(ns).DeleteCollection(ctx, opts, sel) },
	} {
		if !d.holdsOtherRevision(what, ns, keep) {
			continue
		}
		d.forget(ns, what)
		if err := del(); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("retire %s of %s but revision %s: %w", what, tenant, keep, err)
		}
	}
	return nil
}

// holdsOtherRevision reports whether the cache of kind holds an object
// in ns of a revision other than keep.
func (d *Driver) holdsOtherRevision(kind, ns, keep string) bool {
	objs, _ := d.caches[kind].ByIndex(cache.NamespaceIndex, ns)
	for _, obj := range objs {
		if rev, ok := obj.(metav1.Object).GetLabels()[LabelRevision]; ok && rev != labelSafe(keep) {
			return true
		}
	}
	return false
}

// stopPatch scales a deployment to nothing and forgets what was applied
// to it, so that the next Apply writes it again, replicas included.
var stopPatch = []byte(`{"metadata":{"annotations":{"` + AnnotationApplied + `":null}},"spec":{"replicas":0}}`)

// Stop scales every deployment of the tenant to zero and keeps the rest
// of it: its namespace, secrets and services. The next Apply starts it
// again.
func (d *Driver) Stop(ctx context.Context, tenant string) error {
	ns := d.ns(tenant)
	d.forget(ns, "deployments")
	deps, err := d.caches["deployments"].ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return fmt.Errorf("stop %s: %w", tenant, err)
	}
	for _, obj := range deps {
		name := obj.(metav1.Object).GetName()
		_, err := d.cfg.Client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, stopPatch, metav1.PatchOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("stop %s: scale deployment %s/%s to 0: %w", tenant, ns, name, err)
		}
	}
	return nil
}

// Remote reports that tenants run on the cluster: Kubernetes probes
// their instances (Observe lists a pod once its readiness probe passes)
// and runs their tasks.
func (d *Driver) Remote() bool { return true }

var (
	_ stamp.Driver    = (*Driver)(nil)
	_ stamp.Stopper   = (*Driver)(nil)
	_ stamp.Switcher  = (*Driver)(nil)
	_ stamp.Remote    = (*Driver)(nil)
	_ stamp.LogReader = (*Driver)(nil)
)
