// Package kube is what the env and restart steps do on a Kubernetes
// cluster (a providers/kubernetes block): read and write the variables
// held by a Secret, a ConfigMap or a workload's pod template, check the
// credentials' permissions with SelfSubjectAccessReview, restart a
// workload as `kubectl rollout restart` does and wait for its rollout.
//
// Writes are JSON merge patches that carry the resourceVersion the object
// was read at, so the API server refuses one (409 Conflict, ErrChanged)
// when anyone changed the object in between: cutover never overwrites a
// change it did not see.
package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	kcfg "github.com/cutover/cutover/providers/kubernetes"
)

// ErrChanged means an object changed between cutover's read and its write
// (the API server answered 409 Conflict to the resourceVersion cutover
// sent); nothing was written.
var ErrChanged = errors.New("changed by someone else since cutover read it; not overwritten")

// ErrNotFound means a named object does not exist.
var ErrNotFound = errors.New("not found")

// Kinds of objects a plan names, as `<kind>/<name>`.
const (
	KindSecret      = "secret"
	KindConfigMap   = "configmap"
	KindDeployment  = "deployment"
	KindStatefulSet = "statefulset"
)

var kindAliases = map[string]string{
	"secret": KindSecret, "secrets": KindSecret,
	"configmap": KindConfigMap, "configmaps": KindConfigMap, "cm": KindConfigMap,
	"deployment": KindDeployment, "deployments": KindDeployment, "deploy": KindDeployment,
	"statefulset": KindStatefulSet, "statefulsets": KindStatefulSet, "sts": KindStatefulSet,
}

// Ref names one object of the block's namespace.
type Ref struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ParseRef parses "<kind>/<name>" (kubectl's spelling: secret, configmap
// or cm, deployment or deploy, statefulset or sts).
func ParseRef(s string) (Ref, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return Ref{}, fmt.Errorf("%q is not <kind>/<name>, such as secret/minio-env or statefulset/minio", s)
	}
	k, known := kindAliases[strings.ToLower(kind)]
	if !known {
		return Ref{}, fmt.Errorf("%q: kind %q is none of secret, configmap, deployment, statefulset", s, kind)
	}
	return Ref{Kind: k, Name: name}, nil
}

// Workload reports whether r is a Deployment or a StatefulSet.
func (r Ref) Workload() bool { return r.Kind == KindDeployment || r.Kind == KindStatefulSet }

// String is "<kind>/<name>".
func (r Ref) String() string { return r.Kind + "/" + r.Name }

// Resource returns the API group and resource of r's kind.
func (r Ref) Resource() (group, resource string) {
	switch r.Kind {
	case KindSecret:
		return "", "secrets"
	case KindConfigMap:
		return "", "configmaps"
	case KindDeployment:
		return "apps", "deployments"
	default:
		return "apps", "statefulsets"
	}
}

// Path is r's REST path in namespace ns, e.g.
// /api/v1/namespaces/minio/secrets/minio-env: an absolute name that
// `cutover rollback --overwrite/--keep STEP=PATH` accepts.
func (r Ref) Path(ns string) string {
	group, resource := r.Resource()
	prefix := "/api/v1"
	if group != "" {
		prefix = "/apis/" + group + "/v1"
	}
	return fmt.Sprintf("%s/namespaces/%s/%s/%s", prefix, ns, resource, r.Name)
}

// Object is what cutover reads of one object: the variables it holds and
// the resourceVersion they were read at.
type Object struct {
	Ref Ref
	// Container is the pod template's container whose env is edited
	// (workloads only).
	Container string
	// RV is the resourceVersion read.
	RV string
	// Vars are the variables: a Secret's or ConfigMap's data, or the
	// container's env entries with a literal value.
	Vars *Vars
}

// Digest is the SHA-256 of the object's variables (hex), what the
// undo record compares.
func (o *Object) Digest() string { return o.Vars.Digest() }

// Secret reports whether the object's values are all secret.
func (o *Object) Secret() bool { return o.Ref.Kind == KindSecret }

// Get reads ref. container picks a workload's container; "" means its
// only one (more than one is an error naming them).
func Get(ctx context.Context, c *kcfg.Config, ref Ref, container string) (*Object, error) {
	o := &Object{Ref: ref}
	err := c.Call(ctx, func(ctx context.Context, cs kubernetes.Interface) error {
		var err error
		switch ref.Kind {
		case KindSecret:
			var s *corev1.Secret
			if s, err = cs.CoreV1().Secrets(c.Namespace).Get(ctx, ref.Name, metav1.GetOptions{}); err == nil {
				o.RV, o.Vars = s.ResourceVersion, bytesVars(s.Data)
			}
		case KindConfigMap:
			var m *corev1.ConfigMap
			if m, err = cs.CoreV1().ConfigMaps(c.Namespace).Get(ctx, ref.Name, metav1.GetOptions{}); err == nil {
				o.RV, o.Vars = m.ResourceVersion, stringVars(m.Data)
			}
		default:
			var t *corev1.PodTemplateSpec
			if t, o.RV, err = getTemplate(ctx, cs, c.Namespace, ref); err == nil {
				var ctr *corev1.Container
				if ctr, err = pickContainer(t, container); err == nil {
					o.Container, o.Vars = ctr.Name, envVars(ctr.Env)
				}
			}
		}
		return err
	})
	if err != nil {
		return nil, apiError(c, "get", ref, err)
	}
	return o, nil
}

// getTemplate reads a workload's pod template and resourceVersion.
func getTemplate(ctx context.Context, cs kubernetes.Interface, ns string, ref Ref) (*corev1.PodTemplateSpec, string, error) {
	if ref.Kind == KindDeployment {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, "", err
		}
		return &d.Spec.Template, d.ResourceVersion, nil
	}
	s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, "", err
	}
	return &s.Spec.Template, s.ResourceVersion, nil
}

func pickContainer(t *corev1.PodTemplateSpec, name string) (*corev1.Container, error) {
	var names []string
	for i := range t.Spec.Containers {
		if t.Spec.Containers[i].Name == name || (name == "" && len(t.Spec.Containers) == 1) {
			return &t.Spec.Containers[i], nil
		}
		names = append(names, t.Spec.Containers[i].Name)
	}
	if name == "" {
		return nil, fmt.Errorf("the pod template has %d containers (%s): set container", len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("the pod template has no container %q (it has %s)", name, strings.Join(names, ", "))
}

// Put writes vars into the object o was read as, at o.RV: a JSON merge
// patch carrying that resourceVersion, so a change since the read is
// refused with ErrChanged. It returns the new resourceVersion.
func Put(ctx context.Context, c *kcfg.Config, o *Object, vars *Vars) (string, error) {
	var rv string
	err := c.Call(ctx, func(ctx context.Context, cs kubernetes.Interface) error {
		patch, err := o.patch(ctx, cs, c.Namespace, vars)
		if err != nil {
			return err
		}
		rv, err = mergePatch(ctx, cs, c.Namespace, o.Ref, patch)
		return err
	})
	if err != nil {
		return "", apiError(c, "patch", o.Ref, err)
	}
	return rv, nil
}

// patch builds the merge patch that turns o's variables into vars.
func (o *Object) patch(ctx context.Context, cs kubernetes.Interface, ns string, vars *Vars) (map[string]any, error) {
	meta := map[string]any{"resourceVersion": o.RV}
	switch o.Ref.Kind {
	case KindSecret, KindConfigMap:
		data := map[string]any{}
		for _, k := range o.Vars.Keys() {
			if _, ok := vars.Get(k); !ok {
				data[k] = nil
			}
		}
		for _, k := range vars.Keys() {
			v, _ := vars.Get(k)
			if old, ok := o.Vars.Get(k); !ok || old != v {
				data[k] = v
				if o.Ref.Kind == KindSecret {
					data[k] = []byte(v) // base64 in JSON: the exact bytes
				}
			}
		}
		return map[string]any{"metadata": meta, "data": data}, nil
	}
	t, rv, err := getTemplate(ctx, cs, ns, o.Ref)
	if err != nil {
		return nil, err
	}
	if rv != o.RV {
		return nil, apierrors.NewConflict(appsv1.Resource(o.Ref.Kind), o.Ref.Name, ErrChanged)
	}
	ctrs := t.Spec.Containers
	for i := range ctrs {
		if ctrs[i].Name == o.Container {
			ctrs[i].Env = vars.env
		}
	}
	return map[string]any{"metadata": meta, "spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": ctrs}}}}, nil
}

// mergePatch sends a JSON merge patch and returns the new resourceVersion.
func mergePatch(ctx context.Context, cs kubernetes.Interface, ns string, ref Ref, patch map[string]any) (string, error) {
	body, err := json.Marshal(patch)
	if err != nil {
		return "", err
	}
	opts := metav1.PatchOptions{FieldManager: "cutover"}
	var obj metav1.Object
	switch ref.Kind {
	case KindSecret:
		obj, err = cs.CoreV1().Secrets(ns).Patch(ctx, ref.Name, types.MergePatchType, body, opts)
	case KindConfigMap:
		obj, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx, ref.Name, types.MergePatchType, body, opts)
	case KindDeployment:
		obj, err = cs.AppsV1().Deployments(ns).Patch(ctx, ref.Name, types.MergePatchType, body, opts)
	default:
		obj, err = cs.AppsV1().StatefulSets(ns).Patch(ctx, ref.Name, types.MergePatchType, body, opts)
	}
	if err != nil {
		return "", err
	}
	return obj.GetResourceVersion(), nil
}

// apiError names the cluster, the verb and the object; a 409 becomes
// ErrChanged, a 404 ErrNotFound.
func apiError(c *kcfg.Config, verb string, ref Ref, err error) error {
	what := fmt.Sprintf("%s: %s %s in namespace %s", c.Name, verb, ref, c.Namespace)
	switch {
	case apierrors.IsConflict(err) || errors.Is(err, ErrChanged):
		return fmt.Errorf("%s: %w", what, ErrChanged)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// digest is the hex SHA-256 of b.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
