# The Sombra runbook (seed 004: "Migrate Local KMS to Cloud KMS") as a plan:
# prove the AWS KMS key works, drain in-flight work to zero, rotate the JWT
# signing key (new first, old kept), switch the env to AWS KMS, restart,
# check health, and let work back in. Resuming work is the point of no return:
# work encrypted under AWS KMS from then on cannot be read after a rollback to
# the local KMS.
cutover "sombra-local-to-aws" {
  description        = "app: local KMS -> AWS KMS, with JWT key rotation"
  window             = var.window
  point_of_no_return = step.resume.work
}

variable "window" {
  default     = "15m"
  description = "the maintenance window, from the drain on"
}
variable "app_url" {
  description = "the app's base URL, e.g. http://127.0.0.1:8080"
}
variable "env_file" {
  description = "the app's env file (its EnvironmentFile)"
}
variable "restart_command" {
  type        = list(string)
  description = "how the app's supervisor restarts it, e.g. [\"systemctl\", \"restart\", \"sombra\"]"
}
variable "aws_region" {
  default     = ""
  description = "the AWS region; empty: the SDK's default chain (AWS_REGION, the profile's region)"
}
variable "aws_endpoint" {
  default     = ""
  description = "AWS KMS endpoint override, e.g. an emulator's URL; empty: AWS itself"
}
variable "aws_kms_key_arn" {}
variable "aws_access_key_id" {
  default     = ""
  sensitive   = true
  description = "empty: the SDK's default chain (environment, profile, SSO, instance or container role)"
}
variable "aws_secret_access_key" {
  default   = ""
  sensitive = true
}

# The app's own AWS credentials: the preflight proves the key works with them.
# Every AWS input may be left empty: no endpoint is AWS itself, and the region
# and credentials then come from the SDK's default chain on the operator's
# machine (config.LoadDefaultConfig), as they would for the aws CLI.
kms "aws" {
  type       = "aws_kms"
  region     = var.aws_region
  endpoint   = var.aws_endpoint
  access_key = var.aws_access_key_id
  secret_key = var.aws_secret_access_key
}

step "kms_check" "aws_key" {
  description = "the key exists, is enabled, and an encrypt/decrypt round trip works"
  kms         = kms.aws
  key         = var.aws_kms_key_arn
}

step "drain" "work" {
  description   = "pause intake and wait until no work is in flight"
  pause_url     = "${var.app_url}/admin/pause"
  resume_url    = "${var.app_url}/admin/resume"
  inflight_url  = "${var.app_url}/admin/inflight"
  poll_interval = "100ms"
  timeout       = "2m"
}

step "rotate_jwt" "signing" {
  description = "JWT_ECDSA_KEY becomes new,old"
  files       = [var.env_file]
  keep        = 1
}

step "env" "kms" {
  files = [var.env_file]
  # AWS_REGION only when the plan names one: otherwise the app keeps its own.
  set = merge({
    KMS_PROVIDER    = "AWS"
    AWS_KMS_KEY_ARN = var.aws_kms_key_arn
  }, var.aws_region == "" ? {} : { AWS_REGION = var.aws_region })
}

step "restart" "app" {
  command = var.restart_command
  timeout = "1m"
}

# Healthy means the configured KMS round-trips: true on AWS now, and on the
# local KMS again if a rollback re-runs it.
step "health_check" "app" {
  url      = "${var.app_url}/health"
  interval = "200ms"
  timeout  = "30s"
}

# Only true on the new configuration, so it is not re-run by a rollback.
step "health_check" "on_aws" {
  url           = "${var.app_url}/health"
  body_contains = "\"kms\":\"AWS\""
  timeout       = "10s"
  rollback {
    skip = true
  }
}

step "resume" "work" {
  drain            = step.drain.work
  data_at_risk_url = "${var.app_url}/work?provider=AWS"
}
