package awsemu

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

const (
	jsonContentType = "application/x-amz-json-1.1"
	maxBodyBytes    = 2 << 20
)

// opSpec is one operation's handler: run decodes the body, performs the
// operation and returns its JSON-encoded output.
type opSpec struct {
	run func(e *Emulator, body []byte) ([]byte, error)
}

// service is one emulated AWS service.
type service struct {
	signingName  string // credential-scope service name
	targetPrefix string // X-Amz-Target prefix before the dot
	messageField string // JSON member carrying error messages
	ops          map[string]opSpec
}

// handle adapts a typed operation function, which runs with e.mu held,
// to an opSpec.
func handle[In any](f func(*Emulator, *In) (any, error)) opSpec {
	return opSpec{run: func(e *Emulator, body []byte) ([]byte, error) {
		in := new(In)
		if err := decodeBody(body, in); err != nil {
			return nil, err
		}
		return e.locked(func() (any, error) { return f(e, in) })
	}}
}

// handleUnlocked adapts an operation function that takes e.mu itself,
// through e.locked, so it can do slow work (RSA key generation) outside
// the lock.
func handleUnlocked[In any](f func(*Emulator, *In) ([]byte, error)) opSpec {
	return opSpec{run: func(e *Emulator, body []byte) ([]byte, error) {
		in := new(In)
		if err := decodeBody(body, in); err != nil {
			return nil, err
		}
		return f(e, in)
	}}
}

var services = []*service{kmsService, smService}

// request is a request that passed the protocol checks.
type request struct {
	svc    *service
	op     string
	target string
	body   []byte
}

// ServeHTTP implements http.Handler; see the package documentation for
// the contract.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newUUID())
	req, err := readRequest(r)
	if err == nil {
		e.faults.count(req.target)
		err = e.authenticate(r, req)
	}
	var out []byte
	if err == nil {
		out, err = e.run(req)
	}
	e.logRequest(r, err)
	if err != nil {
		writeError(w, req, err)
		return
	}
	writeBody(w, http.StatusOK, out)
}

// readRequest checks method, path, content type and target, and reads the
// body.
func readRequest(r *http.Request) (*request, error) {
	if r.Method != http.MethodPost {
		return nil, &apiError{http.StatusMethodNotAllowed, codeUnknownOp, "awsemu: only POST is served"}
	}
	if r.URL.Path != "/" {
		return nil, &apiError{http.StatusNotFound, codeUnknownOp, "awsemu: only the path / is served"}
	}
	req, err := parseTarget(r.Header.Get("X-Amz-Target"))
	if err != nil {
		return nil, err
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != jsonContentType {
		return req, errf(codeSerialization, "Content-Type must be %s", jsonContentType)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(body) > maxBodyBytes {
		return req, &apiError{http.StatusRequestEntityTooLarge, codeSerialization, "awsemu: request body too large or unreadable"}
	}
	req.body = body
	return req, nil
}

// parseTarget maps an X-Amz-Target value onto a service and operation.
func parseTarget(target string) (*request, error) {
	prefix, op, ok := strings.Cut(target, ".")
	if !ok {
		return nil, errf(codeUnknownOp, "awsemu: missing or malformed X-Amz-Target header %q", target)
	}
	for _, svc := range services {
		if svc.targetPrefix != prefix {
			continue
		}
		if _, ok := svc.ops[op]; !ok {
			return &request{svc: svc, op: op, target: target}, errf(codeUnknownOp, "awsemu: operation %s is not emulated", target)
		}
		return &request{svc: svc, op: op, target: target}, nil
	}
	return nil, errf(codeUnknownOp, "awsemu: unknown service in X-Amz-Target %q", target)
}

// run answers an injected fault or performs the operation, returning the
// encoded output.
func (e *Emulator) run(req *request) ([]byte, error) {
	if f := e.faults.take(req.target, req.op); f != nil {
		return nil, f
	}
	return req.svc.ops[req.op].run(e, req.body)
}

// locked runs f with e.mu held: it expires lapsed resources, runs f,
// encodes its output (which may share memory with the state) and saves
// the state if anything changed.
func (e *Emulator) locked(f func() (any, error)) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expire()
	v, err := f()
	var out []byte
	if err == nil {
		out, err = encode(v)
	}
	if e.dirty {
		e.dirty = false
		if serr := e.save(); serr != nil && err == nil {
			return nil, internalErr(serr)
		}
	}
	return out, err
}

func encode(v any) ([]byte, error) {
	if v == nil {
		v = struct{}{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, internalErr(err)
	}
	return b, nil
}

// decodeBody decodes a JSON object into in, matching member names
// case-sensitively and ignoring unknown members, as AWS does.
func decodeBody(body []byte, in any) error {
	raw, err := parseJSON(body)
	if err != nil {
		return errf(codeSerialization, "awsemu: request body is not valid JSON: %v", err)
	}
	if _, ok := raw.(map[string]any); !ok {
		return errf(codeSerialization, "awsemu: request body must be a JSON object")
	}
	if err := decodeExact(raw, in); err != nil {
		return errf(codeSerialization, "awsemu: %v", err)
	}
	return nil
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers err in AWS's JSON error shape.
func writeError(w http.ResponseWriter, req *request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = internalErr(err)
	}
	field := "message"
	if req != nil && req.svc != nil {
		field = req.svc.messageField
	}
	body, _ := json.Marshal(map[string]string{"__type": ae.code, field: ae.message})
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	writeBody(w, ae.status, body)
}

func (e *Emulator) logRequest(r *http.Request, err error) {
	if e.cfg.Logger == nil {
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if err != nil {
		e.cfg.Logger.Info("awsemu request", slog.String("target", target), slog.String("error", err.Error()))
		return
	}
	e.cfg.Logger.Info("awsemu request", slog.String("target", target), slog.String("result", "ok"))
}
