package testenv

import (
	"fmt"
	"strings"
)

// writeConfig writes the KES YAML config: listen address, TLS, admin
// identity and keystore (see KES's server-config.yaml for the format).
func (k *KESServer) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, "version: v1\naddress: %s\n", k.addr)
	fmt.Fprintf(&b, "admin:\n  identity: %s\n", k.Identity)
	fmt.Fprintf(&b, "tls:\n  key: %s\n  cert: %s\n", yamlQuote(k.tls.KeyFile), yamlQuote(k.tls.CertFile))
	b.WriteString("log:\n  error: \"on\"\n  audit: \"off\"\n")
	b.WriteString("keystore:\n")
	if k.vault == nil {
		fmt.Fprintf(&b, "  fs:\n    path: %s\n", yamlQuote(k.KeystoreDir))
	} else {
		b.WriteString(k.vaultKeystoreYAML())
	}
	return writeFile(k.ConfigFile, b.String())
}

// vaultKeystoreYAML is the keystore.vault section: KV v2 with AppRole.
func (k *KESServer) vaultKeystoreYAML() string {
	return fmt.Sprintf(`  vault:
    endpoint: %s
    engine: %s
    version: v2
    prefix: %s
    approle:
      engine: approle
      id: %s
      secret: %s
    status:
      ping: 10s
`, yamlQuote(k.vault.addr), yamlQuote(k.Engine), yamlQuote(k.Prefix),
		yamlQuote(k.vault.roleID), yamlQuote(k.vault.secretID))
}
