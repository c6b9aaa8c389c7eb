// Package keyring owns Stamp's master keys and the sealing of small secret
// values with them. A value is sealed with AES-256-GCM from the standard
// library (a random 96-bit nonce per value) under the ring's active key,
// and the sealed text names that key, so that during a rotation values
// sealed under the old key and the new one both open. Keys come from a key
// file (one base64 key per line, the first active) or from the
// environment (comma-separated, the first active).
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// KeySize is the length of a master key: 32 bytes, for AES-256.
const KeySize = 32

// prefix starts every sealed value: generated secrets (base64url, hex)
// never contain a colon, so a value without it was stored in clear.
const prefix = "sealed:v1:"

// ErrUnknownKey is returned by Open for a value sealed under a key the
// ring does not hold.
var ErrUnknownKey = errors.New("sealed with a key this server does not have")

// ErrTampered is returned by Open for a value that does not open under
// its key: altered, cut, or moved to another place (the associated data
// differs).
var ErrTampered = errors.New("does not open with its key: altered or moved")

// key is one master key and the cipher made from it.
type key struct {
	id   string
	raw  []byte
	aead cipher.AEAD
}

// newKey makes a key of the raw bytes, which must be KeySize long.
func newKey(raw []byte) (key, error) {
	if len(raw) != KeySize {
		return key{}, fmt.Errorf("a key is %d bytes, not %d", KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, fmt.Errorf("make cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return key{}, fmt.Errorf("make cipher: %w", err)
	}
	return key{id: KeyID(raw), raw: raw, aead: aead}, nil
}

// KeyID returns the id of a raw key: 8 hex digits of a SHA-256 of it,
// the same on every server that has the key, and telling nothing of it.
func KeyID(raw []byte) string {
	sum := sha256.Sum256(append([]byte("stamp master key id\x00"), raw...))
	return hex.EncodeToString(sum[:4])
}

// Ring holds the keys a server seals and opens with: one active key that
// seals, and older ones that still open. It is safe for concurrent use.
type Ring struct {
	file *keyFile // nil for keys given by the environment

	mu   sync.RWMutex
	keys []key // active first
}

// Parse makes a ring of keys given as base64 text, comma-separated, the
// first active: the form of STAMP_MASTER_KEY. Such a ring is never
// written anywhere, and Rotate and Retire refuse it. Errors name a key by
// its position, never its text.
func Parse(s string) (*Ring, error) {
	keys, err := parseKeys(strings.Split(s, ","))
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no key given")
	}
	return &Ring{keys: keys}, nil
}

// New returns a ring of raw keys, the first active, kept in memory only.
func New(raw ...[]byte) (*Ring, error) {
	var keys []key
	for i, r := range raw {
		k, err := newKey(r)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key given")
	}
	return &Ring{keys: keys}, nil
}

// parseKeys decodes base64 keys, skipping empty entries.
func parseKeys(texts []string) ([]key, error) {
	var keys []key
	seen := map[string]bool{}
	for i, text := range texts {
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(text)
		}
		if err != nil {
			return nil, fmt.Errorf("key %d is not base64", i+1)
		}
		k, err := newKey(raw)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if seen[k.id] {
			return nil, fmt.Errorf("key %d (id %s) is given twice", i+1, k.id)
		}
		seen[k.id] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// ActiveID returns the id of the key that seals.
func (r *Ring) ActiveID() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[0].id
}

// IDs returns the ids of every key, the active one first.
func (r *Ring) IDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// Has reports whether the ring holds key id, re-reading the key file
// before saying no.
func (r *Ring) Has(id string) (bool, error) {
	if _, ok := r.find(id); ok || r.file == nil {
		return ok, nil
	}
	if err := r.reload(true); err != nil {
		return false, err
	}
	_, ok := r.find(id)
	return ok, nil
}

func (r *Ring) find(id string) (key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.keys {
		if k.id == id {
			return k, true
		}
	}
	return key{}, false
}

// Seal encrypts plain under the active key, bound to aad (where the value
// lives, so that it cannot be moved elsewhere), and returns it as text.
// A ring read from a file first takes in a rotation another server made.
func (r *Ring) Seal(plain, aad []byte) (string, error) {
	if r.file != nil {
		if err := r.reload(false); err != nil {
			return "", err
		}
	}
	r.mu.RLock()
	k := r.keys[0]
	r.mu.RUnlock()
	ct := k.aead.Seal(nil, nil, plain, aad)
	return prefix + k.id + ":" + base64.RawURLEncoding.EncodeToString(ct), nil
}

// Open decrypts a value Seal returned for the same aad. A value sealed
// under a key the ring lacks is ErrUnknownKey, after re-reading the key
// file (another server may have rotated); one that does not open is
// ErrTampered. Errors never hold the value.
func (r *Ring) Open(sealed string, aad []byte) ([]byte, error) {
	id, body, ok := split(sealed)
	if !ok {
		return nil, errors.New("not a sealed value")
	}
	k, found := r.find(id)
	if !found && r.file != nil {
		if err := r.reload(true); err != nil {
			return nil, err
		}
		k, found = r.find(id)
	}
	if !found {
		return nil, fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	ct, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", id, ErrTampered)
	}
	plain, err := k.aead.Open(nil, nil, ct, aad)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", id, ErrTampered)
	}
	return plain, nil
}

// SealedBy returns the id of the key that sealed value, and false for a
// value that is not sealed (one stored in clear before encryption).
func SealedBy(value string) (id string, ok bool) {
	id, _, ok = split(value)
	return id, ok
}

// split parses "sealed:v1:<id>:<base64>".
func split(value string) (id, body string, ok bool) {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}
