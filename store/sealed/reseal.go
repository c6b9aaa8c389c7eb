package sealed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/keyring"
)

// rotateLease is the store lease a key rotation holds, so that servers
// sharing the store rotate one at a time; rotateLeaseTTL is how long it
// lasts unrenewed (a walk renews it every rotateLeaseTTL/3).
const (
	rotateLease    = "keys/rotate"
	rotateLeaseTTL = 30 * time.Second
)

// tally is what a walk over every stored secret found.
type tally struct {
	total    int
	resealed int
	keys     map[string]int // values per sealing key, after the walk
}

// SealClear seals every value still stored in clear (by a Stamp from
// before encryption at rest) and returns how many it sealed. First it
// checks, writing nothing, that the ring has every key the store's values
// are sealed under: a server started with the wrong key file fails,
// naming the keys, instead of going on as if the secrets were lost.
func (s *Store) SealClear(ctx context.Context) (int, error) {
	t, err := s.walk(ctx, func(string, bool) bool { return false }, nil)
	if err != nil {
		return 0, err
	}
	var unknown []string
	sealed := 0
	for id, n := range t.keys {
		sealed += n
		ok, err := s.ring.Has(id)
		if err != nil {
			return 0, err
		}
		if !ok {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		where := "STAMP_MASTER_KEY"
		if s.ring.Writable() {
			where = "key file " + s.ring.Path()
		}
		return 0, fmt.Errorf("the store holds secrets sealed under key %s, which this server's %s does not have (it has %s): give it the key file or STAMP_MASTER_KEY of the servers that sealed them",
			strings.Join(unknown, ", "), where, strings.Join(s.ring.IDs(), ", "))
	}
	if sealed == t.total {
		return 0, nil
	}
	t, err = s.walk(ctx, func(_ string, sealed bool) bool { return !sealed }, nil)
	if err != nil {
		return t.resealed, err
	}
	if c, ok := s.Store.(Compactor); ok {
		if err := c.Compact(ctx); err != nil {
			return t.resealed, fmt.Errorf("sealed %d clear secrets, but their old copies may linger: %w", t.resealed, err)
		}
	}
	return t.resealed, nil
}

// Compactor is implemented by stores that can rewrite their files so that
// replaced values leave no copy behind; SealClear calls it once it has
// sealed values that were stored in clear.
type Compactor interface {
	Compact(ctx context.Context) error
}

// RotateKeys seals every secret anew under a new active key. With keys in
// a key file it makes the new key (written to the file, beside the old
// ones, before anything is sealed under it), reseals, and then removes
// from the file the keys no value uses any more. With keys from the
// environment it reseals under the first one and reports the others no
// value uses. Secrets read meanwhile open under either key, so tenants
// run on. Servers sharing the store rotate one at a time (ECONFLICT).
func (s *Store) RotateKeys(ctx context.Context) (*stamp.KeyRotation, error) {
	lease := &rotation{store: s.Store, holder: "key-rotation-" + randomHex()}
	if err := lease.renew(ctx); err != nil {
		return nil, err
	}
	defer s.Store.ReleaseLease(context.WithoutCancel(ctx), rotateLease, lease.holder)

	rot := &stamp.KeyRotation{}
	if s.ring.Writable() {
		if _, err := s.ring.Rotate(rand.Reader); err != nil {
			return nil, fmt.Errorf("make a new key: %w", err)
		}
		rot.Generated = true
	}
	rot.ActiveKey = s.ring.ActiveID()
	redo := func(id string, sealed bool) bool { return !sealed || id != rot.ActiveKey }
	// A server that sealed a value under the old key just before it saw
	// the new one may store it behind the walk: walk again until a walk
	// finds nothing to reseal, and retire keys by the last one only.
	var last tally
	for range 3 {
		t, err := s.walk(ctx, redo, lease)
		if err != nil {
			return nil, err
		}
		rot.Resealed += t.resealed
		rot.Total, last = t.total, t
		if t.resealed == 0 {
			break
		}
	}
	outside := map[string]bool{}
	if s.keyUsers != nil {
		var err error
		if outside, err = s.keyUsers(ctx); err != nil {
			return nil, fmt.Errorf("values are resealed under key %s, but no key is retired: find the keys backups use: %w", rot.ActiveKey, err)
		}
	}
	inUse := func(id string) bool { return last.keys[id] > 0 || outside[id] }
	if s.ring.Writable() {
		retired, err := s.ring.Retire(inUse)
		if err != nil {
			return nil, fmt.Errorf("retire old keys: %w", err)
		}
		rot.Retired = retired
	} else {
		for _, id := range s.ring.IDs()[1:] {
			if !inUse(id) {
				rot.Unused = append(rot.Unused, id)
			}
		}
	}
	return rot, nil
}

// rotation is the lease a key rotation holds.
type rotation struct {
	store   stamp.LeaseStore
	holder  string
	renewed time.Time
}

// renew takes or renews the lease; another holder's is ECONFLICT.
func (l *rotation) renew(ctx context.Context) error {
	ok, err := l.store.TryLease(ctx, rotateLease, l.holder, rotateLeaseTTL)
	if err != nil {
		return fmt.Errorf("take the key rotation lease: %w", err)
	}
	if !ok {
		return stamp.Errorf(stamp.ECONFLICT, "another server is rotating the keys; try again once it is done")
	}
	l.renewed = time.Now()
	return nil
}

// walk visits every tenant and webhook secret in the store and seals
// anew, under the active key, each value for which redo(sealing key id,
// sealed) is true. A tenant or webhook deleted meanwhile is passed over.
// With a lease, it renews the lease as it goes.
func (s *Store) walk(ctx context.Context, redo func(id string, sealed bool) bool, lease *rotation) (tally, error) {
	t := tally{keys: map[string]int{}}
	tenants, err := s.Store.ListTenants(ctx)
	if err != nil {
		return t, fmt.Errorf("list tenants: %w", err)
	}
	for _, tenant := range tenants {
		if lease != nil && time.Since(lease.renewed) > rotateLeaseTTL/3 {
			if err := lease.renew(ctx); err != nil {
				return t, err
			}
		}
		if err := s.resealTenant(ctx, tenant.Name, redo, &t); err != nil {
			return t, err
		}
	}
	hooks, err := s.Store.ListWebhooks(ctx)
	if err != nil {
		return t, fmt.Errorf("list webhooks: %w", err)
	}
	for _, w := range hooks {
		if err := s.resealWebhook(ctx, w, redo, &t); err != nil {
			return t, err
		}
	}
	return t, nil
}

// count adds a value, as stored after the walk, to t.
func (t *tally) count(value string) {
	t.total++
	if id, sealed := keyring.SealedBy(value); sealed {
		t.keys[id]++
	}
}

func (s *Store) resealTenant(ctx context.Context, tenant string, redo func(string, bool) bool, t *tally) error {
	stored, err := s.Store.Secrets(ctx, tenant)
	if err != nil {
		return fmt.Errorf("read secrets of tenant %s: %w", tenant, err)
	}
	resealed := map[string]string{}
	for name, value := range stored {
		if id, sealed := keyring.SealedBy(value); !redo(id, sealed) {
			t.count(value)
			continue
		}
		aad := secretAAD(tenant, name)
		plain, err := s.open(value, aad)
		if err != nil {
			return cannotOpen(fmt.Sprintf("secret %s of tenant %s", name, tenant), err)
		}
		v, err := s.ring.Seal([]byte(plain), aad)
		if err != nil {
			return fmt.Errorf("seal secret %s of tenant %s: %w", name, tenant, err)
		}
		resealed[name] = v
	}
	if len(resealed) == 0 {
		return nil
	}
	err = s.Store.PutSecrets(ctx, tenant, resealed)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return nil // deleted meanwhile, with its secrets
	}
	if err != nil {
		return fmt.Errorf("store secrets of tenant %s: %w", tenant, err)
	}
	for _, v := range resealed {
		t.count(v)
	}
	t.resealed += len(resealed)
	return nil
}

// resealWebhook reseals w's secret if redo says so. The delivery loop
// updates webhooks as it goes: a conflicting write is read and tried
// again.
func (s *Store) resealWebhook(ctx context.Context, w *stamp.Webhook, redo func(string, bool) bool, t *tally) error {
	for range 10 {
		if id, sealed := keyring.SealedBy(w.Secret); !redo(id, sealed) {
			t.count(w.Secret)
			return nil
		}
		plain, err := s.open(w.Secret, webhookAAD(w.ID))
		if err != nil {
			return cannotOpen("secret of webhook "+w.ID, err)
		}
		w.Secret = plain
		// Stores a copy sealed under the active key.
		err = s.UpdateWebhook(ctx, w)
		if err == nil {
			t.total++
			t.keys[s.ring.ActiveID()]++
			t.resealed++
			return nil
		}
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return nil
		}
		if stamp.ErrorCode(err) != stamp.ECONFLICT {
			return fmt.Errorf("store webhook %s: %w", w.ID, err)
		}
		if w, err = s.Store.GetWebhook(ctx, w.ID); stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return nil
		} else if err != nil {
			return fmt.Errorf("read webhook %s: %w", w.ID, err)
		}
	}
	return fmt.Errorf("reseal secret of webhook %s: it kept changing under the rotation", w.ID)
}

// cannotOpen is the error of a walk stopped by a value that does not
// open: the operator's to see, as it names the value's place and key,
// never the value. Every value still opens as it did before the walk.
func cannotOpen(what string, err error) error {
	return stamp.Errorf(stamp.EUNPROCESSABLE, "%s does not open (%v): stopped; every other value still opens as before", what, err)
}

// randomHex returns 8 random hex digits.
func randomHex() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
