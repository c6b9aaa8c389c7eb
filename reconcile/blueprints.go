package reconcile

import (
	"context"
	"fmt"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/bundle"
)

// Blueprint returns the parsed blueprint of name@version, parsing each
// bundle once. A version that does not exist is a terminal error.
func (r *Reconciler) Blueprint(ctx context.Context, name, version string) (*blueprint.Blueprint, error) {
	bp, _, err := r.blueprint(ctx, name, version)
	return bp, err
}

// blueprint returns the parsed blueprint of name@version, parsing each
// bundle once.
func (r *Reconciler) blueprint(ctx context.Context, name, version string) (*blueprint.Blueprint, stamp.BundleRef, error) {
	r.mu.Lock()
	cached, ok := r.versions[name+"@"+version]
	r.mu.Unlock()
	if ok {
		// name@version is immutable: its digest never changes.
		return cached.bp, cached.ref, nil
	}
	b, err := r.cfg.Store.GetBundle(ctx, name, version)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return nil, stamp.BundleRef{}, terminal("blueprint %s@%s does not exist", name, version)
	}
	if err != nil {
		return nil, stamp.BundleRef{}, fmt.Errorf("get blueprint %s@%s: %w", name, version, err)
	}
	ref := stamp.BundleRef{Name: b.Name, Version: b.Version, Digest: b.Digest}
	r.mu.Lock()
	bp := r.blueprints[b.Digest]
	r.mu.Unlock()
	if bp != nil {
		r.mu.Lock()
		r.versions[name+"@"+version] = parsedVersion{bp, ref}
		r.mu.Unlock()
		return bp, ref, nil
	}
	content, err := r.cfg.Store.BundleContent(ctx, b.Digest)
	if err != nil {
		return nil, ref, fmt.Errorf("read bundle %s: %w", b.Ref(), err)
	}
	data, err := bundle.ReadFile(content, blueprint.FileName)
	if err != nil {
		return nil, ref, terminal("bundle %s: %s", b.Ref(), stamp.ErrorMessage(err))
	}
	bp, err = blueprint.Parse(blueprint.FileName, data)
	if err != nil {
		return nil, ref, terminal("blueprint %s: %s", b.Ref(), err)
	}
	r.mu.Lock()
	r.blueprints[b.Digest] = bp
	r.versions[name+"@"+version] = parsedVersion{bp, ref}
	r.mu.Unlock()
	return bp, ref, nil
}

// parsedVersion is a blueprint version, parsed, and its bundle.
type parsedVersion struct {
	bp  *blueprint.Blueprint
	ref stamp.BundleRef
}
