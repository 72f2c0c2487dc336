package testenv

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LocalKMSServer is a running nsmithuk/local-kms, an AWS KMS emulator
// written by others (bin/local-kms, tools/local-kms): a second peer for the
// aws_kms key store besides internal/testing/awsemu. It keeps its keys in Dir.
//
// local-kms binds every interface on its port (its start-up takes only a
// port), not 127.0.0.1 alone like the other servers here.
type LocalKMSServer struct {
	Endpoint  string // http://127.0.0.1:<port>
	Region    string // the region in its ARNs; requests may be signed for any
	AccountID string // the account in its ARNs
	Dir       string
	LogFile   string
	proc      *process
	port      int
}

// LocalKMSOptions configure local-kms; zero values take its defaults.
type LocalKMSOptions struct {
	Region    string // the region in its ARNs (default eu-west-2)
	AccountID string // the account in its ARNs (default 111122223333)
}

// localKMSReadyTimeout bounds local-kms's start-up (a few ms when idle).
const localKMSReadyTimeout = 30 * time.Second

// LocalKMS starts local-kms for t, stopped at the end of t. Like every
// server here it needs its binary in bin/: missing, the test is skipped,
// or failed under CI.
func LocalKMS(t testing.TB, opts LocalKMSOptions) *LocalKMSServer {
	t.Helper()
	Bin(t, "local-kms")
	k, err := StartLocalKMS(t.TempDir(), opts)
	if k != nil {
		register(t, "local-kms", k.LogFile, k)
	}
	must(t, "starting local-kms", err)
	return k
}

// StartLocalKMS starts local-kms keeping its files in dir and waits until
// it answers; on success the caller must call Stop.
func StartLocalKMS(dir string, opts LocalKMSOptions) (*LocalKMSServer, error) {
	k := &LocalKMSServer{Region: defaultString(opts.Region, "eu-west-2"), AccountID: defaultString(opts.AccountID, "111122223333"),
		Dir: dir, LogFile: filepath.Join(dir, "local-kms.log")}
	return withRetry(func() (*LocalKMSServer, error) { return k, k.startOnce() })
}

func (k *LocalKMSServer) startOnce() error {
	port, err := pickPort()
	if err != nil {
		return err
	}
	k.port = port
	k.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	bin, err := binPath("local-kms")
	if err != nil {
		return err
	}
	env := append(baseEnv(k.Dir), "PORT="+strconv.Itoa(port), "KMS_REGION="+k.Region,
		"KMS_ACCOUNT_ID="+k.AccountID, "KMS_DATA_PATH="+filepath.Join(k.Dir, "data"),
		"KMS_SEED_PATH="+filepath.Join(k.Dir, "no-seed.yaml"))
	k.proc, err = startProcess(k.LogFile, env, bin)
	if err != nil {
		return err
	}
	if err := waitReady("local-kms", k.LogFile, localKMSReadyTimeout, k.ready, k.proc.exited); err != nil {
		k.Stop()
		return err
	}
	return nil
}

// ready calls ListKeys and expects local-kms's JSON answer, so another
// server that took the port cannot pass for it.
func (k *LocalKMSServer) ready() error {
	req, err := http.NewRequest(http.MethodPost, k.Endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		return fmt.Errorf("ListKeys: %s (%s)", resp.Status, resp.Header.Get("Content-Type"))
	}
	return nil
}

// Stop stops the server; it is idempotent.
func (k *LocalKMSServer) Stop() {
	if k.proc != nil {
		k.proc.Stop()
	}
}
