package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// TestAppliedCoversTheCachesLag: a write the cache does not show yet
// counts as applied, until the cache shows it or recentFor passes, and
// not after the driver changed the object otherwise.
func TestAppliedCoversTheCachesLag(t *testing.T) {
	secrets := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	d := &Driver{caches: map[string]cache.Indexer{"secrets": secrets, "namespaces": cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})},
		recent: map[string]recentWrite{}}
	if _, ok := d.applied("secrets", "ns", "web"); ok {
		t.Fatal("an object never written is applied")
	}
	d.wrote("secrets", "ns", "web", "h1")
	if h, ok := d.applied("secrets", "ns", "web"); !ok || h != "h1" {
		t.Errorf("right after the write: %q, %v; want h1", h, ok)
	}
	secrets.Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Annotations: map[string]string{AnnotationApplied: "h1"}}})
	if h, ok := d.applied("secrets", "ns", "web"); !ok || h != "h1" || len(d.recent) != 0 {
		t.Errorf("once the cache shows it: %q, %v, %d recent; want h1 from the cache alone", h, ok, len(d.recent))
	}
	d.wrote("secrets", "ns", "web", "h2")
	d.recent["secrets/ns/web"] = recentWrite{hash: "h2", at: time.Now().Add(-2 * recentFor)}
	if h, _ := d.applied("secrets", "ns", "web"); h != "h1" {
		t.Errorf("a write the cache never showed, long ago: %q; want the cache's h1", h)
	}
	d.wrote("secrets", "ns", "api", "h3")
	d.wrote("namespaces", "", "ns", "h4")
	d.wrote("secrets", "other", "api", "h5")
	d.forget("ns")
	if _, ok := d.recent["secrets/other/api"]; len(d.recent) != 1 || !ok {
		t.Errorf("after forgetting namespace ns: %v; want the other namespace's write alone", d.recent)
	}
}
