// Package miniokubernetes_test runs examples/minio-kubernetes/plan.hcl with
// the cutover command against a real kube-apiserver and etcd
// (internal/testing/kube): plan, run, a failing later step, a concurrent
// edit of the Secret, missing RBAC and a rollout that never completes.
// No kubelet runs, so the test writes the StatefulSet's status as a
// finished rollout would (AutoRollOut).
package miniokubernetes_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cutover/cutover/internal/cli"
	kt "github.com/cutover/cutover/internal/testing/kube"
	ex "github.com/cutover/cutover/internal/testing/minioexamples"
)

// editEnv makes this test binary, run as the plan's check command, change
// the Secret the way another operator would during the window, then fail.
const editEnv = "CUTOVER_TEST_KUBE_EDIT"

const (
	apiKey       = "kes:v1:AGdWnx1a5GNmsQhwp0f/I0FzcOmpamPHTzMZJyuDFJfT"
	staticKey    = "minio-key:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	rootPassword = "minio-root-password-1234"
	otherKeyName = "someone-elses-key"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(editEnv); spec != "" {
		os.Exit(editSecret(spec))
	}
	code := m.Run()
	kt.StopShared()
	os.Exit(code)
}

// editSecret sets MINIO_KMS_KES_KEY_NAME in the Secret to otherKeyName;
// spec is "<kubeconfig>|<namespace>". It returns 1: the check fails.
func editSecret(spec string) int {
	kubeconfig, ns, _ := strings.Cut(spec, "|")
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err == nil {
		var cs *kubernetes.Clientset
		if cs, err = kubernetes.NewForConfig(rc); err == nil {
			var s *corev1.Secret
			if s, err = cs.CoreV1().Secrets(ns).Get(context.Background(), "minio-env", metav1.GetOptions{}); err == nil {
				s.Data["MINIO_KMS_KES_KEY_NAME"] = []byte(otherKeyName)
				_, err = cs.CoreV1().Secrets(ns).Update(context.Background(), s, metav1.UpdateOptions{})
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "edit:", err)
		return 2
	}
	fmt.Println("edited the Secret; failing the check")
	return 1
}

func TestValidate(t *testing.T) { ex.Validate(t, "plan.hcl") }

type rig struct {
	c        *kt.Cluster
	ns, dir  string
	original map[string][]byte
	rolled   func() []int64
}

// newRig creates the Secret minio-env (a static key, root credentials and
// a value that is not UTF-8) and the StatefulSet minio reading it, in a
// namespace of the test's own, and copies the plan into a directory.
func newRig(t *testing.T) *rig {
	r := &rig{c: kt.Shared(t), dir: t.TempDir()}
	r.ns = r.c.Namespace(t)
	r.original = map[string][]byte{
		"MINIO_ROOT_USER":      []byte("admin"),
		"MINIO_ROOT_PASSWORD":  []byte(rootPassword),
		"MINIO_KMS_SECRET_KEY": []byte(staticKey),
		"extra.bin":            {0xff, 0x00, 0xfe, '\n'},
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "minio-env"}, Data: r.original}
	if _, err := r.c.Client(t).CoreV1().Secrets(r.ns).Create(context.Background(), sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.c.StatefulSet(t, r.ns, "minio", "minio-env", nil)
	if err := os.WriteFile(filepath.Join(r.dir, "plan.hcl"), ex.ReadFile(t, "plan.hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) vars(extra ...string) ex.Vars {
	return ex.Vars{"kubeconfig": r.c.Kubeconfig, "namespace": r.ns, "kes_endpoint": "https://kes.kes.svc:7373",
		"kes_api_key": apiKey}.With(extra...)
}

// cutover runs `cutover VERB [flags] -var... plan.hcl` and checks its exit code.
func (r *rig) cutover(t *testing.T, want int, verb string, vars ex.Vars, flags ...string) string {
	t.Helper()
	args := append(append(append([]string{verb}, flags...), vars.Flags()...), filepath.Join(r.dir, "plan.hcl"))
	code, stdout, stderr := ex.Cutover(args...)
	out := stdout + stderr
	t.Logf("cutover %s: exit %d\n%s", verb, code, out)
	if code != want {
		t.Fatalf("cutover %s exited %d, want %d", verb, code, want)
	}
	for _, s := range []string{apiKey, staticKey, rootPassword, base64.StdEncoding.EncodeToString([]byte(staticKey))} {
		if strings.Contains(out, s) {
			t.Fatalf("cutover %s printed a secret (%.8s...)", verb, s)
		}
	}
	return out
}

func (r *rig) secret(t *testing.T) map[string][]byte {
	t.Helper()
	s, err := r.c.Client(t).CoreV1().Secrets(r.ns).Get(context.Background(), "minio-env", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data
}

// restored fails t unless the Secret holds exactly its original data.
func (r *rig) restored(t *testing.T) {
	t.Helper()
	got := r.secret(t)
	if len(got) != len(r.original) {
		t.Fatalf("Secret keys after the rollback: %d, want %d", len(got), len(r.original))
	}
	for k, v := range r.original {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("Secret %s not restored byte for byte", k)
		}
	}
}

// generation returns the StatefulSet's generation and observed generation.
func (r *rig) generation(t *testing.T) (int64, int64) {
	s, err := r.c.Client(t).AppsV1().StatefulSets(r.ns).Get(context.Background(), "minio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Generation, s.Status.ObservedGeneration
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q", w)
		}
	}
}

// TestStaticToKES: plan shows the Secret's masked diff; a run whose later
// step fails patches the Secret, rolls the StatefulSet out, then restores
// the Secret byte for byte and rolls it out again; a run whose check
// passes leaves the KES settings.
func TestStaticToKES(t *testing.T) {
	r := newRig(t)
	r.rolled = r.c.AutoRollOut(t, r.ns, "minio")
	out := r.cutover(t, cli.ExitOK, "plan", r.vars())
	mustContain(t, out, "patch secret/minio-env", "- MINIO_KMS_SECRET_KEY", "+ MINIO_KMS_KES_API_KEY = (sensitive)",
		"+ MINIO_KMS_KES_KEY_NAME = (sensitive)", "rollout restart statefulset/minio")

	out = r.cutover(t, cli.ExitRolledBack, "run", r.vars("check", ex.HCLList("false")))
	mustContain(t, out, "exec.check")
	r.restored(t)
	gen, observed := r.generation(t)
	if gen != 3 || observed != 3 {
		t.Fatalf("StatefulSet generation %d (observed %d), want 3: created, rolled out by the run, again by the rollback", gen, observed)
	}
	ex.NoSecrets(t, filepath.Join(r.dir, ".cutover"), apiKey, staticKey, rootPassword)

	r.cutover(t, cli.ExitOK, "run", r.vars())
	got := r.secret(t)
	if _, left := got["MINIO_KMS_SECRET_KEY"]; left || string(got["MINIO_KMS_KES_API_KEY"]) != apiKey ||
		string(got["MINIO_KMS_KES_KEY_NAME"]) != "minio-default-key" || !bytes.Equal(got["extra.bin"], r.original["extra.bin"]) {
		t.Fatal("the Secret does not hold the KES settings with its other keys untouched")
	}
	if gen, observed := r.generation(t); gen != 4 || observed != 4 {
		t.Fatalf("StatefulSet generation %d (observed %d), want 4", gen, observed)
	}
}

// TestConcurrentEdit: someone changes the Secret during the window; the
// rollback stops with a masked diff instead of overwriting it, and
// `cutover rollback --overwrite` then puts the original back.
func TestConcurrentEdit(t *testing.T) {
	r := newRig(t)
	r.c.AutoRollOut(t, r.ns, "minio")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(editEnv, r.c.Kubeconfig+"|"+r.ns)
	path := "/api/v1/namespaces/" + r.ns + "/secrets/minio-env"
	out := r.cutover(t, cli.ExitFailed, "run", r.vars("check", ex.HCLList(self)))
	mustContain(t, out, path+" changed since step env.kms wrote it", "~ MINIO_KMS_KES_KEY_NAME = (sensitive) -> (sensitive)",
		"--overwrite env.kms="+path, "--keep env.kms="+path)
	if got := string(r.secret(t)["MINIO_KMS_KES_KEY_NAME"]); got != otherKeyName {
		t.Fatalf("the other change was overwritten: %q", got)
	}
	r.cutover(t, cli.ExitOK, "rollback", r.vars(), "--overwrite", "env.kms="+path)
	r.restored(t)
}

// TestMissingRBAC: a user that may not patch the Secret is refused at
// preflight, naming the verb and the object; nothing changes.
func TestMissingRBAC(t *testing.T) {
	r := newRig(t)
	r.c.Grant(t, r.ns, "", "secrets", []string{"minio-env"}, []string{"get"})
	r.c.Grant(t, r.ns, "apps", "statefulsets", []string{"minio"}, []string{"get", "patch"})
	out := r.cutover(t, cli.ExitFailed, "run", r.vars("context", kt.LimitedContext))
	mustContain(t, out, "not allowed to patch secret/minio-env in namespace "+r.ns)
	r.restored(t)
	if gen, _ := r.generation(t); gen != 1 {
		t.Fatalf("StatefulSet generation %d, want 1 (untouched)", gen)
	}
}

// TestRolloutDeadline: pods on the new settings never become ready; the
// restart fails at its rollout_timeout and the run rolls back: the Secret
// restored byte for byte, and the rollout of the old settings completes.
func TestRolloutDeadline(t *testing.T) {
	r := newRig(t)
	r.c.AutoRollOutIf(t, r.ns, "minio", func() bool {
		s, err := r.c.Client(t).CoreV1().Secrets(r.ns).Get(context.Background(), "minio-env", metav1.GetOptions{})
		return err == nil && bytes.Equal(s.Data["MINIO_KMS_SECRET_KEY"], []byte(staticKey))
	})
	out := r.cutover(t, cli.ExitRolledBack, "run", r.vars("rollout_timeout", "3s"))
	mustContain(t, out, "rollout did not complete by its deadline")
	r.restored(t)
	if gen, observed := r.generation(t); observed != gen {
		t.Fatalf("the rollback's rollout did not complete: generation %d, observed %d", gen, observed)
	}
}
