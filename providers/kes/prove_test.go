package kes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/cutover/cutover/providers"
	"github.com/cutover/cutover/providers/keskey"
)

// answer writes a JSON answer.
func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// TestProveUsesGenerateThenDecrypt checks the requests Prove sends, and
// that it fails when the server does not give the data key back.
func TestProveUsesGenerateThenDecrypt(t *testing.T) {
	dataKey := bytes.Repeat([]byte{7}, 32)
	for _, c := range []struct {
		name      string
		generated []byte
		decrypted []byte
		wantErr   error
	}{
		{"data key comes back", dataKey, dataKey, nil},
		{"another plaintext", dataKey, bytes.Repeat([]byte{8}, 32), ErrProof},
		{"short data key", []byte("short"), []byte("short"), ErrProof},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex // the handlers run on the server's goroutines
			var calls []string
			var genContext []byte
			f := &fakeKES{status: http.StatusTeapot, routes: map[string]http.HandlerFunc{
				routeGenerate: func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, r.Method+" "+r.URL.Path)
					var in struct{ Context []byte }
					_ = json.NewDecoder(r.Body).Decode(&in)
					genContext = in.Context
					answer(w, 200, map[string][]byte{"plaintext": c.generated, "ciphertext": []byte("ct")})
				},
				routeDecrypt: func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, r.Method+" "+r.URL.Path)
					var in struct{ Ciphertext, Context []byte }
					_ = json.NewDecoder(r.Body).Decode(&in)
					if string(in.Ciphertext) != "ct" || !bytes.Equal(in.Context, genContext) || len(in.Context) == 0 {
						answer(w, 400, map[string]string{"message": msgDecryptFailed})
						return
					}
					answer(w, 200, map[string][]byte{"plaintext": c.decrypted})
				},
			}}
			err := newFakeStore(t, f).Prove(context.Background(), "k")
			if !errors.Is(err, c.wantErr) || (c.wantErr != nil && err == nil) {
				t.Fatalf("Prove = %v, want %v", err, c.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []string{"PUT /v1/key/generate/k", "PUT /v1/key/decrypt/k"}
			if c.name == "short data key" {
				want = want[:1]
			}
			if len(calls) != len(want) || calls[0] != want[0] || (len(want) > 1 && calls[1] != want[1]) {
				t.Fatalf("requests %v, want %v", calls, want)
			}
		})
	}
}

// TestSameKeyAnswers checks how SameKey reads each answer of the decrypt
// API, and that it sends a ciphertext sealed in KES's format with k.
func TestSameKeyAnswers(t *testing.T) {
	key := providers.Key{Material: bytes.Repeat([]byte{1}, 32)}
	opens := func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Ciphertext, Context []byte }
		_ = json.NewDecoder(r.Body).Decode(&in)
		p, err := keskey.Open(key, in.Ciphertext, in.Context)
		if err != nil || len(in.Context) == 0 {
			answer(w, 400, map[string]string{"message": msgDecryptFailed})
			return
		}
		answer(w, 200, map[string][]byte{"plaintext": p})
	}
	fixed := func(status int, v any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { answer(w, status, v) }
	}
	for _, c := range []struct {
		name     string
		h        http.HandlerFunc
		k        providers.Key
		same     bool
		wantErr  error
		anyError bool
	}{
		{"KES holds k", opens, key, true, nil, false},
		{"KES holds another key", opens, providers.Key{Material: bytes.Repeat([]byte{2}, 32)}, false, nil, false},
		{"absent", fixed(404, map[string]string{"message": "key does not exist"}), key, false, providers.ErrKeyNotFound, true},
		{"not allowed", fixed(403, map[string]string{"message": "not authorized: insufficient permissions"}), key, false, ErrNotAllowed, true},
		{"other 400", fixed(400, map[string]string{"message": "invalid request body"}), key, false, nil, true},
		{"keystore down", fixed(502, map[string]string{"message": "failed to read key"}), key, false, nil, true},
		{"wrong plaintext", fixed(200, map[string][]byte{"plaintext": []byte("nope")}), key, false, ErrProof, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeKES{status: http.StatusTeapot, routes: map[string]http.HandlerFunc{routeDecrypt: c.h}}
			same, err := newFakeStore(t, f).SameKey(context.Background(), "k", c.k)
			if same != c.same || (err != nil) != c.anyError || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Fatalf("SameKey = %v, %v; want %v, error %v (any: %v)", same, err, c.same, c.wantErr, c.anyError)
			}
		})
	}
}
