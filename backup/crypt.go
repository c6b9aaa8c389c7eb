package backup

import (
	"errors"
	"fmt"

	"filippo.io/age"
	"github.com/stamphq/stamp/keyring"
)

// stanzaType names the age recipient stanza that holds an archive's file
// key sealed with a master key (keyring.Seal): its one argument is the
// key's id, its body the sealed text.
const stanzaType = "stamp-master-key"

// fileKeyAAD binds a sealed file key to its use: it opens nowhere else.
var fileKeyAAD = []byte("stamp archive file key")

// masterKey is the age Recipient and Identity of the server's master key
// ring: archives are encrypted to its active key and open with any key
// it holds.
type masterKey struct{ ring *keyring.Ring }

var (
	_ age.Recipient = masterKey{}
	_ age.Identity  = masterKey{}
)

// Wrap seals the file key with the ring's active key.
func (m masterKey) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	sealed, err := m.ring.Seal(fileKey, fileKeyAAD)
	if err != nil {
		return nil, fmt.Errorf("seal the archive's key: %w", err)
	}
	id, _ := keyring.SealedBy(sealed)
	return []*age.Stanza{{Type: stanzaType, Args: []string{id}, Body: []byte(sealed)}}, nil
}

// Unwrap opens the file key of the first stanza of ours; a key the ring
// lacks is ErrIncorrectIdentity (another identity may still match),
// wrapping keyring.ErrUnknownKey.
func (m masterKey) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	var missing error
	for _, s := range stanzas {
		if s.Type != stanzaType {
			continue
		}
		key, err := m.ring.Open(string(s.Body), fileKeyAAD)
		if errors.Is(err, keyring.ErrUnknownKey) {
			missing = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open the archive's key: %w", err)
		}
		return key, nil
	}
	if missing != nil {
		return nil, fmt.Errorf("%w: %w", age.ErrIncorrectIdentity, missing)
	}
	return nil, age.ErrIncorrectIdentity
}
