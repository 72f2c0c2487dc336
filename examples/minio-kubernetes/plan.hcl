# MinIO on Kubernetes (the Operator's or the Helm chart's layout): its
# environment lives in the Secret minio-env, which the StatefulSet minio
# reads with envFrom. This plan moves it from a static key to KES: it
# patches the Secret (at the resourceVersion it read, so a change made by
# anyone else in the window is never overwritten), rolls the StatefulSet
# out as `kubectl rollout restart` does and waits for the rollout, then
# checks. A failure rolls back: the Secret is restored byte for byte and
# the StatefulSet rolled out again.
cutover "minio-kubernetes" {
  window      = "30m"
  description = "MinIO on Kubernetes: static key to KES"
}

variable "kubeconfig" {
  description = "kubeconfig of a user allowed get and patch on secret/minio-env and statefulset/minio"
}
variable "context" {
  default = ""
}
variable "namespace" {
  default = "minio"
}
variable "kes_endpoint" {
  description = "KES as MinIO's pods reach it, such as https://kes.kes.svc:7373"
}
variable "kes_api_key" {
  sensitive = true
}
variable "rollout_timeout" {
  default = "10m"
}
variable "check" {
  description = "the command that proves MinIO serves its objects on the new KMS"
  type        = list(string)
  default     = ["true"]
}

kubernetes "prod" {
  kubeconfig = var.kubeconfig
  context    = var.context
  namespace  = var.namespace
}

step "env" "kms" {
  kubernetes = kubernetes.prod
  objects    = ["secret/minio-env"]
  set = {
    MINIO_KMS_KES_ENDPOINT = var.kes_endpoint
    MINIO_KMS_KES_API_KEY  = var.kes_api_key
    MINIO_KMS_KES_KEY_NAME = "minio-default-key"
  }
  unset = ["MINIO_KMS_SECRET_KEY"]
}

step "restart" "minio" {
  kubernetes      = kubernetes.prod
  objects         = ["statefulset/minio"]
  rollout_timeout = var.rollout_timeout
}

step "exec" "check" {
  command = var.check
}
