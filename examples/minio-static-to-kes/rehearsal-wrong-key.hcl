# A rehearsal that must fail: KES already holds a key under MinIO's key
# name, but not the key that encrypted the data (someone ran
# `kes key create my-minio-key`, or imported the wrong file). The plan
# leaves the keys alone and only switches MinIO over, the way an operator
# would after importing the key by hand.
#
# MinIO would start on KES, /minio/health/ready would answer 200 and the
# key would pass MinIO's key status check (both only use a fresh data key);
# only reading an old object would fail. cutover does not get that far:
# the env step names minio.prod, so the preflight compares the static key
# with the key KES holds under that name (KES decrypts a ciphertext sealed
# with the static key, or not) and refuses the run, naming the key and the
# KES, before the freeze. Nothing changes. Exit code 1.
cutover "minio-static-to-kes-rehearsal" {
  description        = "rehearsal: switch MinIO to a KES that holds the wrong key"
  window             = "15m"
  point_of_no_return = step.resume.s3
}

variable "env_files" {
  type = list(string)
}
variable "restart_command" {
  type = list(string)
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
variable "kes_ca_file" {}
variable "key_name" {}

minio "prod" {
  endpoint   = var.minio_endpoint
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}

step "drain" "s3" {
  minio   = minio.prod
  timeout = "1m"
}

step "env" "kms" {
  minio = minio.prod
  files = var.env_files
  set = {
    MINIO_KMS_KES_ENDPOINT = var.kes_endpoint
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

# Passes with the wrong key too: it proves a fresh data key, not old data.
step "health_check" "ready" {
  minio    = minio.prod
  kms_key  = var.key_name
  interval = "500ms"
  timeout  = "2m"
}

# Fails: the objects were sealed by the static key, not by KES's key.
step "validate_objects" "all" {
  minio   = minio.prod
  buckets = var.buckets
  sample  = "all"
}

step "resume" "s3" {
  drain = step.drain.s3
}
