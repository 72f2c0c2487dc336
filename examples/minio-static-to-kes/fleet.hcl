# plan.hcl's cutover on a distributed MinIO of four nodes reached over SSH:
# MinIO from its static key to KES backed by Vault, in one maintenance
# window.
#
#   back up the static key (age) -> import it into KES -> prove KES's
#   keystore holds the same bytes -> freeze S3 traffic -> switch
#   /etc/default/minio on all four nodes (one set: identical before and
#   after, each node's original kept) -> restart MinIO on all four at once
#   (a distributed deployment restarts together) -> the cluster healthy
#   (write quorum) as every node sees it ->
#   every object read back through each node -> release the freeze.
#
# cutover runs on the operator's machine and reaches each node as
# host.n1..n4: host keys are checked against known_hosts (an unknown or
# changed key is refused at preflight with its fingerprint), and the
# preflight checks each node's env file exists, is writable and is the same
# on every node. A node that drops during the switch rolls back exactly the
# nodes that changed. See README.md and plan.hcl for the rest.
cutover "minio-static-to-kes-fleet" {
  description        = "MinIO on four nodes over SSH: static key -> KES (Vault keystore)"
  window             = var.window
  point_of_no_return = step.resume.s3
}

variable "window" {
  default     = "30m"
  description = "the maintenance window, from the freeze on"
}

variable "nodes" {
  type        = list(string)
  description = "the addresses of MinIO's four nodes, in MINIO_VOLUMES order"
}
variable "ssh_user" {
  default     = "root"
  description = "the user cutover logs in as on every node; it must be able to replace env_file"
}
variable "ssh_identity_file" {
  description = "the private key cutover logs in with"
}
variable "known_hosts" {
  description = "a known_hosts file holding every node's host key"
}
variable "env_file" {
  default     = "/etc/default/minio"
  description = "MinIO's EnvironmentFile on every node"
}
variable "restart_command" {
  type        = list(string)
  description = "how MinIO is restarted on a node, e.g. [\"systemctl\", \"restart\", \"minio\"]"
}
variable "static_key" {
  sensitive   = true
  description = "MinIO's static key, as MINIO_KMS_SECRET_KEY holds it (<name>:<base64>)"
}

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
  description = "KES as the nodes reach it (MINIO_KMS_KES_ENDPOINT); empty means kes_endpoint"
}
variable "kes_api_key" {
  sensitive = true
}
variable "kes_ca_file" {
  description = "PEM CA of KES's certificate, at the same path on the operator's machine and on every node"
}
variable "key_name" {
  description = "MinIO's default key: the name in MINIO_KMS_SECRET_KEY, and MINIO_KMS_KES_KEY_NAME from now on"
}

variable "vault_endpoint" {}
variable "vault_engine" {
  default = "kv"
}
variable "vault_prefix" {
  default = ""
}
variable "vault_role_id" {}
variable "vault_secret_id" {
  sensitive = true
}

variable "backup_file" {
  description = "where the age-encrypted backup of the static key is written (must not exist)"
}
variable "backup_recipients" {
  type = list(string)
}
variable "backup_identity_file" {}

variable "drain_timeout" {
  default = "1m"
}
variable "ready_timeout" {
  default = "2m"
}

host "n1" {
  address       = var.nodes[0]
  user          = var.ssh_user
  identity_file = var.ssh_identity_file
  known_hosts   = var.known_hosts
}
host "n2" {
  address       = var.nodes[1]
  user          = var.ssh_user
  identity_file = var.ssh_identity_file
  known_hosts   = var.known_hosts
}
host "n3" {
  address       = var.nodes[2]
  user          = var.ssh_user
  identity_file = var.ssh_identity_file
  known_hosts   = var.known_hosts
}
host "n4" {
  address       = var.nodes[3]
  user          = var.ssh_user
  identity_file = var.ssh_identity_file
  known_hosts   = var.known_hosts
}

group "minio" {
  hosts = [host.n1, host.n2, host.n3, host.n4]
}

kms "local" {
  type       = "minio_static"
  secret_key = var.static_key
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

# The deployment through each node: n1 for the freeze and the checks that
# concern the whole cluster, every node for reading the objects back.
minio "n1" {
  endpoint   = "http://${var.nodes[0]}:9000"
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}
minio "n2" {
  endpoint   = "http://${var.nodes[1]}:9000"
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}
minio "n3" {
  endpoint   = "http://${var.nodes[2]}:9000"
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}
minio "n4" {
  endpoint   = "http://${var.nodes[3]}:9000"
  access_key = var.minio_access_key
  secret_key = var.minio_secret_key
}

step "backup_keys" "static" {
  description   = "the static key, age-encrypted, then decrypted again and compared"
  from          = kms.local
  to            = var.backup_file
  recipients    = var.backup_recipients
  identity_file = var.backup_identity_file
}

step "migrate_keys" "to_kes" {
  from                       = kms.local
  to                         = kms.kes
  on_conflict                = "fail"
  delete_created_on_rollback = true
}

step "verify_keys" "in_keystore" {
  from = kms.local
  to   = kms.kes_keystore
}

step "drain" "s3" {
  description = "freeze S3 traffic (held, not refused) on the whole cluster for the switch"
  minio       = minio.n1
  timeout     = var.drain_timeout
}

# The same file on every node, edited as one set: the preflight refuses
# nodes whose files differ (naming the node and both SHA-256 digests), each
# node's original is kept for the rollback, and the files must be identical
# again afterwards.
step "env" "kms" {
  on    = group.minio
  minio = minio.n1
  files = [var.env_file]
  set = {
    MINIO_KMS_KES_ENDPOINT = var.minio_kes_endpoint != "" ? var.minio_kes_endpoint : var.kes_endpoint
    MINIO_KMS_KES_KEY_NAME = var.key_name
    MINIO_KMS_KES_API_KEY  = var.kes_api_key
    MINIO_KMS_KES_CAPATH   = var.kes_ca_file
  }
  unset = ["MINIO_KMS_SECRET_KEY"]
}

# All four at once: the servers of a distributed MinIO must agree on their
# KMS, so they restart together (no batch).
step "restart" "minio" {
  on      = group.minio
  command = var.restart_command
  timeout = "2m"
}

# Every node must see the whole cluster able to take writes (its write
# quorum: /minio/health/cluster), not only be up itself (/ready): right
# after a restart together, a node can serve reads while writes still fail.
step "health_check" "nodes" {
  on       = group.minio
  url      = "http://${node.address}:9000/minio/health/cluster"
  interval = "500ms"
  timeout  = var.ready_timeout
}

step "health_check" "kms" {
  minio    = minio.n1
  kms_key  = var.key_name
  interval = "500ms"
  timeout  = var.ready_timeout
}

step "validate_objects" "via_n1" {
  minio   = minio.n1
  buckets = var.buckets
  sample  = "all"
}
step "validate_objects" "via_n2" {
  minio   = minio.n2
  buckets = var.buckets
  sample  = "all"
}
step "validate_objects" "via_n3" {
  minio   = minio.n3
  buckets = var.buckets
  sample  = "all"
}
step "validate_objects" "via_n4" {
  minio   = minio.n4
  buckets = var.buckets
  sample  = "all"
}

step "resume" "s3" {
  drain = step.drain.s3
}
