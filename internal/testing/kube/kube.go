// Package kube starts a real Kubernetes control plane for tests: etcd and
// kube-apiserver (and, on request, kube-controller-manager) from bin/,
// built by scripts/tools.sh, on free ports of 127.0.0.1, with every file
// in a temporary directory.
//
// The contract:
//
//   - Binaries are found with testenv.Bin: missing, the test is skipped,
//     or failed under CI.
//   - The API server authenticates bearer tokens from a token file: Admin
//     (group system:masters) and Limited (no group; the test grants it
//     what it needs with Grant), and authorizes with RBAC. It serves TLS
//     with a throw-away self-signed certificate (CAFile); service-account
//     keys are generated per cluster; --endpoint-reconciler-type=none.
//   - No kubelet runs: pods stay Pending. Without the controller-manager
//     nothing writes a workload's status; RollOut writes it as a finished
//     rollout would, so a test drives the rollout wait. With it, the
//     Deployment and StatefulSet controllers create ReplicaSets and
//     revisions.
//   - Start returns a Cluster stopped at the end of the test; Shared
//     returns one cluster per test binary (stopped by StopShared in
//     TestMain, and by the kernel if the binary dies).
package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testing/testenv"
)

// Tokens and users the API server knows.
const (
	AdminToken   = "cutover-test-admin-token"
	LimitedToken = "cutover-test-limited-token"
	LimitedUser  = "limited"
	// Contexts of the kubeconfig Kubeconfig writes.
	AdminContext   = "admin"
	LimitedContext = "limited"
)

// Options choose what runs besides etcd and the API server.
type Options struct {
	// ControllerManager runs the deployment, replicaset and statefulset
	// controllers.
	ControllerManager bool
}

// Cluster is a running control plane.
type Cluster struct {
	Dir string
	// URL is the API server, https://127.0.0.1:<port>.
	URL string
	// CAFile is the PEM certificate the API server serves with.
	CAFile string
	// Kubeconfig has the contexts AdminContext and LimitedContext.
	Kubeconfig string
	procs      []*proc
}

// binaries are the paths of the servers, from bin/.
type binaries struct{ etcd, apiserver, cm string }

func findBinaries(t testing.TB, opts Options) binaries {
	t.Helper()
	b := binaries{etcd: testenv.Bin(t, "etcd"), apiserver: testenv.Bin(t, "kube-apiserver")}
	if opts.ControllerManager {
		b.cm = testenv.Bin(t, "kube-controller-manager")
	}
	return b
}

// Start starts a cluster for t, stopped when t ends (its logs printed if
// t failed).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bins := findBinaries(t, opts)
	c, err := start(t.TempDir(), bins)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, p := range c.procs {
				t.Log(p.tail(100))
			}
		}
	})
	return c
}

var shared struct {
	sync.Mutex
	c   *Cluster
	err error
	dir string
}

// Shared returns the test binary's cluster (API server, no
// controller-manager), starting it on first use. Call StopShared from
// TestMain after m.Run.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	bins := findBinaries(t, Options{})
	shared.Lock()
	defer shared.Unlock()
	if shared.c == nil && shared.err == nil {
		shared.dir, shared.err = os.MkdirTemp("", "cutover-kube-")
		if shared.err == nil {
			shared.c, shared.err = start(shared.dir, bins)
		}
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// StopShared stops the cluster Shared started, if any, and removes its
// directory.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		shared.c.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// Stop stops every server, newest first.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop()
	}
}

func start(dir string, bins binaries) (*Cluster, error) {
	c := &Cluster{Dir: dir}
	if err := c.writeFiles(); err != nil {
		return nil, err
	}
	etcdURL, err := c.startEtcd(bins.etcd)
	if err == nil {
		err = c.startAPIServer(bins.apiserver, etcdURL)
	}
	if err == nil && bins.cm != "" {
		err = c.startControllerManager(bins.cm)
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) path(name string) string { return filepath.Join(c.Dir, name) }

// writeFiles writes the serving certificate, the service-account key
// pair and the token file.
func (c *Cluster) writeFiles() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saDER, err := x509.MarshalPKCS8PrivateKey(sa)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return err
	}
	c.CAFile = c.path("apiserver.crt")
	files := map[string][]byte{
		"apiserver.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"apiserver.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"sa.key":        pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saDER}),
		"sa.pub":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"tokens.csv": []byte(AdminToken + ",admin,admin-uid,system:masters\n" +
			LimitedToken + "," + LimitedUser + ",limited-uid\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(c.path(name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) startEtcd(bin string) (string, error) {
	client, err := testenv.FreePort()
	if err != nil {
		return "", err
	}
	peer, err := testenv.FreePort()
	if err != nil {
		return "", err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	p, err := startProc("etcd", c.path("etcd.log"), bin, "--name=default", "--data-dir="+c.path("etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--unsafe-no-fsync")
	if err != nil {
		return "", err
	}
	c.procs = append(c.procs, p)
	probe := func() error { return httpOK(http.DefaultClient, clientURL+"/health", "") }
	return clientURL, p.waitReady(60*time.Second, probe)
}

func (c *Cluster) startAPIServer(bin, etcdURL string) error {
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	c.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	p, err := startProc("kube-apiserver", c.path("apiserver.log"), bin,
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port), "--cert-dir="+c.path("certs"),
		"--tls-cert-file="+c.CAFile, "--tls-private-key-file="+c.path("apiserver.key"),
		"--token-auth-file="+c.path("tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-key-file="+c.path("sa.pub"), "--service-account-signing-key-file="+c.path("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none", "--disable-admission-plugins=ServiceAccount")
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	if err := c.writeKubeconfig(); err != nil {
		return err
	}
	hc, err := c.httpClient()
	if err != nil {
		return err
	}
	return p.waitReady(90*time.Second, func() error { return httpOK(hc, c.URL+"/readyz", AdminToken) })
}

func (c *Cluster) startControllerManager(bin string) error {
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	p, err := startProc("kube-controller-manager", c.path("controller-manager.log"), bin,
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--controllers=deployment-controller,replicaset-controller,statefulset-controller",
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port), "--cert-dir="+c.path("cm-certs"))
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // its own self-signed certificate, probed for /healthz only
	return p.waitReady(90*time.Second, func() error { return httpOK(insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), "") })
}

func (c *Cluster) httpClient() (*http.Client, error) {
	pemBytes, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

func httpOK(hc *http.Client, url, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// writeKubeconfig writes Kubeconfig: one cluster, users admin and
// limited, contexts AdminContext (current) and LimitedContext.
func (c *Cluster) writeKubeconfig() error {
	c.Kubeconfig = c.path("kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
- name: limited
  user:
    token: %s
contexts:
- name: %s
  context: {cluster: test, user: admin}
- name: %s
  context: {cluster: test, user: limited}
current-context: %s
`, c.URL, c.CAFile, AdminToken, LimitedToken, AdminContext, LimitedContext, AdminContext)
	return os.WriteFile(c.Kubeconfig, []byte(cfg), 0o600)
}
