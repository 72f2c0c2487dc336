package envfile

import (
	"crypto/sha256"
	"encoding/hex"
)

// Digest returns the lowercase hex SHA-256 of data, to check that a file is
// identical on every node.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
