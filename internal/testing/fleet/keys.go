package fleet

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// genKey writes a new ed25519 key pair (path and path.pub, no
// passphrase) with ssh-keygen, replacing any existing one, and returns
// the public key.
func genKey(path, comment string) (ssh.PublicKey, error) {
	for _, p := range []string{path, path + ".pub"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	if _, err := run(keygenPath, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path); err != nil {
		return nil, err
	}
	return readPublicKey(path + ".pub")
}

// readPublicKey parses an OpenSSH public key file.
func readPublicKey(path string) (ssh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// knownHostsLine returns the known_hosts line for key at host:port
// (bare host for port 22, as OpenSSH writes it).
func knownHostsLine(host string, port int, key ssh.PublicKey) string {
	h := host
	if port != 22 {
		h = fmt.Sprintf("[%s]:%d", host, port)
	}
	return h + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + "\n"
}
