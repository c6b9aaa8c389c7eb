package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/stamphq/stamp/driver/kube"
)

// kinds are the kinds of object the driver writes for a tenant, in the
// order the report lists them. Pods are not among them: the ReplicaSet
// and Job controllers write those.
var kinds = []schema.GroupVersionResource{
	{Version: "v1", Resource: "namespaces"},
	{Version: "v1", Resource: "resourcequotas"},
	{Version: "v1", Resource: "limitranges"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
	{Version: "v1", Resource: "secrets"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Version: "v1", Resource: "services"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
}

// object is one object of a tenant in the cluster.
type object struct {
	resource, key string // key: namespace/name
	// seen is when the bench's watch first saw it: just after the API
	// server stored it, plus the watch's delivery.
	seen time.Time
}

// tracker watches, from the bench's own client, the objects of the
// watched kinds that carry the label of one control plane instance, and
// keeps when it first saw each.
type tracker struct {
	factory   metadatainformer.SharedInformerFactory
	informers map[string]cache.SharedIndexInformer // by resource
	stop      context.CancelFunc
	mu        sync.Mutex
	seen      map[string]time.Time // by resource + " " + key
}

// startTracker starts the watches of the objects of instance and
// returns once their first lists are in.
func startTracker(ctx context.Context, cfg *rest.Config, instance string) (*tracker, error) {
	client, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	sel := kube.LabelInstance + "=" + instance
	f := metadatainformer.NewFilteredSharedInformerFactory(client, 0, metav1.NamespaceAll,
		func(o *metav1.ListOptions) { o.LabelSelector = sel })
	t := &tracker{factory: f, informers: map[string]cache.SharedIndexInformer{}, seen: map[string]time.Time{}}
	for _, gvr := range kinds {
		inf := f.ForResource(gvr).Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { t.saw(gvr.Resource, obj) },
		}); err != nil {
			return nil, fmt.Errorf("watch %s: %w", gvr.Resource, err)
		}
		t.informers[gvr.Resource] = inf
	}
	runCtx, stop := context.WithCancel(context.Background())
	t.stop = stop
	f.Start(runCtx.Done())
	for gvr, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Close()
			return nil, fmt.Errorf("watch %s of instance %s: %w", gvr.Resource, instance, errors.Join(ctx.Err(), errors.New("the first list did not come")))
		}
	}
	return t, nil
}

// saw records the first time obj of resource was seen.
func (t *tracker) saw(resource string, obj any) {
	now := time.Now()
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.seen[resource+" "+key]; !ok {
		t.seen[resource+" "+key] = now
	}
}

// objects returns the objects each tenant has now (by the tenant label;
// those being deleted left out), with when each was first seen, in the
// order of kinds then key.
func (t *tracker) objects() map[string][]object {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string][]object{}
	for _, gvr := range kinds {
		for _, obj := range t.informers[gvr.Resource].GetStore().List() {
			m, ok := obj.(metav1.Object)
			if !ok || m.GetDeletionTimestamp() != nil {
				continue
			}
			tenant := m.GetLabels()[kube.LabelTenant]
			key, err := cache.MetaNamespaceKeyFunc(obj)
			if tenant == "" || err != nil {
				continue
			}
			out[tenant] = append(out[tenant], object{resource: gvr.Resource, key: key, seen: t.seen[gvr.Resource+" "+key]})
		}
	}
	for _, objs := range out {
		slices.SortStableFunc(objs, func(a, b object) int {
			if a.resource != b.resource {
				return resourceOrder(a.resource) - resourceOrder(b.resource)
			}
			return strings.Compare(a.key, b.key)
		})
	}
	return out
}

// resourceOrder is the place of resource in kinds.
func resourceOrder(resource string) int {
	return slices.IndexFunc(kinds, func(g schema.GroupVersionResource) bool { return g.Resource == resource })
}

// Close stops the watches.
func (t *tracker) Close() {
	t.stop()
	t.factory.Shutdown()
}
