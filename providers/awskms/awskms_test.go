package awskms_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cutover/cutover/internal/testing/awsemu"
	"github.com/cutover/cutover/internal/testing/keystoretest"
	"github.com/cutover/cutover/internal/testing/testenv"
	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/awskms"
)

const (
	testRegion    = "eu-west-3"
	testAccount   = "111122223333"
	testAccessKey = "AKIACUTOVERTEST00001"
	testSecretKey = "cutover/test/secret+key"
)

// env is an emulator behind an HTTP server, a store for it and a raw
// SDK client to look behind the store's back.
type env struct {
	emu   *awsemu.Emulator
	url   string
	store *awskms.Store
	kms   *kms.Client
}

// envFunc makes an env whose store has the alias prefix prefix.
type envFunc func(t *testing.T, prefix string) *env

// peer is an AWS KMS implementation the store is tested against.
type peer struct {
	newEnv envFunc
	// listKeys is how many keys the shared suite lists: more than a
	// ListAliases page (100) on both, fewer on local-kms, where every
	// Create generates an RSA wrapping key.
	listKeys int
	// rotationPeriods: the peer keeps EnableKeyRotation's
	// RotationPeriodInDays (local-kms ignores it and reports none).
	rotationPeriods bool
}

// eachPeer runs f once against each AWS KMS peer the store is tested
// against: the in-repo emulator (internal/testing/awsemu) and nsmithuk/local-kms
// (bin/local-kms, started by internal/testing/testenv: skipped when missing,
// failed under CI). Tests that inject faults (awsemu's FailNext) or check
// credentials (local-kms accepts any) run against awsemu alone.
func eachPeer(t *testing.T, f func(t *testing.T, p peer)) {
	t.Run("awsemu", func(t *testing.T) { f(t, peer{newEnv: newEmuEnv, listKeys: 250, rotationPeriods: true}) })
	t.Run("local-kms", func(t *testing.T) { f(t, peer{newEnv: newLocalKMSEnv, listKeys: 110}) })
}

// newLocalKMSEnv is an env on a local-kms of its own.
func newLocalKMSEnv(t *testing.T, prefix string) *env {
	t.Helper()
	srv := testenv.LocalKMS(t, testenv.LocalKMSOptions{Region: testRegion, AccountID: testAccount})
	e := &env{url: srv.Endpoint}
	e.store = e.open(t, prefix, testAccessKey, testSecretKey)
	e.kms = e.store.Client()
	return e
}

// newEmuEnv is an env on an awsemu emulator of its own.
func newEmuEnv(t *testing.T, prefix string) *env {
	t.Helper()
	emu, err := awsemu.New(awsemu.Config{Region: testRegion, AccountID: testAccount,
		Credentials: map[string]string{testAccessKey: testSecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	e := &env{emu: emu, url: srv.URL}
	e.store = e.open(t, prefix, testAccessKey, testSecretKey)
	e.kms = e.store.Client()
	return e
}

// open returns a store for the emulator with the given credentials.
func (e *env) open(t *testing.T, prefix, accessKey, secretKey string) *awskms.Store {
	t.Helper()
	s, err := awskms.New(context.Background(), awskms.Config{Name: "kms.aws", Region: testRegion, Endpoint: e.url,
		AccessKey: accessKey, SecretKey: secretKey, AliasPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// awsKey creates a key of origin AWS_KMS (as an app would have) with
// the given alias, and returns its id.
func (e *env) awsKey(t *testing.T, alias string) string {
	t.Helper()
	out, err := e.kms.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("app key")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	if _, err := e.kms.CreateAlias(context.Background(), &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: &id}); err != nil {
		t.Fatal(err)
	}
	return id
}

// state returns a key's state.
func (e *env) state(t *testing.T, keyID string) types.KeyState {
	t.Helper()
	out, err := e.kms.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: &keyID})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

// keyStates counts the emulator's keys by state.
func (e *env) keyStates(t *testing.T) map[types.KeyState]int {
	t.Helper()
	states := map[types.KeyState]int{}
	pages := kms.NewListKeysPaginator(e.kms, &kms.ListKeysInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.Keys {
			states[e.state(t, aws.ToString(k.KeyId))]++
		}
	}
	return states
}

// TestKeyStoreSuite runs the shared suite with more keys than a
// ListAliases page (100), next to aliases that are not the store's.
func TestKeyStoreSuite(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		keystoretest.Run(t, func(t *testing.T) providers.KeyStore {
			e := p.newEnv(t, "cutover/")
			e.awsKey(t, "alias/app/jwt")
			e.awsKey(t, "alias/cutover-other")
			return e.store
		}, keystoretest.Options{Prove: true, Readable: false, ListKeys: p.listKeys})
	})
}

// TestKeyStoreSuiteNoPrefix runs the suite with an empty prefix: the
// store's names are whole alias names.
func TestKeyStoreSuiteNoPrefix(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		keystoretest.Run(t, func(t *testing.T) providers.KeyStore {
			return p.newEnv(t, "").store
		}, keystoretest.Options{Prove: true, Readable: false, ListKeys: p.listKeys})
	})
}

func TestConcurrentCreateLosersArePendingDeletion(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		e := p.newEnv(t, "cutover/")
		const n = 8
		errs := make(chan error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs <- e.store.Create(context.Background(), "race", keystoretest.NewKey(t))
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, providers.ErrKeyExists):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d Creates won, want 1", won)
		}
		states := e.keyStates(t)
		made := states[types.KeyStateEnabled] + states[types.KeyStatePendingDeletion]
		if states[types.KeyStateEnabled] != 1 || made != states[types.KeyStatePendingDeletion]+1 || len(states) > 2 {
			t.Fatalf("key states %v: want the winner Enabled and every other key made PendingDeletion", states)
		}
		t.Logf("%d keys made, %d orphans scheduled for deletion", made, states[types.KeyStatePendingDeletion])
		if err := e.store.Prove(context.Background(), "race"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCreateTagsAndDescribe(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		e := p.newEnv(t, "cutover/")
		ctx := context.Background()
		err := e.store.CreateWith(ctx, "minio-key", keystoretest.NewKey(t), awskms.CreateOptions{Source: "kms.local",
			Tags: map[string]string{"team": "storage"}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := e.store.Describe(ctx, "minio-key")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{awskms.TagCreatedBy: "cutover", awskms.TagName: "minio-key", awskms.TagStore: "kms.aws",
			awskms.TagSource: "kms.local", "team": "storage"}
		for k, v := range want {
			if info.Tags[k] != v {
				t.Errorf("tag %s = %q, want %q (tags %v)", k, info.Tags[k], v, info.Tags)
			}
		}
		if !info.Enabled || info.State != "Enabled" || info.Origin != "EXTERNAL" || info.RotationEnabled ||
			!slices.Equal(info.Aliases, []string{"alias/cutover/minio-key"}) || !strings.HasPrefix(info.ARN, "arn:aws:kms:"+testRegion) ||
			!strings.Contains(info.Description, "kms.local") {
			t.Errorf("Describe = %+v", info)
		}
		if _, err := e.store.Describe(ctx, "absent"); !errors.Is(err, providers.ErrKeyNotFound) {
			t.Errorf("Describe of an absent key: %v", err)
		}
	})
}

// TestRotationFreeze is the seeds' procedure: record the rotation
// setting, disable it for the migration, restore it after.
func TestRotationFreeze(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		e := p.newEnv(t, "cutover/")
		ctx := context.Background()
		id := e.awsKey(t, "alias/cutover/app")
		if _, err := e.kms.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &id, RotationPeriodInDays: aws.Int32(180)}); err != nil {
			t.Fatal(err)
		}
		before, err := e.store.Describe(ctx, "app")
		if err != nil || !before.RotationEnabled || (p.rotationPeriods && before.RotationPeriodDays != 180) || before.Origin != "AWS_KMS" {
			t.Fatalf("before: %+v, %v", before, err)
		}
		if err := e.store.SetRotation(ctx, "app", false); err != nil {
			t.Fatal(err)
		}
		if during, err := e.store.Describe(ctx, "app"); err != nil || during.RotationEnabled {
			t.Fatalf("during: %+v, %v", during, err)
		}
		if err := e.store.EnableRotation(ctx, "app", before.RotationPeriodDays); err != nil {
			t.Fatal(err)
		}
		after, err := e.store.Describe(ctx, "app")
		if err != nil || !after.RotationEnabled || (p.rotationPeriods && after.RotationPeriodDays != 180) {
			t.Fatalf("after: %+v, %v", after, err)
		}
		if err := e.store.SetRotation(ctx, "app", true); err != nil {
			t.Fatal(err)
		}
		if info, _ := e.store.Describe(ctx, "app"); p.rotationPeriods && info.RotationPeriodDays != 365 {
			t.Errorf("SetRotation(true) period = %d, want AWS's default 365", info.RotationPeriodDays)
		}
	})
}

func TestRotationOfImportedKeyIsUnsupported(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		e := p.newEnv(t, "cutover/")
		if err := e.store.Create(context.Background(), "imported", keystoretest.NewKey(t)); err != nil {
			t.Fatal(err)
		}
		for _, enabled := range []bool{false, true} {
			if err := e.store.SetRotation(context.Background(), "imported", enabled); !errors.Is(err, providers.ErrUnsupported) {
				t.Errorf("SetRotation(%v) of an imported key: %v, want ErrUnsupported", enabled, err)
			}
		}
		if err := e.store.SetRotation(context.Background(), "absent", false); !errors.Is(err, providers.ErrKeyNotFound) {
			t.Errorf("SetRotation of an absent key: %v", err)
		}
	})
}

func TestRoundTripAnyReference(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		e := p.newEnv(t, "cutover/")
		ctx := context.Background()
		id := e.awsKey(t, "alias/sombra")
		arn := "arn:aws:kms:" + testRegion + ":" + testAccount + ":key/" + id
		for _, ref := range []string{id, arn, "alias/sombra", "arn:aws:kms:" + testRegion + ":" + testAccount + ":alias/sombra"} {
			if err := e.store.RoundTrip(ctx, ref); err != nil {
				t.Errorf("RoundTrip(%s): %v", ref, err)
			}
		}
		if err := e.store.RoundTrip(ctx, "alias/absent"); !errors.Is(err, providers.ErrKeyNotFound) {
			t.Errorf("RoundTrip of an absent alias: %v", err)
		}
		if _, err := e.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &id}); err != nil {
			t.Fatal(err)
		}
		err := e.store.RoundTrip(ctx, arn)
		if !errors.Is(err, awskms.ErrKeyUnusable) || !strings.Contains(err.Error(), "Disabled") {
			t.Errorf("RoundTrip of a disabled key: %v, want ErrKeyUnusable naming the state", err)
		}
	})
}

func TestRoundTripWithOtherCredentials(t *testing.T) {
	e := newEmuEnv(t, "")
	e.awsKey(t, "alias/app")
	other := e.open(t, "", "AKIANOTKNOWN00000001", "nope")
	err := other.RoundTrip(context.Background(), "alias/app")
	var kmsErr *awskms.Error
	if !errors.Is(err, awskms.ErrAccessDenied) || !errors.As(err, &kmsErr) || kmsErr.Code != "UnrecognizedClientException" {
		t.Errorf("RoundTrip with unknown credentials: %v, want ErrAccessDenied", err)
	}
	if err := other.Status(context.Background()); !errors.Is(err, awskms.ErrAccessDenied) {
		t.Errorf("Status with unknown credentials: %v", err)
	}
	if strings.Contains(err.Error(), "nope") {
		t.Error("error contains the secret key")
	}
}

func TestDelete(t *testing.T) {
	eachPeer(t, func(t *testing.T, p peer) {
		e := p.newEnv(t, "cutover/")
		ctx := context.Background()
		if err := e.store.Create(ctx, "gone", keystoretest.NewKey(t)); err != nil {
			t.Fatal(err)
		}
		info, _ := e.store.Describe(ctx, "gone")
		if err := e.store.Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		out, err := e.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &info.KeyID})
		if err != nil || out.KeyMetadata.KeyState != types.KeyStatePendingDeletion || !inSevenDays(out.KeyMetadata) {
			t.Fatalf("after Delete the key is %+v (%v), want PendingDeletion in 7 days", out.KeyMetadata, err)
		}

		// A key another alias still uses is kept.
		shared := e.awsKey(t, "alias/cutover/shared")
		if _, err := e.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app/shared"), TargetKeyId: &shared}); err != nil {
			t.Fatal(err)
		}
		if err := e.store.Delete(ctx, "shared"); err != nil {
			t.Fatal(err)
		}
		if st := e.state(t, shared); st != types.KeyStateEnabled {
			t.Errorf("a key still aliased elsewhere is %s, want Enabled", st)
		}
	})
}

func TestCreateCleansUpAfterAFailure(t *testing.T) {
	e := newEmuEnv(t, "cutover/")
	e.emu.FailNext("CreateAlias", "AccessDeniedException")
	err := e.store.Create(context.Background(), "denied", keystoretest.NewKey(t))
	if !errors.Is(err, awskms.ErrAccessDenied) {
		t.Fatalf("Create with CreateAlias denied: %v", err)
	}
	if states := e.keyStates(t); states[types.KeyStatePendingDeletion] != 1 || len(states) != 1 {
		t.Fatalf("key states %v: want the unfinished key PendingDeletion", states)
	}

	e.emu.FailNext("ImportKeyMaterial", "IncorrectKeyMaterialException")
	e.emu.FailNext("ScheduleKeyDeletion", "AccessDeniedException")
	err = e.store.Create(context.Background(), "twice", keystoretest.NewKey(t))
	var kmsErr *awskms.Error
	if !errors.As(err, &kmsErr) || kmsErr.Op != "ImportKeyMaterial" || !strings.Contains(err.Error(), "was not scheduled for deletion") {
		t.Fatalf("Create with import and cleanup failing: %v", err)
	}
}

func TestErrorsMapToProviderErrors(t *testing.T) {
	e := newEmuEnv(t, "cutover/")
	ctx := context.Background()
	if err := e.store.Create(ctx, "k", providers.Key{Material: make([]byte, 32), Algorithm: "ChaCha20"}); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("Create of a ChaCha20 key: %v", err)
	}
	if err := e.store.Create(ctx, "k", providers.Key{Material: make([]byte, 16)}); err == nil {
		t.Error("Create of a 16-byte key succeeded")
	}
	for _, bad := range []string{"", "white space", "ümlaut", strings.Repeat("x", 250)} {
		if err := e.store.Create(ctx, bad, keystoretest.NewKey(t)); !errors.Is(err, awskms.ErrInvalidName) {
			t.Errorf("Create(%q): %v, want ErrInvalidName", bad, err)
		}
		if _, err := e.store.Get(ctx, bad); !errors.Is(err, providers.ErrKeyNotFound) {
			t.Errorf("Get(%q): %v, want ErrKeyNotFound", bad, err)
		}
	}
	noPrefix := e.open(t, "", testAccessKey, testSecretKey)
	if err := noPrefix.Create(ctx, "aws/s3", keystoretest.NewKey(t)); !errors.Is(err, awskms.ErrInvalidName) {
		t.Errorf("Create of alias/aws/...: %v", err)
	}
	if err := e.store.Delete(ctx, "absent"); !errors.Is(err, providers.ErrKeyNotFound) {
		t.Errorf("Delete of an absent key: %v", err)
	}
	e.emu.FailNext("ListAliases", "ThrottlingException")
	e.emu.FailNext("ListAliases", "ThrottlingException")
	e.emu.FailNext("ListAliases", "ThrottlingException")
	for _, err := range e.store.List(ctx, "*") {
		var kmsErr *awskms.Error
		if !errors.As(err, &kmsErr) || kmsErr.Code != "ThrottlingException" {
			t.Errorf("List with throttling: %v", err)
		}
	}
}

func TestOpenChecks(t *testing.T) {
	ctx := context.Background()
	if _, err := awskms.New(ctx, awskms.Config{Region: testRegion, AliasPrefix: "aws/x/"}); err == nil {
		t.Error("an alias/aws/ prefix was accepted")
	}
	if _, err := awskms.New(ctx, awskms.Config{Region: testRegion, AccessKey: "AKIA"}); err == nil {
		t.Error("an access key without a secret key was accepted")
	}
	c := &awskms.Config{Region: testRegion, Endpoint: "http://127.0.0.1:1", AccessKey: "AKIA", SecretKey: "secret-value", AliasPrefix: "p/"}
	if d := c.Describe(); strings.Contains(d, "secret-value") || !strings.Contains(d, "alias/p/*") {
		t.Errorf("Describe() = %q", d)
	}
}

// inSevenDays reports whether a key pending deletion is deleted in 7 days:
// its PendingDeletionWindowInDays, or its DeletionDate where a peer
// (local-kms) reports only that.
func inSevenDays(m *types.KeyMetadata) bool {
	if m.PendingDeletionWindowInDays != nil {
		return *m.PendingDeletionWindowInDays == 7
	}
	if m.DeletionDate == nil {
		return false
	}
	left := time.Until(*m.DeletionDate)
	return left > 7*24*time.Hour-time.Hour && left <= 7*24*time.Hour
}
