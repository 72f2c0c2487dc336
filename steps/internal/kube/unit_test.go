package kube

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	kcfg "github.com/cutover/cutover/providers/kubernetes"
)

func TestParseRef(t *testing.T) {
	for in, want := range map[string]string{
		"secret/minio-env": "/api/v1/namespaces/ns/secrets/minio-env",
		"cm/app":           "/api/v1/namespaces/ns/configmaps/app",
		"sts/minio":        "/apis/apps/v1/namespaces/ns/statefulsets/minio",
		"Deployment/app":   "/apis/apps/v1/namespaces/ns/deployments/app",
	} {
		r, err := ParseRef(in)
		if err != nil || r.Path("ns") != want {
			t.Errorf("ParseRef(%q) = %v, %v; path %q, want %q", in, r, err, r.Path("ns"), want)
		}
	}
	for _, bad := range []string{"minio", "pod/x", "secret/", "secret/a/b"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

// TestVarsByteExact: a Secret's values survive Encode/DecodeVars byte for
// byte, including bytes that are not UTF-8, and an edit touches only the
// keys it names.
func TestVarsByteExact(t *testing.T) {
	data := map[string][]byte{"BIN": {0xff, 0x00, 0xfe, '\n'}, "KEY": []byte("minio-key:AAAA")}
	v := bytesVars(data)
	back, err := DecodeVars(v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range data {
		got, ok := back.Get(k)
		if !ok || !bytes.Equal([]byte(got), want) {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if back.Digest() != v.Digest() {
		t.Error("digest changed across Encode/DecodeVars")
	}
	edited := v.Clone()
	edited.Set("NEW", "x")
	edited.Unset("KEY")
	if got, _ := v.Get("KEY"); got != "minio-key:AAAA" {
		t.Error("Clone shares the map")
	}
	changes := Diff(v, edited)
	if len(changes) != 2 || changes[0].Key != "KEY" || changes[1].Key != "NEW" {
		t.Errorf("Diff = %+v", changes)
	}
}

// TestEnvVars: an env list keeps its order and its valueFrom entries.
func TestEnvVars(t *testing.T) {
	from := &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}
	v := envVars([]corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "S", ValueFrom: from}, {Name: "B", Value: "2"}})
	v.Set("A", "one")
	v.Set("C", "3")
	v.Unset("B")
	var names []string
	for _, e := range v.env {
		names = append(names, e.Name+"="+e.Value)
	}
	if got := strings.Join(names, ","); got != "A=one,S=,C=3" {
		t.Errorf("env = %s", got)
	}
	if !v.FromElsewhere("S") || v.FromElsewhere("A") {
		t.Error("FromElsewhere wrong")
	}
	if _, ok := v.Get("S"); ok {
		t.Error("a valueFrom entry reads as a literal")
	}
}

// TestRolloutProgress: the rules of kubectl rollout status.
func TestRolloutProgress(t *testing.T) {
	three := int32(3)
	s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Replicas: &three}}
	s.Status = appsv1.StatefulSetStatus{ObservedGeneration: 2, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentRevision: "r2", UpdateRevision: "r2"}
	if !statefulSetProgress(s, 2).Done {
		t.Error("a finished rollout is not done")
	}
	if statefulSetProgress(s, 3).Done {
		t.Error("done before the controller observed the generation")
	}
	s.Status.CurrentRevision = "r1"
	if p := statefulSetProgress(s, 2); p.Done || !strings.Contains(p.Status, `revision "r1" (update revision "r2")`) {
		t.Errorf("old revision: %+v", p)
	}
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &three}}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 3, Replicas: 4, AvailableReplicas: 3}
	if deploymentProgress(d, 2).Done {
		t.Error("done while an old replica is left")
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}
	if !deploymentProgress(d, 2).Failed {
		t.Error("ProgressDeadlineExceeded not reported")
	}
}

func TestErrorsWrap(t *testing.T) {
	if !errors.Is(apiError(&kcfg.Config{Name: "kubernetes.x"}, "patch", Ref{KindSecret, "x"}, ErrChanged), ErrChanged) {
		t.Error("ErrChanged lost")
	}
}
