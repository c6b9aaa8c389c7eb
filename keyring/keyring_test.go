package keyring

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func rawKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustNew(t *testing.T, raw ...[]byte) *Ring {
	t.Helper()
	r, err := New(raw...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSeal(t *testing.T, r *Ring, plain, aad string) string {
	t.Helper()
	s, err := r.Seal([]byte(plain), []byte(aad))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	r := mustNew(t, rawKey(1))
	for _, plain := range []string{"", "x", "s3cr3t-value", strings.Repeat("long ", 1000)} {
		sealed := mustSeal(t, r, plain, "secret/acme/key")
		if len(plain) > 4 && strings.Contains(sealed, plain) {
			t.Errorf("sealed %q holds the value", sealed)
		}
		if id, ok := SealedBy(sealed); !ok || id != KeyID(rawKey(1)) {
			t.Errorf("SealedBy(%q) = %q, %v; want %q, true", sealed, id, ok, KeyID(rawKey(1)))
		}
		got, err := r.Open(sealed, []byte("secret/acme/key"))
		if err != nil || string(got) != plain {
			t.Errorf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	a, b := mustSeal(t, r, "same", "x"), mustSeal(t, r, "same", "x")
	if a == b {
		t.Error("sealing a value twice gave the same text: the nonce is not random")
	}
}

func TestOpenRefuses(t *testing.T) {
	r := mustNew(t, rawKey(1))
	sealed := mustSeal(t, r, "s3cr3t-value", "secret/acme/key")
	id, body, _ := split(sealed)
	ct, _ := base64.RawURLEncoding.DecodeString(body)
	flipped := append([]byte(nil), ct...)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name   string
		ring   *Ring
		sealed string
		aad    string
		want   error
	}{
		{"wrong key", mustNew(t, rawKey(2)), sealed, "secret/acme/key", ErrUnknownKey},
		{"key with another id claimed", mustNew(t, rawKey(2)), prefix + KeyID(rawKey(2)) + ":" + body, "secret/acme/key", ErrTampered},
		{"flipped bit", r, prefix + id + ":" + base64.RawURLEncoding.EncodeToString(flipped), "secret/acme/key", ErrTampered},
		{"cut", r, sealed[:len(sealed)-4], "secret/acme/key", ErrTampered},
		{"not base64", r, prefix + id + ":***", "secret/acme/key", ErrTampered},
		{"moved to another secret", r, sealed, "secret/acme/other", ErrTampered},
		{"moved to another tenant", r, sealed, "secret/globex/key", ErrTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Open(tt.sealed, []byte(tt.aad))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), body) {
				t.Errorf("error %q shows the value", err)
			}
		})
	}
	if _, err := r.Open("s3cr3t-value", nil); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Open of a clear value: %v", err)
	}
}

func TestSealedBy(t *testing.T) {
	tests := []struct {
		value, id string
		ok        bool
	}{
		{"sealed:v1:0a1b2c3d:AAAA", "0a1b2c3d", true},
		{"c2VjcmV0LXZhbHVl_-", "", false}, // base64url, as generated
		{"9f86d081884c7d65", "", false},   // hex, a database password
		{"", "", false},
	}
	for _, tt := range tests {
		id, ok := SealedBy(tt.value)
		if id != tt.id || ok != tt.ok {
			t.Errorf("SealedBy(%q) = %q, %v; want %q, %v", tt.value, id, ok, tt.id, tt.ok)
		}
	}
}

func TestParse(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(rawKey(1))
	k2 := base64.RawStdEncoding.EncodeToString(rawKey(2))
	short := base64.StdEncoding.EncodeToString([]byte("short"))
	tests := []struct {
		in      string
		ids     []string
		wantErr string
	}{
		{k1, []string{KeyID(rawKey(1))}, ""},
		{k2 + ", " + k1 + ",", []string{KeyID(rawKey(2)), KeyID(rawKey(1))}, ""},
		{"", nil, "no key given"},
		{k1 + ",not*base64", nil, "key 2 is not base64"},
		{short, nil, "key 1: a key is 32 bytes, not 5"},
		{k1 + "," + k1, nil, "key 2 (id " + KeyID(rawKey(1)) + ") is given twice"},
	}
	for _, tt := range tests {
		r, err := Parse(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Parse(%q) error = %v; want %q", tt.in, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("Parse(%q): %v", tt.in, err)
		case strings.Join(r.IDs(), ",") != strings.Join(tt.ids, ","):
			t.Errorf("Parse(%q) ids %v; want %v", tt.in, r.IDs(), tt.ids)
		}
	}
	r, _ := Parse(k1)
	if _, err := r.Rotate(rand.Reader); !errors.Is(err, ErrNotWritable) {
		t.Errorf("Rotate of keys from the environment: %v; want ErrNotWritable", err)
	}
	if _, err := r.Retire(func(string) bool { return false }); !errors.Is(err, ErrNotWritable) {
		t.Errorf("Retire of keys from the environment: %v; want ErrNotWritable", err)
	}
}

func TestOldKeyStillOpens(t *testing.T) {
	old := mustNew(t, rawKey(1))
	sealed := mustSeal(t, old, "v", "a")
	both := mustNew(t, rawKey(2), rawKey(1))
	if got, err := both.Open(sealed, []byte("a")); err != nil || string(got) != "v" {
		t.Fatalf("Open under the old key = %q, %v", got, err)
	}
	if id, _ := SealedBy(mustSeal(t, both, "v", "a")); id != KeyID(rawKey(2)) {
		t.Errorf("sealed under %s; want the first key, %s", id, KeyID(rawKey(2)))
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	r, created, err := OpenFile(path, rand.Reader)
	if err != nil || !created {
		t.Fatalf("OpenFile of a missing file = %v, %v; want created", created, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", info, err)
	}
	sealed := mustSeal(t, r, "v", "a")
	again, created, err := OpenFile(path, rand.Reader)
	if err != nil || created {
		t.Fatalf("OpenFile again = %v, %v; want the same key, not created", created, err)
	}
	if got, err := again.Open(sealed, []byte("a")); err != nil || string(got) != "v" {
		t.Errorf("Open after reopening = %q, %v", got, err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenFile(path, rand.Reader); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("OpenFile of a world-readable file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenFile(path, rand.Reader); err == nil || !strings.Contains(err.Error(), "holds no key") {
		t.Errorf("OpenFile of a file with no key: %v", err)
	}
}

// TestRotateAndRetire runs a rotation as two servers sharing a key file
// see it: a seals under the new key, b opens it by re-reading the file and
// then seals under it too; retiring drops the old key from the file.
func TestRotateAndRetire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	a, _, err := OpenFile(path, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := OpenFile(path, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	old := a.ActiveID()
	beforeRotation := mustSeal(t, a, "v1", "x")

	id, err := a.Rotate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if id == old || a.ActiveID() != id || strings.Join(a.IDs(), ",") != id+","+old {
		t.Fatalf("after Rotate: new %s, active %s, ids %v", id, a.ActiveID(), a.IDs())
	}
	afterRotation := mustSeal(t, a, "v2", "x")
	if got, err := b.Open(afterRotation, []byte("x")); err != nil || string(got) != "v2" {
		t.Fatalf("the other server's Open of a value under the new key = %q, %v", got, err)
	}
	if by, _ := SealedBy(mustSeal(t, b, "v3", "x")); by != id {
		t.Errorf("the other server seals under %s; want the new key %s", by, id)
	}

	dropped, err := a.Retire(func(string) bool { return false })
	if err != nil || strings.Join(dropped, ",") != old {
		t.Fatalf("Retire = %v, %v; want [%s]", dropped, err, old)
	}
	if _, err := a.Open(beforeRotation, []byte("x")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open under a retired key: %v; want ErrUnknownKey", err)
	}
	fresh, _, err := OpenFile(path, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(fresh.IDs(), ",") != id {
		t.Errorf("key file after Retire holds %v; want only %s", fresh.IDs(), id)
	}
	if dropped, err := a.Retire(func(string) bool { return true }); err != nil || dropped != nil {
		t.Errorf("Retire with nothing to drop = %v, %v", dropped, err)
	}
}

// Servers sharing a data dir may start at once: they all end up with the
// one key in the file, and only one of them made it.
func TestOpenFileAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	rings := make([]*Ring, n)
	made := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], made[i], errs[i] = OpenFile(path, rand.Reader) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if made[i] {
			creators++
		}
		if rings[i].ActiveID() != rings[0].ActiveID() {
			t.Errorf("ring %d seals under %s, ring 0 under %s", i, rings[i].ActiveID(), rings[0].ActiveID())
		}
	}
	if creators != 1 {
		t.Errorf("%d rings made the key file; want 1", creators)
	}
}
