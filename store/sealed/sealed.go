// Package sealed encrypts secrets at rest for any stamp.Store: its Store
// wraps another and seals tenant secrets and webhook signing secrets with
// a keyring.Ring before they reach it, and opens them as they leave, so
// the SQLite and PostgreSQL stores keep only sealed text and need no
// change of their own. Each value is bound to where it lives (tenant and
// secret name, or webhook id): a sealed value copied to another place
// does not open.
package sealed

import (
	"context"
	"fmt"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/keyring"
)

// Store is a stamp.Store whose secrets are sealed at rest. Values stored
// in clear before encryption came in still read; SealClear seals them.
type Store struct {
	stamp.Store
	ring *keyring.Ring
	// keyUsers, if set, reports the keys that things outside the store
	// are encrypted with (backups): RotateKeys retires none of them.
	keyUsers func(context.Context) (map[string]bool, error)
}

var _ stamp.Store = (*Store)(nil)

// New returns st with its secrets sealed under ring's keys.
func New(st stamp.Store, ring *keyring.Ring) *Store {
	return &Store{Store: st, ring: ring}
}

// Ring returns the key ring the store seals with.
func (s *Store) Ring() *keyring.Ring { return s.ring }

// KeepKeysOf makes RotateKeys keep, besides the keys the store's values
// use, those users reports in use elsewhere (the backups' keys). Call it
// before the store is used.
func (s *Store) KeepKeysOf(users func(context.Context) (map[string]bool, error)) {
	s.keyUsers = users
}

// secretAAD binds a tenant secret's sealed value to its tenant and name.
func secretAAD(tenant, name string) []byte {
	return []byte("stamp secret\x00" + tenant + "\x00" + name)
}

// webhookAAD binds a webhook's sealed signing secret to the webhook.
func webhookAAD(id string) []byte { return []byte("stamp webhook\x00" + id) }

// open returns the clear text of a stored value: a value stored in clear
// as it is, a sealed one opened.
func (s *Store) open(value string, aad []byte) (string, error) {
	if _, sealed := keyring.SealedBy(value); !sealed {
		return value, nil
	}
	plain, err := s.ring.Open(value, aad)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// Secrets returns the tenant's secrets, opened. A value that does not
// open (a key this server lacks, an altered value) is an error naming the
// tenant and the secret, never the value.
func (s *Store) Secrets(ctx context.Context, tenant string) (map[string]string, error) {
	stored, err := s.Store.Secrets(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(stored))
	for name, value := range stored {
		plain, err := s.open(value, secretAAD(tenant, name))
		if err != nil {
			return nil, fmt.Errorf("open secret %s of tenant %s: %w", name, tenant, err)
		}
		out[name] = plain
	}
	return out, nil
}

// PutSecrets seals the secrets under the active key and stores them.
func (s *Store) PutSecrets(ctx context.Context, tenant string, secrets map[string]string) error {
	sealed, err := s.seal(tenant, secrets)
	if err != nil {
		return err
	}
	return s.Store.PutSecrets(ctx, tenant, sealed)
}

// ClaimTenant seals the secrets, given in clear, for the claiming tenant
// t: a pooled stamp's sealed values are bound to the stamp's name and
// would not open as t's.
func (s *Store) ClaimTenant(ctx context.Context, pooled string, resourceVersion int64, t *stamp.Tenant, secrets map[string]string, events ...*stamp.Event) error {
	sealed, err := s.seal(t.Name, secrets)
	if err != nil {
		return err
	}
	return s.Store.ClaimTenant(ctx, pooled, resourceVersion, t, sealed, events...)
}

// seal returns the secrets of tenant sealed under the active key.
func (s *Store) seal(tenant string, secrets map[string]string) (map[string]string, error) {
	sealed := make(map[string]string, len(secrets))
	for name, value := range secrets {
		v, err := s.ring.Seal([]byte(value), secretAAD(tenant, name))
		if err != nil {
			return nil, fmt.Errorf("seal secret %s of tenant %s: %w", name, tenant, err)
		}
		sealed[name] = v
	}
	return sealed, nil
}

// CreateWebhook stores w with its secret sealed; w gets the fields the
// store sets.
func (s *Store) CreateWebhook(ctx context.Context, w *stamp.Webhook) error {
	return s.writeWebhook(w, func(stored *stamp.Webhook) error { return s.Store.CreateWebhook(ctx, stored) })
}

// UpdateWebhook writes w with its secret sealed; w gets the fields the
// store sets.
func (s *Store) UpdateWebhook(ctx context.Context, w *stamp.Webhook) error {
	return s.writeWebhook(w, func(stored *stamp.Webhook) error { return s.Store.UpdateWebhook(ctx, stored) })
}

// writeWebhook calls write with a copy of w whose secret is sealed, then
// copies back what the store set, keeping w's clear secret.
func (s *Store) writeWebhook(w *stamp.Webhook, write func(*stamp.Webhook) error) error {
	stored := *w
	v, err := s.ring.Seal([]byte(w.Secret), webhookAAD(w.ID))
	if err != nil {
		return fmt.Errorf("seal secret of webhook %s: %w", w.ID, err)
	}
	stored.Secret = v
	if err := write(&stored); err != nil {
		return err
	}
	stored.Secret = w.Secret
	*w = stored
	return nil
}

// GetWebhook returns the webhook with its secret opened.
func (s *Store) GetWebhook(ctx context.Context, id string) (*stamp.Webhook, error) {
	w, err := s.Store.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.openWebhook(w); err != nil {
		return nil, err
	}
	return w, nil
}

// ListWebhooks returns every webhook with its secret opened.
func (s *Store) ListWebhooks(ctx context.Context) ([]*stamp.Webhook, error) {
	ws, err := s.Store.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		if err := s.openWebhook(w); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

func (s *Store) openWebhook(w *stamp.Webhook) error {
	plain, err := s.open(w.Secret, webhookAAD(w.ID))
	if err != nil {
		return fmt.Errorf("open secret of webhook %s: %w", w.ID, err)
	}
	w.Secret = plain
	return nil
}
