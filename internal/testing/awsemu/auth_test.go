package awsemu

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestWrongSecretKeyIsRejected(t *testing.T) {
	env := newEnv(t)
	_, err := kmsClient(env.srv.URL, testAccessKey, "wrong-secret").ListKeys(ctx, &kms.ListKeysInput{})
	wantCode(t, err, "InvalidSignatureException")
	_, err = smClient(env.srv.URL, testAccessKey, "wrong-secret").ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	wantCode(t, err, "InvalidSignatureException")
	_, err = kmsClient(env.srv.URL, "AKIAUNKNOWN000000000", testSecretKey).ListKeys(ctx, &kms.ListKeysInput{})
	wantCode(t, err, "UnrecognizedClientException")
}

// rawRequest is a request built and signed outside the SDK client, with
// the SDK's own SigV4 signer.
type rawRequest struct {
	method, path, target, contentType, body string
	service, region, secret                 string
	signTime                                time.Time
	sign                                    bool
	header                                  map[string]string // set before signing
	tamper                                  func(*http.Request)
}

func newRaw(target, body string) *rawRequest {
	service := "kms"
	if strings.HasPrefix(target, "secretsmanager.") {
		service = "secretsmanager"
	}
	return &rawRequest{method: http.MethodPost, path: "/", target: target, contentType: jsonContentType, body: body,
		service: service, region: testRegion, secret: testSecretKey, signTime: time.Now(), sign: true}
}

// do sends r and returns the status, the X-Amzn-ErrorType header and the
// decoded JSON body.
func (r *rawRequest) do(t *testing.T, url string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(r.method, url+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", r.contentType)
	req.Header.Set("X-Amz-Target", r.target)
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.sign {
		sum := sha256.Sum256([]byte(r.body))
		creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: r.secret}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), r.service, r.region, r.signTime); err != nil {
			t.Fatal(err)
		}
	}
	if r.tamper != nil {
		r.tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("response body %q is not JSON: %v", b, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body
}

// wantRawError asserts an AWS JSON error response.
func wantRawError(t *testing.T, r *rawRequest, url string, status int, code string) map[string]any {
	t.Helper()
	gotStatus, gotCode, body := r.do(t, url)
	if gotStatus != status || gotCode != code || body["__type"] != code {
		t.Fatalf("got %d %s %v, want %d %s", gotStatus, gotCode, body, status, code)
	}
	return body
}

func TestRawSignedRequestIsAccepted(t *testing.T) {
	env := newEnv(t)
	r := newRaw("TrentService.ListKeys", `{}`)
	if status, _, body := r.do(t, env.srv.URL); status != http.StatusOK || body["Truncated"] != false {
		t.Fatalf("got %d %v", status, body)
	}
	r.path = "/?b=2&a=1%2F"
	if status, _, body := r.do(t, env.srv.URL); status != http.StatusOK {
		t.Fatalf("request with a query string: %d %v", status, body)
	}
	r = newRaw("TrentService.ListKeys", `{}`)
	sum := sha256.Sum256([]byte(`{}`))
	r.header = map[string]string{"X-Amz-Content-Sha256": hex.EncodeToString(sum[:])}
	if status, _, body := r.do(t, env.srv.URL); status != http.StatusOK {
		t.Fatalf("request with X-Amz-Content-Sha256: %d %v", status, body)
	}
}

func TestMissingAuthorizationIsRejected(t *testing.T) {
	env := newEnv(t)
	r := newRaw("TrentService.ListKeys", `{}`)
	r.sign = false
	body := wantRawError(t, r, env.srv.URL, 400, "MissingAuthenticationTokenException")
	if body["message"] != "Missing Authentication Token" {
		t.Fatalf("message %v", body["message"])
	}
	r = newRaw("secretsmanager.ListSecrets", `{}`)
	r.sign = false
	if body := wantRawError(t, r, env.srv.URL, 400, "MissingAuthenticationTokenException"); body["Message"] == nil {
		t.Fatalf("Secrets Manager error without Message: %v", body)
	}
}

func TestSignatureChecks(t *testing.T) {
	env := newEnv(t)
	cases := map[string]func(*rawRequest){
		"service mismatch": func(r *rawRequest) { r.service = "secretsmanager" },
		"region mismatch":  func(r *rawRequest) { r.region = "us-east-1" },
		"expired date":     func(r *rawRequest) { r.signTime = time.Now().Add(-20 * time.Minute) },
		"future date":      func(r *rawRequest) { r.signTime = time.Now().Add(20 * time.Minute) },
		"body changed": func(r *rawRequest) {
			r.body = `{"Limit":5}`
			r.tamper = func(q *http.Request) { q.Body = io.NopCloser(strings.NewReader(`{"Limit":6}`)) }
		},
		"target changed": func(r *rawRequest) {
			r.tamper = func(q *http.Request) { q.Header.Set("X-Amz-Target", "TrentService.ListAliases") }
		},
		"wrong payload sha": func(r *rawRequest) { r.header = map[string]string{"X-Amz-Content-Sha256": strings.Repeat("0", 64)} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRaw("TrentService.ListKeys", `{}`)
			mutate(r)
			wantRawError(t, r, env.srv.URL, 400, "InvalidSignatureException")
		})
	}
	r := newRaw("TrentService.ListKeys", `{}`)
	r.tamper = func(q *http.Request) { q.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x") }
	wantRawError(t, r, env.srv.URL, 400, "IncompleteSignatureException")
	r.tamper = func(q *http.Request) { q.Header.Del("X-Amz-Date") }
	wantRawError(t, r, env.srv.URL, 400, "IncompleteSignatureException")
}

func TestProtocolChecks(t *testing.T) {
	env := newEnv(t)
	r := newRaw("TrentService.ListKeys", `{}`)
	r.method = http.MethodGet
	wantRawError(t, r, env.srv.URL, 405, "UnknownOperationException")
	r = newRaw("TrentService.ListKeys", `{}`)
	r.path = "/other"
	wantRawError(t, r, env.srv.URL, 404, "UnknownOperationException")
	r = newRaw("TrentService.ListKeys", `{}`)
	r.contentType = "application/json"
	wantRawError(t, r, env.srv.URL, 400, "SerializationException")
	wantRawError(t, newRaw("TrentService.Sign", `{}`), env.srv.URL, 400, "UnknownOperationException")
	wantRawError(t, newRaw("NoSuchService.ListKeys", `{}`), env.srv.URL, 400, "UnknownOperationException")
	wantRawError(t, newRaw("TrentService.ListKeys", `{"Limit":`), env.srv.URL, 400, "SerializationException")
	wantRawError(t, newRaw("TrentService.ListKeys", `[]`), env.srv.URL, 400, "SerializationException")
	wantRawError(t, newRaw("TrentService.ListKeys", `{"Limit":"ten"}`), env.srv.URL, 400, "SerializationException")
	// Member names are case-sensitive: "keyid" is an unknown member, ignored.
	body := wantRawError(t, newRaw("TrentService.DescribeKey", `{"keyid":"alias/x"}`), env.srv.URL, 400, "ValidationException")
	if !strings.Contains(body["message"].(string), "'keyId'") {
		t.Fatalf("message %v", body["message"])
	}
	// Unknown members are ignored.
	if status, _, body := newRaw("TrentService.ListKeys", `{"Bogus":1}`).do(t, env.srv.URL); status != 200 {
		t.Fatalf("unknown member refused: %d %v", status, body)
	}
}
