# MinIO from its static key (MINIO_KMS_SECRET_KEY=<name>:<base64>) to KES
# backed by Vault, in one maintenance window:
#
#   back up the static key (age) -> import it into KES -> prove KES's
#   keystore holds the same bytes -> freeze S3 traffic -> switch the env
#   file of every node to KES -> restart MinIO through its supervisor ->
#   MinIO ready, with the key -> read every encrypted object back ->
#   release the freeze.
#
# The key name does not change: MINIO_KMS_KES_KEY_NAME must be the name in
# MINIO_KMS_SECRET_KEY, since every object's metadata names the key that
# sealed it. MinIO creates a missing default key at startup without a word;
# the env step names minio.prod, so cutover checks MinIO's default key by
# itself: at `cutover plan` and in the run's preflight (KES must hold
# var.key_name, or migrate_keys.to_kes must be about to import it, and it
# must be the static key), and again just before it switches the files.
#
# Releasing the freeze is the point of no return: objects written after it
# are sealed by KES, and a rollback to the static key would make them
# unreadable.
cutover "minio-static-to-kes" {
  description        = "MinIO: static key -> KES (Vault keystore)"
  window             = var.window
  margin             = var.margin
  point_of_no_return = step.resume.s3
}

variable "window" {
  default     = "30m"
  description = "the maintenance window, from the freeze on"
}

variable "margin" {
  default     = "5m"
  description = "the part of the window `cutover rehearse` keeps free: the downtime and the rollback it measures must fit in window - margin"
}

variable "env_files" {
  type        = list(string)
  description = "MinIO's env file on every node (its EnvironmentFile, /etc/default/minio); the first is read for the static key"
}
variable "restart_command" {
  type        = list(string)
  description = "how the supervisor restarts MinIO on every node, e.g. [\"systemctl\", \"restart\", \"minio\"] (not `mc admin service restart`: it keeps the old environment)"
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

variable "kes_endpoint" {
  description = "KES as cutover reaches it, https://host:port"
}
variable "minio_kes_endpoint" {
  default     = ""
  description = "KES as MinIO reaches it (MINIO_KMS_KES_ENDPOINT); empty means kes_endpoint"
}
variable "kes_api_key" {
  sensitive   = true
  description = "a KES API key (kes:v1:...) allowed to import, describe, list and use keys; MinIO gets it as MINIO_KMS_KES_API_KEY"
}
variable "kes_ca_file" {
  description = "PEM CA of KES's certificate, as a path valid for cutover and for MinIO (MINIO_KMS_KES_CAPATH)"
}
variable "key_name" {
  description = "MinIO's default key: the name in MINIO_KMS_SECRET_KEY, and MINIO_KMS_KES_KEY_NAME from now on"
}

# KES's keystore, read directly: the only place where the imported key can
# be compared byte for byte with the static key (KES never reveals one).
variable "vault_endpoint" {}
variable "vault_engine" {
  default     = "kv"
  description = "the KV v2 mount of KES's vault keystore (keystore.vault.engine)"
}
variable "vault_prefix" {
  default     = ""
  description = "KES's keystore.vault.prefix"
}
variable "vault_role_id" {
  description = "an AppRole allowed to read and list KES's keys (read on <engine>/data/<prefix>/*, list on <engine>/metadata/<prefix>)"
}
variable "vault_secret_id" {
  sensitive = true
}

variable "backup_file" {
  description = "where the age-encrypted backup of the static key is written (must not exist)"
}
variable "backup_recipients" {
  type        = list(string)
  description = "age public keys (age1...) of the operators who can restore the backup"
}
variable "backup_overwrite" {
  type        = bool
  default     = false
  description = "replace an existing backup_file: true for `cutover rehearse --times N` on staging, which writes the backup N times"
}
variable "backup_identity_file" {
  description = "an age identity of one of the recipients, to prove the backup decrypts"
}

variable "drain_timeout" {
  default     = "1m"
  description = "how long the freeze (and its re-application after the restart, while MinIO starts) may take"
}
variable "ready_timeout" {
  default     = "2m"
  description = "how long MinIO has to become ready after the restart"
}

# The static key, read from the first node's env file.
kms "local" {
  type     = "minio_static"
  env_file = var.env_files[0]
}

kms "kes" {
  type     = "kes"
  endpoint = var.kes_endpoint
  api_key  = var.kes_api_key
  ca_file  = var.kes_ca_file
}

kms "kes_keystore" {
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

minio "prod" {
  endpoint   = var.minio_endpoint
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}

step "backup_keys" "static" {
  description   = "the static key, age-encrypted, then decrypted again and compared"
  from          = kms.local
  to            = var.backup_file
  recipients    = var.backup_recipients
  identity_file = var.backup_identity_file
  overwrite     = var.backup_overwrite
}

# KES never reveals material, so on_conflict = "verify" cannot compare a key
# that is already there: a key of that name in KES fails the step, and
# nothing is touched. A rollback deletes the key this run imported, so a
# failed rehearsal leaves KES as it found it.
step "migrate_keys" "to_kes" {
  from                       = kms.local
  to                         = kms.kes
  on_conflict                = "fail"
  delete_created_on_rollback = true
}

# migrate_keys proved the key round-trips through KES; this proves it is the
# static key: the bytes in KES's keystore are compared with it, and the
# counts must match (every key under the prefix: give KES a prefix of its
# own). It is not run against kms.kes: KES cannot show material, and KES
# v0.24.0 on Vault fails to list an empty prefix, which fails the preflight
# on a fresh KES. See README.md.
step "verify_keys" "in_keystore" {
  from = kms.local
  to   = kms.kes_keystore
}

step "drain" "s3" {
  description = "freeze S3 traffic (held, not refused) for the switch"
  minio       = minio.prod
  timeout     = var.drain_timeout
}

# MinIO's env on every node. `minio` is required here (the step changes
# MINIO_KMS_* variables): a var.key_name that KES does not hold and no step
# imports (a typo), or that is not the static key, is refused before the
# freeze, naming the key and the KES.
step "env" "kms" {
  minio = minio.prod
  files = var.env_files
  set = {
    # Not coalesce(): cutover's coalesce, unlike Terraform's, returns "".
    MINIO_KMS_KES_ENDPOINT = var.minio_kes_endpoint != "" ? var.minio_kes_endpoint : var.kes_endpoint
    MINIO_KMS_KES_KEY_NAME = var.key_name
    MINIO_KMS_KES_API_KEY  = var.kes_api_key
    MINIO_KMS_KES_CAPATH   = var.kes_ca_file
  }
  unset = ["MINIO_KMS_SECRET_KEY"]
}

step "restart" "minio" {
  command = var.restart_command
  timeout = "2m"
}

# Ready means MinIO got a data key from its KMS; kms_key also has it
# generate and decrypt one under the default key. Neither proves that old
# objects decrypt: a KES holding a different key of that name passes both.
step "health_check" "ready" {
  minio    = minio.prod
  kms_key  = var.key_name
  interval = "500ms"
  timeout  = var.ready_timeout
}

# The proof: read the first bytes of every encrypted object.
step "validate_objects" "all" {
  minio   = minio.prod
  buckets = var.buckets
  sample  = "all"
}

step "resume" "s3" {
  drain = step.drain.s3
}
