// Package awsemu is an in-process emulator of the AWS KMS and AWS Secrets
// Manager JSON 1.1 wire protocols, used to drive the real aws-sdk-go-v2
// clients in tests and demos where AWS itself cannot be reached.
//
// # Contract
//
// An [Emulator] is one [net/http.Handler] serving both services on one
// endpoint. A request must be "POST /" with Content-Type
// application/x-amz-json-1.1 and an X-Amz-Target header naming the
// operation: "TrentService.<Op>" for KMS, "secretsmanager.<Op>" for
// Secrets Manager. Anything else is refused.
//
// Every request must carry an AWS Signature Version 4 Authorization header.
// The access key must be one of [Config.Credentials]; the signature is
// recomputed over the canonical request (method, path, query, the signed
// headers, and the payload hash: X-Amz-Content-Sha256 when present, which
// must then match the body, else the SHA-256 of the body). The credential
// scope must name [Config.Region] and the service the target belongs to
// ("kms" or "secretsmanager"), and X-Amz-Date must be within 15 minutes of
// the wall clock. Failures answer MissingAuthenticationTokenException,
// IncompleteSignatureException, UnrecognizedClientException or
// InvalidSignatureException, as AWS does.
//
// Errors use AWS's JSON error shape: an HTTP status (400 for client
// errors), the header X-Amzn-ErrorType: <Code> and the body
// {"__type":"<Code>","message":"..."} (Secrets Manager spells the member
// "Message", as AWS does), so the SDK maps them onto its typed errors.
// Required members and documented value constraints are validated
// (ValidationException); unknown members are ignored, and member names are
// matched case-sensitively, as AWS does.
//
// The KMS subset: CreateKey (SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT only,
// origin AWS_KMS or EXTERNAL), DescribeKey, ListKeys, CreateAlias,
// ListAliases, DeleteAlias, TagResource, UntagResource, ListResourceTags,
// EnableKey, DisableKey, GetKeyRotationStatus, EnableKeyRotation,
// DisableKeyRotation, Encrypt, Decrypt, GenerateDataKey,
// GetParametersForImport, ImportKeyMaterial, ScheduleKeyDeletion and
// CancelKeyDeletion. Ciphertext blobs are the emulator's own format: they
// embed the key id and are sealed with AES-256-GCM under the key's
// material, the encryption context being additional authenticated data.
//
// The Secrets Manager subset: CreateSecret, GetSecretValue, PutSecretValue,
// DescribeSecret, ListSecrets, DeleteSecret, RestoreSecret and
// UpdateSecret, with version stages (AWSCURRENT, AWSPREVIOUS),
// ClientRequestToken idempotency and recovery windows.
//
// Other operations of either service answer UnknownOperationException.
//
// An Emulator is safe for concurrent use: one mutex serialises operations,
// and list operations page over sorted snapshots with cursors naming the
// next item, so pagination is stable while items are added or removed.
// When [Config.StateFile] is set the state (key material included) is
// loaded at start and saved atomically, with mode 0600, after every call
// that changes it.
//
// For tests, [Emulator.FailNext] injects an error into the next call of an
// operation and [Emulator.RequestCount] counts the calls an operation got.
package awsemu
