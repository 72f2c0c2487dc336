package envfile

import "strings"

// secretMarkers are substrings that make a variable name look secret. They
// match anywhere in the upper-cased name, so KEY also matches APIKEY and
// MONKEY: a false positive only hides a value, a false negative leaks one.
var secretMarkers = []string{
	"KEY",     // API_KEY, SECRET_KEY, ACCESS_KEY, JWT_ECDSA_KEY, APIKEY
	"SECRET",  // CLIENT_SECRET, SECRET_ID (Vault AppRole)
	"TOKEN",   // VAULT_TOKEN, AWS_SESSION_TOKEN
	"PASS",    // PASSWORD, PASSWD, PASSPHRASE, DB_PASS
	"PWD",     // DB_PWD
	"CRED",    // CREDENTIAL, CREDENTIALS, CREDS
	"PRIVATE", // PRIVATE_KEY
	"CERT",    // inline certificates, often bundled with their key
	"AUTH",    // AUTH, AUTHORIZATION, BASIC_AUTH
	"COOKIE",  // COOKIE_SECRET
	"SALT",    // HASH_SALT
	"JWT",     // JWT, JWT_SIGNING
	"DSN",     // database DSNs embed passwords
}

// referenceWords follow KEY or CERT in names whose value identifies or
// locates a key or certificate rather than holding it: AWS_KMS_KEY_ARN,
// MINIO_KMS_KES_KEY_NAME, AWS_ACCESS_KEY_ID, MINIO_KMS_KES_KEY_FILE,
// MINIO_KMS_KES_CERT_FILE.
var referenceWords = map[string]bool{
	"ARN": true, "NAME": true, "ID": true, "FILE": true, "PATH": true, "ALIAS": true,
}

// knownNames are variables whose value is a key's NAME though the name rules
// would mask it: MinIO's default key for SSE with Key Manager.
var knownNames = map[string]bool{"MINIO_KMS_SSE_KEY": true}

// LooksSecret reports whether a variable named key probably holds a secret,
// so its value must not be displayed. The name is upper-cased and split into
// words at '_' (and any other non-alphanumeric byte). Each pair of words
// "KEY <ref>" or "CERT <ref>", where <ref> is ARN, NAME, ID, FILE, PATH or
// ALIAS, is dropped: such a name refers to a key rather than holding one.
// The name is secret if what remains contains any of KEY, SECRET, TOKEN,
// PASS (PASSWORD, PASSWD), PWD, CRED (CREDENTIAL), PRIVATE, CERT, AUTH,
// COOKIE, SALT, JWT or DSN as a substring.
//
// So MINIO_KMS_SECRET_KEY, MINIO_KMS_KES_API_KEY, JWT_ECDSA_KEY,
// AWS_SECRET_ACCESS_KEY and MINIO_ROOT_PASSWORD are secret, and
// KMS_PROVIDER, AWS_REGION, MINIO_KMS_KES_ENDPOINT, AWS_KMS_KEY_ARN,
// MINIO_KMS_KES_KEY_NAME and AWS_ACCESS_KEY_ID are not. A reference word
// does not clear other markers: MINIO_KMS_SECRET_KEY_FILE is still secret
// because of SECRET. The rules err on the side of masking. Names listed in
// knownNames (MINIO_KMS_SSE_KEY, a key name) are never secret.
func LooksSecret(key string) bool {
	if knownNames[strings.ToUpper(key)] {
		return false
	}
	rest := strings.Join(dropReferences(nameWords(key)), "_")
	for _, m := range secretMarkers {
		if strings.Contains(rest, m) {
			return true
		}
	}
	return false
}

// nameWords upper-cases key and splits it into alphanumeric words.
func nameWords(key string) []string {
	return strings.FieldsFunc(strings.ToUpper(key), func(r rune) bool {
		return !('A' <= r && r <= 'Z') && !('0' <= r && r <= '9')
	})
}

// dropReferences removes each "KEY <ref>" and "CERT <ref>" word pair.
func dropReferences(words []string) []string {
	var kept []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if (w == "KEY" || w == "CERT") && i+1 < len(words) && referenceWords[words[i+1]] {
			i++
			continue
		}
		kept = append(kept, w)
	}
	return kept
}
