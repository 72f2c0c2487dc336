# AIStor (MinIO) from KES to AIStor Key Manager: step 8 of the seed's
# "Migrate Encryption Keys" procedure, the switch of every node's env file,
# after the keys were copied into a Key Manager enclave with `kes migrate`
# and the counts compared (`kes key ls` = `minkms ls-key --enclave ...`).
#
#   prove the default key exists on KES -> the operator confirms the keys
#   are in the enclave -> freeze S3 traffic -> set MINIO_KMS_SERVER,
#   _API_KEY, _ENCLAVE, _SSE_KEY and comment out every MINIO_KMS_KES_*
#   variable, on every node -> restart -> ready, with the key -> read every
#   encrypted object -> release the freeze.
#
# MINIO_KMS_SSE_KEY is the previous MINIO_KMS_KES_KEY_NAME: objects name
# the key that sealed them, and Key Manager must hold it under that name.
# The KES lines are commented out, not removed, so the old configuration
# stays readable in the file; a rollback restores each file byte for byte.
cutover "minio-kes-to-keymanager" {
  description        = "AIStor: KES -> Key Manager (env switch)"
  window             = var.window
  point_of_no_return = step.resume.s3
}

variable "window" {
  default = "30m"
}

variable "env_files" {
  type        = list(string)
  description = "the env file of every node (/etc/default/minio)"
}
variable "restart_command" {
  type        = list(string)
  description = "the supervisor's restart, e.g. [\"systemctl\", \"restart\", \"minio\"] (not `mc admin service restart`: it keeps the old environment)"
}
variable "minio_endpoint" {}
variable "minio_access_key" {}
variable "minio_secret_key" {
  sensitive = true
}
variable "buckets" {
  type = list(string)
}

variable "kes_endpoint" {}
variable "kes_api_key" {
  sensitive = true
}
variable "kes_ca_file" {
  default = ""
}
variable "key_name" {
  description = "MINIO_KMS_KES_KEY_NAME today; MINIO_KMS_SSE_KEY after the switch"
}

variable "keymanager_servers" {
  type        = list(string)
  description = "Key Manager endpoints (or its load balancer), https://host:port; joined into MINIO_KMS_SERVER"
}
variable "keymanager_api_key" {
  sensitive   = true
  description = "the enclave admin API key (k1:...) created for this deployment (MINIO_KMS_API_KEY)"
}
variable "enclave" {
  description = "the enclave the keys were migrated into (MINIO_KMS_ENCLAVE)"
}

variable "drain_timeout" {
  default = "1m"
}
variable "ready_timeout" {
  default = "2m"
}

kms "kes" {
  type     = "kes"
  endpoint = var.kes_endpoint
  api_key  = var.kes_api_key
  ca_file  = var.kes_ca_file
}

minio "prod" {
  endpoint   = var.minio_endpoint
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}

# The name MINIO_KMS_SSE_KEY will carry is a key KES serves today.
step "kms_check" "default_key_on_kes" {
  kms = kms.kes
  key = var.key_name
}

# cutover cannot reach Key Manager: the operator confirms the migration.
step "approve" "keys_in_enclave" {
  message = "kes migrate finished into enclave ${var.enclave}, and `minkms ls-key --enclave ${var.enclave}` counts as many keys as `kes key ls`, ${var.key_name} among them?"
}

step "drain" "s3" {
  minio   = minio.prod
  timeout = var.drain_timeout
}

# `minio` is required (the step changes MINIO_KMS_* variables). cutover
# cannot reach Key Manager to check MINIO_KMS_SSE_KEY there: `cutover plan`
# says so, and `cutover run` refuses to start without
# --accept-unverified-kms, which the operator gives after checking the
# enclave (the approve step above asks the same).
step "env" "kms" {
  minio = minio.prod
  files = var.env_files
  set = {
    MINIO_KMS_SERVER  = join(",", var.keymanager_servers)
    MINIO_KMS_API_KEY = var.keymanager_api_key
    MINIO_KMS_ENCLAVE = var.enclave
    MINIO_KMS_SSE_KEY = var.key_name
  }
  # Every MINIO_KMS_KES_* variable; those a file does not set are ignored.
  comment = [
    "MINIO_KMS_KES_ENDPOINT",
    "MINIO_KMS_KES_KEY_NAME",
    "MINIO_KMS_KES_API_KEY",
    "MINIO_KMS_KES_CAPATH",
    "MINIO_KMS_KES_CERT_FILE",
    "MINIO_KMS_KES_KEY_FILE",
    "MINIO_KMS_KES_KEY_PASSWORD",
    "MINIO_KMS_KES_ENCLAVE",
  ]
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

# What the seed's step 9 does with `mc head`, for every encrypted object.
step "validate_objects" "all" {
  minio   = minio.prod
  buckets = var.buckets
  sample  = "all"
}

step "resume" "s3" {
  drain = step.drain.s3
}
