package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/bundle"
)

// BundleDetail is a bundle as `stamp blueprint show` sees it: its metadata,
// the text of its stamp.yaml and the tenants on it (running it, or moving
// to or from it), sorted.
type BundleDetail struct {
	stamp.Bundle
	Blueprint string   `json:"blueprint"`
	Tenants   []string `json:"tenants"`
}

// handleBlueprintPush stores a bundle archive sent as the request body:
// 201 when new, 200 when the same content is already stored, 409 when the
// version exists with other content. The answer lists what the blueprint
// requires and this host lacks (PushedBundle.Missing): the push stands,
// but tenants of it are refused until the host provides it; and, with
// sharedNetwork, each service whose declared port its instances will not
// get (PushedBundle.Notes). A Stamp-Build-Duration header (see
// BuildDurationHeader) has the push recorded with a blueprint.built event.
func handleBlueprintPush(st Store, cache *blueprintCache, clock stamp.Clock, sharedNetwork bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		content, err := io.ReadAll(r.Body)
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				writeError(w, r, bodyTooLarge(maxErr))
				return
			}
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "read request body: %v", err))
			return
		}
		b, bp, err := parseBundle(content)
		if err != nil {
			writeError(w, r, err)
			return
		}
		built, err := buildDuration(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		missing := cache.missing(r.Context(), b, bp)
		var notes []string
		if sharedNetwork {
			notes = declaredPortNotes(bp)
		}

		existing, err := st.GetBundle(r.Context(), b.Name, b.Version)
		switch {
		case err == nil && existing.Digest == b.Digest:
			encode(w, r, http.StatusOK, PushedBundle{Bundle: *existing, Missing: missing, Notes: notes})
			return
		case err != nil && stamp.ErrorCode(err) != stamp.ENOTFOUND:
			writeError(w, r, fmt.Errorf("get bundle %s: %w", b.Ref(), err))
			return
		}
		// A different digest falls through: the store refuses it with its
		// own ECONFLICT message.
		if err := st.CreateBundle(r.Context(), b); err != nil {
			writeError(w, r, fmt.Errorf("store bundle %s: %w", b.Ref(), err))
			return
		}
		now := clock.Now()
		events := []*stamp.Event{{
			Time:    now,
			Type:    stamp.EventBlueprintPushed,
			Message: fmt.Sprintf("%s (%s, %s)", b.Ref(), b.Digest, humanBytes(b.Size)),
		}}
		if built > 0 {
			events = append(events, &stamp.Event{
				Time: now, Type: stamp.EventBlueprintBuilt, Step: "build", Status: stamp.StatusOK,
				StartedAt: now.Add(-built), FinishedAt: now,
				Message: fmt.Sprintf("%s built in %s: %s", b.Ref(), built.Round(time.Millisecond), strings.Join(bp.Build, " ")),
			})
		}
		if err := st.AppendEvents(r.Context(), events...); err != nil {
			writeError(w, r, fmt.Errorf("record push of %s: %w", b.Ref(), err))
			return
		}
		encode(w, r, http.StatusCreated, PushedBundle{Bundle: *b, Missing: missing, Notes: notes})
	})
}

// declaredPortNotes says, for each service of bp that declares a port,
// that on a shared network its instances get ports of the server's
// choosing instead, and how the app learns its port.
func declaredPortNotes(bp *blueprint.Blueprint) []string {
	var notes []string
	for _, name := range bp.ServiceNames() {
		if port := bp.Services[name].Port; port > 0 {
			notes = append(notes, fmt.Sprintf("service %s declares port %d, which this server cannot give it: tenants share the host's network here, "+
				"so each instance gets a port of its own; an app fixed on port %d fails its health check. "+
				"Have it listen where the server says: ${listen} (or ${host} and ${port}) in its command or env, or $HOST and $PORT", name, port, port))
		}
	}
	return notes
}

// parseBundle validates an uploaded archive and describes it as a Bundle.
// The whole archive is checked by the rules it is unpacked by, so that a
// bundle accepted here can be extracted when a tenant is created.
func parseBundle(content []byte) (*stamp.Bundle, *blueprint.Blueprint, error) {
	if err := bundle.Validate(content); err != nil {
		return nil, nil, err
	}
	data, err := bundle.ReadFile(content, blueprint.FileName)
	switch {
	case stamp.ErrorCode(err) == stamp.ENOTFOUND:
		return nil, nil, stamp.Errorf(stamp.EUNPROCESSABLE, "bundle has no %s at its root", blueprint.FileName)
	case err != nil:
		return nil, nil, err
	}
	bp, err := blueprint.Parse(blueprint.FileName, data)
	if err != nil {
		return nil, nil, err
	}
	return &stamp.Bundle{
		Name:        bp.Name,
		Version:     bp.Version,
		Description: bp.Description,
		Digest:      bundle.Digest(content),
		Size:        int64(len(content)),
		Content:     content,
	}, bp, nil
}

// handleBlueprintList lists every stored bundle.
func handleBlueprintList(st stamp.BundleStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bundles, err := st.ListBundles(r.Context())
		if err != nil {
			writeError(w, r, fmt.Errorf("list bundles: %w", err))
			return
		}
		encode(w, r, http.StatusOK, bundleList{Blueprints: nonNil(bundles)})
	})
}

type bundleList struct {
	Blueprints []*stamp.Bundle `json:"blueprints"`
}

// handleBlueprintGet returns one bundle with its stamp.yaml; without a
// version in the path, the latest version (the highest not yanked).
func handleBlueprintGet(st Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := findBundle(r.Context(), st, r.PathValue("name"), r.PathValue("version"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		data, err := readManifest(r.Context(), st, b)
		if err != nil {
			writeError(w, r, err)
			return
		}
		tenants, err := tenantsOn(r.Context(), st, b.Name, b.Version)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if tok := requestToken(r.Context()); tok != nil && tok.Tenant != "" {
			// A token confined to a tenant learns of no other.
			tenants = slices.DeleteFunc(tenants, func(name string) bool { return name != tok.Tenant })
		}
		encode(w, r, http.StatusOK, BundleDetail{Bundle: *b, Blueprint: string(data), Tenants: nonNil(tenants)})
	})
}

// findBundle returns name@version, yanked or not, or when version is
// empty the latest version of name: the highest by semantic version that
// is not yanked (ECONFLICT when every one is). Its ENOTFOUND names the
// versions that do exist.
func findBundle(ctx context.Context, st stamp.BundleStore, name, version string) (*stamp.Bundle, error) {
	if version != "" {
		b, err := st.GetBundle(ctx, name, version)
		if stamp.ErrorCode(err) != stamp.ENOTFOUND {
			if err != nil {
				return nil, fmt.Errorf("get bundle %s@%s: %w", name, version, err)
			}
			return b, nil
		}
	}
	all, err := st.ListBundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	var versions []*stamp.Bundle
	for _, b := range all {
		if b.Name == name {
			versions = append(versions, b)
		}
	}
	if len(versions) == 0 {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "blueprint %q does not exist", name)
	}
	slices.SortFunc(versions, func(a, b *stamp.Bundle) int { return blueprint.CompareVersions(a.Version, b.Version) })
	names := make([]string, len(versions))
	for i, b := range versions {
		names[i] = b.Version
	}
	if version == "" {
		for _, b := range slices.Backward(versions) {
			if !b.Yanked {
				return b, nil
			}
		}
		return nil, stamp.Errorf(stamp.ECONFLICT, "every version of blueprint %s is yanked (%s); name one, or unyank one with `stamp blueprint unyank %s@VERSION`",
			name, strings.Join(names, ", "), name)
	}
	return nil, stamp.Errorf(stamp.ENOTFOUND, "blueprint %s@%s does not exist (versions: %s)", name, version, strings.Join(names, ", "))
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
