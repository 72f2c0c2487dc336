package awsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	sigAlgorithm   = "AWS4-HMAC-SHA256"
	amzDateLayout  = "20060102T150405Z"
	maxClockSkew   = 15 * time.Minute
	codeBadSig     = "InvalidSignatureException"
	codeIncomplSig = "IncompleteSignatureException"
)

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// authenticate verifies the request's SigV4 signature; see the package
// documentation for the rules.
func (e *Emulator) authenticate(r *http.Request, req *request) error {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return errf("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	a, err := parseAuthorization(authz)
	if err != nil {
		return err
	}
	secret, ok := e.cfg.Credentials[a.accessKey]
	if !ok {
		return errf("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if err := e.checkScope(a, amzDate, req.svc); err != nil {
		return err
	}
	payloadHash, err := payloadHash(r, req.body)
	if err != nil {
		return err
	}
	canonical := canonicalRequest(r, a.signedHeaders, payloadHash)
	want := signature(secret, a, amzDate, canonical)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return errf(codeBadSig, "The request signature we calculated does not match the signature you provided. "+
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(v string) (*authHeader, error) {
	rest, ok := strings.CutPrefix(v, sigAlgorithm+" ")
	if !ok {
		return nil, errf(codeIncomplSig, "Authorization header must use the %s algorithm", sigAlgorithm)
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[k] = val
	}
	cred := strings.Split(parts["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" || parts["SignedHeaders"] == "" || parts["Signature"] == "" {
		return nil, errf(codeIncomplSig, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "+
			"parameters, with Credential of the form AKID/date/region/service/aws4_request")
	}
	return &authHeader{
		accessKey: cred[0], date: cred[1], region: cred[2], service: cred[3],
		signedHeaders: strings.Split(parts["SignedHeaders"], ";"),
		signature:     parts["Signature"],
	}, nil
}

// checkScope checks the credential scope and the request time.
func (e *Emulator) checkScope(a *authHeader, amzDate string, svc *service) error {
	t, err := time.Parse(amzDateLayout, amzDate)
	if err != nil {
		return errf(codeIncomplSig, "Authorization header requires existence of a valid 'X-Amz-Date' header (%s).", amzDateLayout)
	}
	for _, h := range []string{"host", "x-amz-date"} {
		if !slices.Contains(a.signedHeaders, h) {
			return errf(codeBadSig, "'%s' must be a signed header", h)
		}
	}
	switch {
	case a.date != t.Format("20060102"):
		return errf(codeBadSig, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", a.date, t.Format("20060102"))
	case a.region != e.cfg.Region:
		return errf(codeBadSig, "Credential should be scoped to a valid region, not '%s'.", a.region)
	case a.service != svc.signingName:
		return errf(codeBadSig, "Credential should be scoped to correct service: '%s'.", svc.signingName)
	}
	return checkSkew(t, amzDate)
}

// checkSkew refuses a request time more than 15 minutes off the wall clock.
func checkSkew(t time.Time, amzDate string) error {
	now := time.Now().UTC()
	if t.Before(now.Add(-maxClockSkew)) {
		return errf(codeBadSig, "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxClockSkew).Format(amzDateLayout), now.Format(amzDateLayout))
	}
	if t.After(now.Add(maxClockSkew)) {
		return errf(codeBadSig, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(maxClockSkew).Format(amzDateLayout), now.Format(amzDateLayout))
	}
	return nil
}

// payloadHash is the hex SHA-256 of the body; an X-Amz-Content-Sha256
// header, when sent, must state the same value.
func payloadHash(r *http.Request, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != h {
		return "", errf(codeBadSig, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return h, nil
}

// canonicalRequest builds the SigV4 canonical request.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	return strings.Join([]string{
		r.Method,
		uriEncode(r.URL.EscapedPath(), false),
		canonicalQuery(r.URL.RawQuery),
		canonicalHeaders(r, signed),
		strings.Join(signed, ";"),
		payloadHash,
	}, "\n")
}

// canonicalHeaders renders "name:value\n" for each signed header, values
// trimmed, inner runs of spaces collapsed and repeated headers joined by
// commas.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		vals := headerValues(r, name)
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// headerValues returns the values of a header as the client sent them;
// the server keeps Host and, at times, Content-Length out of r.Header.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		return []string{r.Host}
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return v
		}
		return []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	return r.Header.Values(name)
}

// canonicalQuery sorts and re-encodes the query parameters.
func canonicalQuery(raw string) string {
	q, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes every byte but the RFC 3986 unreserved
// characters (and '/' unless encodeSlash).
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash)
		if unreserved {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// signature computes the hex SigV4 signature of the canonical request.
func signature(secret string, a *authHeader, amzDate, canonical string) string {
	scope := strings.Join([]string{a.date, a.region, a.service, "aws4_request"}, "/")
	sum := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{sigAlgorithm, amzDate, scope, hex.EncodeToString(sum[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+secret), a.date)
	for _, part := range []string{a.region, a.service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
