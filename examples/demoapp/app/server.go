package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// MaxPayload bounds the body of POST /work.
const MaxPayload = 1 << 20

// ShutdownGrace is how long a stopping server lets in-flight work items
// run their course before it completes them at once.
const ShutdownGrace = 3 * time.Second

// PauseFile is the file in DATA_DIR whose presence means "paused". The
// pause survives restarts: a service paused for a cutover stays paused
// after it is restarted on the new KMS, until it is resumed.
const PauseFile = "paused"

// Server is demoapp's HTTP API.
type Server struct {
	cfg    *Config
	kms    KMS
	signer *Signer
	store  *Store
	log    *log.Logger

	mu       sync.Mutex
	paused   bool
	inflight map[string]*job
	failed   map[string]*job
	jobs     sync.WaitGroup
	hurry    chan struct{} // closed when shutdown wants in-flight items done now
}

// job is a work item between POST /work and its file.
type job struct {
	id      string
	created time.Time
	payload []byte
	err     error
}

// NewServer prepares a server: it opens the item store under
// cfg.DataDir and reads the pause flag.
func NewServer(cfg *Config, k KMS, logger *log.Logger) (*Server, error) {
	store, err := OpenStore(filepath.Join(cfg.DataDir, "items"))
	if err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	s := &Server{cfg: cfg, kms: k, signer: NewSigner(cfg.JWTKeys), store: store, log: logger,
		inflight: map[string]*job{}, failed: map[string]*job{}, hurry: make(chan struct{})}
	if _, err := os.Stat(s.pausePath()); err == nil {
		s.paused = true
	}
	return s, nil
}

func (s *Server) pausePath() string { return filepath.Join(s.cfg.DataDir, PauseFile) }

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /work", s.postWork)
	mux.HandleFunc("GET /work", s.listWork)
	mux.HandleFunc("GET /work/{id}", s.getWork)
	mux.HandleFunc("POST /admin/pause", s.pause)
	mux.HandleFunc("POST /admin/resume", s.resume)
	mux.HandleFunc("GET /admin/inflight", s.inflightCount)
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /verify", s.verify)
	return s.logRequests(mux)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: no new
// requests, in-flight work items complete (after ShutdownGrace they are
// completed at once rather than lost).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.mu.Lock()
	n := len(s.inflight)
	s.mu.Unlock()
	s.log.Printf("shutting down: %d work item(s) in flight", n)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	done := make(chan struct{})
	go func() { s.jobs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(ShutdownGrace):
		s.log.Printf("completing in-flight work items now")
		close(s.hurry)
		<-done
	}
	s.mu.Lock()
	failed := len(s.failed)
	s.mu.Unlock()
	if failed > 0 {
		s.log.Printf("%d work item(s) failed and were not stored", failed)
	}
	return err
}

// statusWriter records the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.log.Printf("%s %s %d %s", r.Method, r.URL.Path, sw.status, time.Since(start).Round(time.Microsecond))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// postWork accepts a work item: 202 and its id, unless paused (503).
func (s *Server) postWork(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayload))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "payload: %v", err)
		return
	}
	s.mu.Lock()
	if s.paused {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "paused: work intake is paused (POST /admin/resume)")
		return
	}
	j := &job{id: NewID(), created: time.Now(), payload: payload}
	s.inflight[j.id] = j
	s.jobs.Add(1)
	s.mu.Unlock()
	go s.process(j)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.id, "provider": s.kms.Provider(), "state": "inflight"})
}

// process keeps j in flight for JOB_DURATION, then stores it encrypted.
func (s *Server) process(j *job) {
	defer s.jobs.Done()
	t := time.NewTimer(s.cfg.JobDuration)
	select {
	case <-t.C:
	case <-s.hurry:
		t.Stop()
	}
	err := s.complete(j)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, j.id)
	if err != nil {
		j.err, j.payload = err, nil
		s.failed[j.id] = j
		s.log.Printf("item %s failed: %v", j.id, err)
		return
	}
	s.log.Printf("item %s stored under KMS provider %s", j.id, s.kms.Provider())
}

// complete wraps a fresh data key, seals the payload and writes the file.
func (s *Server) complete(j *job) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	plain, wrapped, err := s.kms.NewDataKey(ctx, j.id)
	if err != nil {
		return err
	}
	defer clear(plain)
	it, err := Seal(j.id, s.kms.Provider(), s.kms.KeyID(), plain, wrapped, j.payload, j.created)
	if err != nil {
		return err
	}
	return s.store.Put(it)
}

// getWork answers an item's decrypted payload.
func (s *Server) getWork(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// The store first: a job writes its item, then leaves the in-flight set,
	// so an item can briefly be both; stored wins.
	it, err := s.store.Get(id)
	if errors.Is(err, ErrNotFound) {
		s.notStored(w, id)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if it.Provider != s.kms.Provider() {
		writeError(w, http.StatusConflict, "item %s was written under KMS provider %s; this instance runs %s", it.ID, it.Provider, s.kms.Provider())
		return
	}
	if it.Provider == ProviderLocal && it.KeyID != s.kms.KeyID() {
		writeError(w, http.StatusConflict, "item %s was written under local key %s; this instance's local key is %s", it.ID, it.KeyID, s.kms.KeyID())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	plain, err := s.kms.Unwrap(ctx, it.ID, it.WrappedKey)
	if err != nil {
		var ke *KMSError
		switch {
		case errors.As(err, &ke) && ke.Code == "IncorrectKeyException":
			writeError(w, http.StatusConflict, "item %s was written under AWS KMS key %s; this instance uses %s", it.ID, it.KeyID, s.kms.KeyID())
		case errors.As(err, &ke):
			writeError(w, http.StatusBadGateway, "item %s: %v", it.ID, err)
		default:
			writeError(w, http.StatusInternalServerError, "item %s: %v", it.ID, err)
		}
		return
	}
	defer clear(plain)
	payload, err := it.Open(plain)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Demoapp-Provider", it.Provider)
	_, _ = w.Write(payload)
}

// ItemInfo is one entry of GET /work.
type ItemInfo struct {
	ID       string    `json:"id"`
	Provider string    `json:"provider"`
	State    string    `json:"state"` // inflight, stored or failed
	Created  time.Time `json:"created"`
	Error    string    `json:"error,omitempty"`
}

// notStored answers for an item that is not in the store: in flight,
// failed, or unknown.
func (s *Server) notStored(w http.ResponseWriter, id string) {
	s.mu.Lock()
	j, inflight := s.inflight[id]
	f, failed := s.failed[id]
	s.mu.Unlock()
	switch {
	case inflight:
		writeError(w, http.StatusNotFound, "item %s is still in flight (accepted %s, not stored yet)", j.id, j.created.UTC().Format(time.RFC3339))
	case failed:
		writeError(w, http.StatusInternalServerError, "item %s failed and was not stored: %v", f.id, f.err)
	default:
		writeError(w, http.StatusNotFound, "no item %q", id)
	}
}

// listWork lists every item: stored, in flight and failed; ?provider=AWS
// keeps the items written under that KMS provider.
func (s *Server) listWork(w http.ResponseWriter, r *http.Request) {
	stored, err := s.store.List()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "list items: %v", err)
		return
	}
	list := make([]ItemInfo, 0, len(stored))
	seen := map[string]bool{}
	for _, it := range stored {
		list = append(list, ItemInfo{ID: it.ID, Provider: it.Provider, State: "stored", Created: it.Created})
		seen[it.ID] = true
	}
	s.mu.Lock()
	for _, j := range s.inflight {
		if seen[j.id] {
			continue // stored a moment ago, not yet out of the in-flight set
		}
		list = append(list, ItemInfo{ID: j.id, Provider: s.kms.Provider(), State: "inflight", Created: j.created.UTC()})
	}
	for _, j := range s.failed {
		list = append(list, ItemInfo{ID: j.id, Provider: s.kms.Provider(), State: "failed", Created: j.created.UTC(), Error: j.err.Error()})
	}
	s.mu.Unlock()
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
	writeJSON(w, http.StatusOK, filterProvider(list, r.URL.Query().Get("provider")))
}

// filterProvider keeps the items written under provider (all when "").
func filterProvider(list []ItemInfo, provider string) []ItemInfo {
	if provider == "" {
		return list
	}
	out := make([]ItemInfo, 0, len(list))
	for _, it := range list {
		if strings.EqualFold(it.Provider, provider) {
			out = append(out, it)
		}
	}
	return out
}

// pause stops work intake; the flag is a file, so it survives restarts.
func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.WriteFile(s.pausePath(), []byte("paused at "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		writeError(w, http.StatusInternalServerError, "pause: %v", err)
		return
	}
	if !s.paused {
		s.log.Printf("paused: %d work item(s) in flight", len(s.inflight))
	}
	s.paused = true
	w.WriteHeader(http.StatusNoContent)
}

// resume lets work in again.
func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(s.pausePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusInternalServerError, "resume: %v", err)
		return
	}
	if s.paused {
		s.log.Printf("resumed")
	}
	s.paused = false
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) inflightCount(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n, paused := len(s.inflight), s.paused
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"inflight": n, "paused": paused})
}

// health answers 200 only if the KMS works right now.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	n, paused := len(s.inflight), s.paused
	s.mu.Unlock()
	body := map[string]any{"kms": s.kms.Provider(), "key_id": s.kms.KeyID(), "paused": paused, "inflight": n}
	if err := s.kms.Check(ctx); err != nil {
		body["status"], body["error"] = "unavailable", err.Error()
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ok"
	writeJSON(w, http.StatusOK, body)
}

// token issues a token signed with the newest JWT key.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	sub := r.URL.Query().Get("sub")
	if sub == "" {
		sub = "demo"
	}
	tok, kid, err := s.signer.Sign(sub)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "kid": kid})
}

// verify checks a bearer token against every JWT key.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demoapp"`)
		writeError(w, http.StatusUnauthorized, "missing Authorization: Bearer <token>")
		return
	}
	kid, claims, err := s.signer.Verify(tok)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demoapp", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kid": kid, "sub": claims.Subject, "exp": claims.Expires})
}
