# A rehearsal that fails on purpose: the same cutover, plus a check that
# reads a work item written under the local KMS. Under AWS KMS it cannot be
# decrypted (the seed: "no hybrid KMS"), so the check fails and cutover rolls
# back by itself: the env file and the JWT key list are restored byte for
# byte, the app restarts on the local KMS, its health is checked again, and
# only then is work let back in. Exit code 3.
cutover "sombra-rehearsal" {
  window             = "15m"
  point_of_no_return = step.resume.work
}

variable "app_url" {}
variable "env_file" {}
variable "restart_command" {
  type = list(string)
}
variable "aws_region" {
  default = ""
}
variable "aws_endpoint" {
  default = ""
}
variable "aws_kms_key_arn" {}
variable "aws_access_key_id" {
  default   = ""
  sensitive = true
}
variable "aws_secret_access_key" {
  default   = ""
  sensitive = true
}
variable "demoapp" {
  description = "the demo app's binary, whose client reads an item back"
}
variable "old_item_id" {
  description = "a work item written under the local KMS"
}

kms "aws" {
  type       = "aws_kms"
  region     = var.aws_region
  endpoint   = var.aws_endpoint
  access_key = var.aws_access_key_id
  secret_key = var.aws_secret_access_key
}

step "kms_check" "aws_key" {
  kms = kms.aws
  key = var.aws_kms_key_arn
}

step "drain" "work" {
  pause_url     = "${var.app_url}/admin/pause"
  resume_url    = "${var.app_url}/admin/resume"
  inflight_url  = "${var.app_url}/admin/inflight"
  poll_interval = "100ms"
  timeout       = "2m"
}

step "rotate_jwt" "signing" {
  files = [var.env_file]
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

step "health_check" "app" {
  url      = "${var.app_url}/health"
  interval = "200ms"
  timeout  = "30s"
}

# Fails on purpose: old data is not readable under the new KMS.
step "exec" "old_work_readable" {
  command = [var.demoapp, "client", "get", var.app_url, var.old_item_id]
  rollback {
    skip = true
  }
}

step "resume" "work" {
  drain = step.drain.work
}
