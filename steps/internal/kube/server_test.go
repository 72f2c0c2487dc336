package kube

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kt "github.com/cutover/cutover/internal/testing/kube"
	kcfg "github.com/cutover/cutover/providers/kubernetes"
)

func TestMain(m *testing.M) {
	code := m.Run()
	kt.StopShared()
	os.Exit(code)
}

func cluster(t *testing.T, c *kt.Cluster, ns, context string) *kcfg.Config {
	return &kcfg.Config{Name: "kubernetes.test", Kubeconfig: c.Kubeconfig, Context: context, Namespace: ns}
}

// TestPutRefusesAStaleRead: a write carries the resourceVersion it read,
// so a change made in between is refused (ErrChanged) and survives.
func TestPutRefusesAStaleRead(t *testing.T) {
	c := kt.Shared(t)
	ns := c.Namespace(t)
	cs := c.Client(t)
	ctx := context.Background()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "env"}, Data: map[string][]byte{"A": []byte("1"), "B": {0xff, 0}}}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k := cluster(t, c, ns, kt.AdminContext)
	o, err := Get(ctx, k, Ref{KindSecret, "env"}, "")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := cs.CoreV1().Secrets(ns).Get(ctx, "env", metav1.GetOptions{})
	other.Data["A"] = []byte("someone else")
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, other, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	next := o.Vars.Clone()
	next.Set("A", "cutover")
	if _, err := Put(ctx, k, o, next); !errors.Is(err, ErrChanged) {
		t.Fatalf("Put over a stale read: %v, want ErrChanged", err)
	}
	now, _ := cs.CoreV1().Secrets(ns).Get(ctx, "env", metav1.GetOptions{})
	if string(now.Data["A"]) != "someone else" {
		t.Fatalf("the other change was overwritten: A = %q", now.Data["A"])
	}
	// a fresh read writes, byte for byte, and leaves other keys alone
	o, err = Get(ctx, k, Ref{KindSecret, "env"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Put(ctx, k, o, next); err != nil {
		t.Fatal(err)
	}
	now, _ = cs.CoreV1().Secrets(ns).Get(ctx, "env", metav1.GetOptions{})
	if string(now.Data["A"]) != "cutover" || string(now.Data["B"]) != "\xff\x00" {
		t.Fatalf("data after Put = %q", now.Data)
	}
}

// TestCheckAccessNamesVerbAndObject: SelfSubjectAccessReview refusals
// name the verb and the object.
func TestCheckAccessNamesVerbAndObject(t *testing.T) {
	c := kt.Shared(t)
	ns := c.Namespace(t)
	c.Grant(t, ns, "", "secrets", []string{"env"}, []string{"get"})
	k := cluster(t, c, ns, kt.LimitedContext)
	err := CheckAccess(context.Background(), k, []Ref{{KindSecret, "env"}}, Verbs)
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "not allowed to patch secret/env in namespace "+ns) ||
		strings.Contains(err.Error(), "to get") {
		t.Fatalf("CheckAccess = %v, want a refusal of patch only", err)
	}
	if err := CheckAccess(context.Background(), cluster(t, c, ns, kt.AdminContext), []Ref{{KindSecret, "env"}}, Verbs); err != nil {
		t.Fatalf("admin refused: %v", err)
	}
}

// TestWaitDeadline: a rollout nobody completes fails at its deadline with
// the last status; one whose status the test writes completes.
func TestWaitDeadline(t *testing.T) {
	c := kt.Shared(t)
	ns := c.Namespace(t)
	c.StatefulSet(t, ns, "db", "", nil)
	k := cluster(t, c, ns, kt.AdminContext)
	ref := Ref{KindStatefulSet, "db"}
	ctx := context.Background()
	gen, err := Restart(ctx, k, ref, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = Wait(ctx, k, ref, gen, time.Now().Add(time.Second))
	if !errors.Is(err, ErrRollout) || !strings.Contains(err.Error(), "observed generation") {
		t.Fatalf("Wait = %v, want ErrRollout with the status", err)
	}
	if got := c.RollOut(t, ns, "db"); got != gen {
		t.Fatalf("rolled out generation %d, want %d", got, gen)
	}
	if err := Wait(ctx, k, ref, gen, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Client(t).AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if s.Spec.Template.Annotations[RestartedAtAnnotation] == "" {
		t.Fatal("no restartedAt annotation")
	}
}

// TestRestartMakesANewReplicaSet: with the controller-manager running, a
// restart makes the Deployment controller create a new ReplicaSet (pods
// stay Pending without a kubelet, so the rollout itself cannot finish).
func TestRestartMakesANewReplicaSet(t *testing.T) {
	c := kt.Start(t, kt.Options{ControllerManager: true})
	ns := c.Namespace(t)
	cs := c.Client(t)
	ctx := context.Background()
	one := int32(1)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &one,
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.invalid/web:1"}}}}}}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicaSets := func() int {
		l, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	waitFor(t, "the first ReplicaSet", func() bool { return replicaSets() == 1 })
	k := cluster(t, c, ns, kt.AdminContext)
	gen, err := Restart(ctx, k, Ref{KindDeployment, "web"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a second ReplicaSet", func() bool { return replicaSets() == 2 })
	if err := Wait(ctx, k, Ref{KindDeployment, "web"}, gen, time.Now().Add(2*time.Second)); !errors.Is(err, ErrRollout) {
		t.Fatalf("Wait with Pending pods = %v, want ErrRollout", err)
	}
}

// waitFor polls cond until it holds, failing after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after a minute", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
