package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// Undo blobs and the inputs key are the checkpoint's secrets. With
// recipients (the plan's state block `recipients`), they are encrypted with
// age to every recipient before they are written, locally and to a shared
// store; reading them back needs an identity of one recipient. Everything
// else (state.json, the state log, journals, the audit log) holds no
// secret and stays readable: `cutover status` needs no identity.

// ErrNoIdentity means encrypted undo data must be read and no age identity
// was given.
var ErrNoIdentity = errors.New("the checkpoint's undo data is encrypted and no age identity was given")

// ErrWrongIdentity means no given identity opens the encrypted undo data.
var ErrWrongIdentity = errors.New("no given age identity opens the checkpoint's undo data")

// ageHeader starts every age file.
var ageHeader = []byte("age-encryption.org/v1\n")

// Crypt encrypts secret checkpoint data to recipients and decrypts it with
// identities. The zero value encrypts nothing and reads plain data only.
type Crypt struct {
	Recipients []age.Recipient
	Identities []age.Identity
	// IdentityHint says where an identity is given (--identity, the
	// environment) for ErrNoIdentity's message.
	IdentityHint string
}

// ParseRecipients reads age recipients ("age1...") as the plan lists them.
func ParseRecipients(list []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, s := range list {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", s, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ReadIdentityFile reads the age identities in path (age-keygen's format).
func ReadIdentityFile(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("age identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("age identity %s: %w", path, err)
	}
	return ids, nil
}

// Encrypts reports whether secrets are written encrypted.
func (c *Crypt) Encrypts() bool { return c != nil && len(c.Recipients) > 0 }

// seal encrypts data to the recipients, or returns it as is without any.
func (c *Crypt) seal(data []byte) ([]byte, error) {
	if !c.Encrypts() {
		return data, nil
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, c.Recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return buf.Bytes(), nil
}

// open decrypts data written by seal; plain data (no age header) is
// returned as is. what names the data for errors.
func (c *Crypt) open(what string, data []byte) ([]byte, error) {
	if !Encrypted(data) {
		return data, nil
	}
	if c == nil || len(c.Identities) == 0 {
		hint := "--identity FILE or CUTOVER_IDENTITY"
		if c != nil && c.IdentityHint != "" {
			hint = c.IdentityHint
		}
		return nil, fmt.Errorf("%s: %w (give the age identity of a recipient the plan lists: %s)", what, ErrNoIdentity, hint)
	}
	r, err := age.Decrypt(bytes.NewReader(data), c.Identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%s: %w", what, ErrWrongIdentity)
		}
		return nil, &CorruptError{Path: what, Problem: "cannot be decrypted: " + err.Error()}
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, &CorruptError{Path: what, Problem: "cannot be decrypted: " + err.Error()}
	}
	return out, nil
}

// Encrypted reports whether data is an age file.
func Encrypted(data []byte) bool { return bytes.HasPrefix(data, ageHeader) }
