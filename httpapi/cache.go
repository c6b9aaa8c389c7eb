package httpapi

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/bundle"
)

// blueprintCache keeps the parsed stamp.yaml of recently used bundles,
// keyed by digest, so that creating many tenants of one version reads and
// parses its archive once. Bundles are immutable, so entries never go
// stale; the least recently used one is dropped when the cache is full.
type blueprintCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recently used first
	byKey map[string]*list.Element

	// requirements checks the host against a blueprint's requires; nil
	// checks nothing (Config.Requirements).
	requirements func(ctx context.Context, ref string, reqs []stamp.Requirement) error
}

type cacheEntry struct {
	digest string
	bp     *blueprint.Blueprint
}

func newBlueprintCache(max int) *blueprintCache {
	return &blueprintCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

// load returns the parsed blueprint of b, reading it from the store on a
// miss.
func (c *blueprintCache) load(ctx context.Context, src stamp.BundleSource, b *stamp.Bundle) (*blueprint.Blueprint, error) {
	c.mu.Lock()
	if e, ok := c.byKey[b.Digest]; ok {
		c.order.MoveToFront(e)
		c.mu.Unlock()
		return e.Value.(*cacheEntry).bp, nil
	}
	c.mu.Unlock()

	bp, err := readBlueprint(ctx, src, b)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[b.Digest]; !ok {
		c.byKey[b.Digest] = c.order.PushFront(&cacheEntry{digest: b.Digest, bp: bp})
		if c.order.Len() > c.max {
			oldest := c.order.Remove(c.order.Back()).(*cacheEntry)
			delete(c.byKey, oldest.digest)
		}
	}
	return bp, nil
}

// readBlueprint reads and parses the stamp.yaml of a stored bundle. It was
// valid when pushed, so any failure here is an internal error: %v keeps a
// parse problem's code from turning it into the caller's fault.
func readBlueprint(ctx context.Context, src stamp.BundleSource, b *stamp.Bundle) (*blueprint.Blueprint, error) {
	data, err := readManifest(ctx, src, b)
	if err != nil {
		return nil, err
	}
	bp, err := blueprint.Parse(blueprint.FileName, data)
	if err != nil {
		return nil, fmt.Errorf("parse %s of stored bundle %s: %v", blueprint.FileName, b.Ref(), err)
	}
	return bp, nil
}

// readManifest returns the raw stamp.yaml of a stored bundle.
func readManifest(ctx context.Context, src stamp.BundleSource, b *stamp.Bundle) ([]byte, error) {
	content, err := src.BundleContent(ctx, b.Digest)
	if err != nil {
		return nil, fmt.Errorf("read content of bundle %s: %w", b.Ref(), err)
	}
	data, err := bundle.ReadFile(content, blueprint.FileName)
	if err != nil {
		return nil, fmt.Errorf("read %s of stored bundle %s: %v", blueprint.FileName, b.Ref(), err)
	}
	return data, nil
}
