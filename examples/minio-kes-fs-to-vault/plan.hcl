# MinIO on KES with a filesystem keystore -> KES with a Vault keystore.
#
# MinIO keeps its key names; only the KES it talks to changes. The keys are
# copied from the old KES's keystore directory into Vault KV v2 in the
# layout the new KES reads (<engine>/data/<prefix>/<name>), each verified
# byte for byte, then MinIO's env file on every node is switched to the new
# KES, MinIO restarts, and every encrypted object is read back:
#
#   back up the fs keystore (age) -> copy every key to Vault -> compare
#   them all -> freeze S3 traffic -> switch MINIO_KMS_KES_ENDPOINT,
#   _API_KEY and _CAPATH -> restart -> ready, with the default key ->
#   read every object -> release the freeze.
#
# MinIO's default key is checked through the new KES without a step for
# it: the env step names minio.prod, and kms.new_kes names the keystore
# behind it (keystore = kms.new_keystore). At `cutover plan` and in the
# preflight the key is not in Vault yet, and migrate_keys.to_vault, which
# writes into that keystore, counts: the key it will copy is compared with
# the one the old KES serves (the old KES decrypts a ciphertext sealed with
# it). Just before the switch, the new KES must decrypt a data key the old
# KES seals under the default key.
#
# The copy runs before the freeze: MinIO keeps serving from the old KES
# meanwhile. Key creation must be halted on the old KES for the copy
# (migrate_keys counts the source again at the end and fails if it grew).
# Releasing the freeze is the point of no return: keys MinIO creates from
# then on exist in Vault only.
cutover "minio-kes-fs-to-vault" {
  description        = "MinIO: KES (fs keystore) -> KES (Vault keystore)"
  window             = var.window
  point_of_no_return = step.resume.s3
}

variable "window" {
  default = "30m"
}

variable "env_files" {
  type        = list(string)
  description = "MinIO's env file on every node (/etc/default/minio)"
}
variable "restart_command" {
  type        = list(string)
  description = "the supervisor's restart of MinIO, e.g. [\"systemctl\", \"restart\", \"minio\"]"
}
variable "minio_endpoint" {}
variable "minio_access_key" {}
variable "minio_secret_key" {
  sensitive = true
}
variable "buckets" {
  type        = list(string)
  description = "every bucket whose objects are read back after the switch"
}
variable "key_name" {
  description = "MinIO's default key (MINIO_KMS_KES_KEY_NAME, unchanged)"
}

variable "fs_keystore" {
  description = "the old KES's keystore.fs.path, readable by cutover"
}

variable "vault_endpoint" {}
variable "vault_engine" {
  default     = "kv"
  description = "the new KES's keystore.vault.engine (a KV v2 mount)"
}
variable "vault_prefix" {
  default     = ""
  description = "the new KES's keystore.vault.prefix"
}
variable "vault_role_id" {
  description = "an AppRole that may create, read and list under <engine>/data/<prefix>/ and <engine>/metadata/<prefix>/"
}
variable "vault_secret_id" {
  sensitive = true
}

variable "new_kes_endpoint" {
  description = "the new KES as MinIO reaches it (MINIO_KMS_KES_ENDPOINT)"
}
variable "new_kes_api_key" {
  sensitive   = true
  description = "MinIO's API key on the new KES (MINIO_KMS_KES_API_KEY)"
}
variable "new_kes_ca_file" {
  description = "the new KES's CA, as a path on the MinIO nodes (MINIO_KMS_KES_CAPATH)"
}

variable "backup_file" {
  description = "where the age-encrypted backup of the fs keystore is written (must not exist)"
}
variable "backup_recipients" {
  type = list(string)
}
variable "backup_identity_file" {}

variable "migrate_retries" {
  type        = number
  default     = 3
  description = "attempts after the first when the copy fails (Vault sealed or unreachable); each resumes from the step's journal"
}
variable "migrate_retry_interval" {
  default = "30s"
}
variable "drain_timeout" {
  default = "1m"
}
variable "ready_timeout" {
  default = "2m"
}

kms "old_keystore" {
  type = "fs"
  path = var.fs_keystore
}

kms "new_keystore" {
  type     = "vault"
  endpoint = var.vault_endpoint
  engine   = var.vault_engine
  version  = "v2"
  prefix   = var.vault_prefix
  approle {
    id     = var.vault_role_id
    secret = var.vault_secret_id
  }
}

# The new KES, as cutover reaches it, and the Vault keystore behind it.
kms "new_kes" {
  type     = "kes"
  endpoint = var.new_kes_endpoint
  api_key  = var.new_kes_api_key
  ca_file  = var.new_kes_ca_file
  keystore = kms.new_keystore
}

minio "prod" {
  endpoint   = var.minio_endpoint
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}

step "backup_keys" "fs" {
  from          = kms.old_keystore
  to            = var.backup_file
  recipients    = var.backup_recipients
  identity_file = var.backup_identity_file
}

# Vault is readable, so "verify" compares a key that is already there: an
# identical one is skipped (a run after a rollback, or a retry), a
# different one fails the step untouched. Keys copied stay in Vault on a
# rollback: the old KES never reads them.
step "migrate_keys" "to_vault" {
  from           = kms.old_keystore
  to             = kms.new_keystore
  on_conflict    = "verify"
  concurrency    = 32
  retries        = var.migrate_retries
  retry_interval = var.migrate_retry_interval
}

# Every key compared byte for byte, and the counts equal.
step "verify_keys" "in_vault" {
  from        = kms.old_keystore
  to          = kms.new_keystore
  concurrency = 32
}

step "drain" "s3" {
  minio   = minio.prod
  timeout = var.drain_timeout
}

# The default key is checked again through the new KES just before the
# files are written, and retried: KES notices a Vault that is reachable or
# unsealed again only at its next status ping (10s by default).
step "env" "kms" {
  minio          = minio.prod
  files          = var.env_files
  retries        = 15
  retry_interval = "2s"
  set = {
    MINIO_KMS_KES_ENDPOINT = var.new_kes_endpoint
    MINIO_KMS_KES_API_KEY  = var.new_kes_api_key
    MINIO_KMS_KES_CAPATH   = var.new_kes_ca_file
  }
}

step "restart" "minio" {
  command = var.restart_command
  timeout = "2m"
}

step "health_check" "ready" {
  minio    = minio.prod
  kms_key  = var.key_name
  interval = "500ms"
  timeout  = var.ready_timeout
}

# Reads every encrypted object: SSE-S3 objects through the default key,
# SSE-KMS objects through the keys their buckets name.
step "validate_objects" "all" {
  minio   = minio.prod
  buckets = var.buckets
  sample  = "all"
}

step "resume" "s3" {
  drain = step.drain.s3
}
