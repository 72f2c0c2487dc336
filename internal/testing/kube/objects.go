package kube

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Client returns a clientset of the admin user.
func (c *Cluster) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: AdminContext}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	rc.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var nsSeq atomic.Int64

// Namespace creates a namespace of its own for t and returns its name.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsSeq.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	_, err := c.Client(t).CoreV1().Namespaces().Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func ctx(t testing.TB) context.Context {
	if tt, ok := t.(interface{ Context() context.Context }); ok {
		return tt.Context()
	}
	return context.Background()
}

// Grant gives LimitedUser the verbs on resource (in group) named names in
// ns, through a Role and RoleBinding.
func (c *Cluster) Grant(t testing.TB, ns, group, resource string, names, verbs []string) {
	t.Helper()
	cs := c.Client(t)
	name := "limited-" + resource + "-" + strings.Join(verbs, "-")
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{group}, Resources: []string{resource}, ResourceNames: names, Verbs: verbs}}}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx(t), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: LimitedUser}}}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx(t), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// StatefulSet creates a StatefulSet of one replica whose container
// "server" takes its environment from the Secret envFrom (if not "") and
// has env, and marks its first rollout done (RollOut).
func (c *Cluster) StatefulSet(t testing.TB, ns, name, envFrom string, env []corev1.EnvVar) *appsv1.StatefulSet {
	t.Helper()
	one := int32(1)
	labels := map[string]string{"app": name}
	ctr := corev1.Container{Name: "server", Image: "example.invalid/server:1", Env: env}
	if envFrom != "" {
		ctr.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: envFrom}}}}
	}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.StatefulSetSpec{
		Replicas: &one, ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{ctr}}}}}
	out, err := c.Client(t).AppsV1().StatefulSets(ns).Create(ctx(t), sts, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.RollOut(t, ns, name)
	return out
}

// RollOut writes a StatefulSet's status as its controller would once the
// rollout of its current generation finished (every replica updated,
// ready and available, one revision), since no kubelet runs pods here.
// It returns the generation written.
func (c *Cluster) RollOut(t testing.TB, ns, name string) int64 {
	t.Helper()
	gen, err := rollOut(ctx(t), c.Client(t), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

func rollOut(ctx context.Context, cs kubernetes.Interface, ns, name string) (int64, error) {
	for {
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		n := int32(1)
		if s.Spec.Replicas != nil {
			n = *s.Spec.Replicas
		}
		rev := fmt.Sprintf("%s-gen%d", name, s.Generation)
		s.Status = appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: n, ReadyReplicas: n, CurrentReplicas: n,
			UpdatedReplicas: n, AvailableReplicas: n, CurrentRevision: rev, UpdateRevision: rev}
		_, err = cs.AppsV1().StatefulSets(ns).UpdateStatus(ctx, s, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		return s.Generation, err
	}
}

// AutoRollOut plays the StatefulSet controller and kubelet for name until
// t ends: whenever a new generation appears, its rollout is written done
// (RollOut). It returns a function that reports the generations rolled
// out so far.
func (c *Cluster) AutoRollOut(t testing.TB, ns, name string) func() []int64 {
	t.Helper()
	return c.AutoRollOutIf(t, ns, name, nil)
}

// AutoRollOutIf is AutoRollOut for the generations that appear while
// healthy (nil: always) reports true: the pods of a configuration that
// does not work never become ready.
func (c *Cluster) AutoRollOutIf(t testing.TB, ns, name string, healthy func() bool) func() []int64 {
	t.Helper()
	cs := c.Client(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	var gens atomic.Pointer[[]int64]
	gens.Store(&[]int64{})
	go func() {
		defer close(done)
		var last int64
		for {
			s, err := cs.AppsV1().StatefulSets(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err == nil && s.Generation != last && s.Status.ObservedGeneration < s.Generation && (healthy == nil || healthy()) {
				if g, err := rollOut(context.Background(), cs, ns, name); err == nil {
					last = g
					list := append(append([]int64{}, *gens.Load()...), g)
					gens.Store(&list)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() []int64 { return *gens.Load() }
}
