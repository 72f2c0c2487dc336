package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cutover/cutover/examples/demoapp/app"
)

const clientUsage = `usage: demoapp client COMMAND [flags] URL ...   (URL: http://127.0.0.1:PORT)
  put [-wait 10s] URL PAYLOAD   submit a work item; print its id (-wait: until it is stored)
  get URL ID                    print an item's decrypted payload
  list URL                      print "ID PROVIDER STATE" for every item
  health [-wait 10s] URL        print /health; exit 0 only if it answers 200 (-wait: retry until it does)
  pause URL | resume URL        pause or resume work intake
  inflight URL                  print the number of items in flight
  token URL                     print a new token (signed with the newest JWT key)
  verify URL TOKEN              print the kid of the key that signed TOKEN; exit 1 if it does not verify
  kid TOKEN                     print the kid in TOKEN's header (no server; not verified)
Any answer other than the expected status prints it on stderr and exits 1.`

var httpClient = &http.Client{Timeout: 15 * time.Second}

// client runs one client command and returns the exit status.
func client(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, clientUsage)
		return 2
	}
	fs := flag.NewFlagSet("demoapp client "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	wait := fs.Duration("wait", 0, "keep trying for this long")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	pos := fs.Args()
	want := map[string]int{"put": 2, "get": 2, "list": 1, "health": 1, "pause": 1, "resume": 1,
		"inflight": 1, "token": 1, "verify": 2, "kid": 1}
	n, ok := want[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "demoapp client: unknown command %q\n%s\n", args[0], clientUsage)
		return 2
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "demoapp client %s: want %d argument(s), got %d\n%s\n", args[0], n, len(pos), clientUsage)
		return 2
	}
	var base string
	if args[0] != "kid" {
		base = strings.TrimRight(pos[0], "/")
	}
	var err error
	switch args[0] {
	case "put":
		err = clientPut(base, pos[1], *wait, stdout)
	case "get":
		var body []byte
		if body, err = call(http.MethodGet, base+"/work/"+pos[1], "", nil, http.StatusOK); err == nil {
			_, err = stdout.Write(body)
		}
	case "list":
		err = clientList(base, stdout)
	case "health":
		err = clientHealth(base, *wait, stdout)
	case "pause", "resume":
		_, err = call(http.MethodPost, base+"/admin/"+args[0], "", nil, http.StatusNoContent)
	case "inflight":
		var v struct{ Inflight int }
		if err = callJSON(http.MethodGet, base+"/admin/inflight", "", nil, http.StatusOK, &v); err == nil {
			fmt.Fprintln(stdout, v.Inflight)
		}
	case "token":
		var v struct{ Token string }
		if err = callJSON(http.MethodPost, base+"/token", "", nil, http.StatusOK, &v); err == nil {
			fmt.Fprintln(stdout, v.Token)
		}
	case "verify":
		var v struct{ Kid string }
		if err = callJSON(http.MethodGet, base+"/verify", pos[1], nil, http.StatusOK, &v); err == nil {
			fmt.Fprintln(stdout, v.Kid)
		}
	case "kid":
		var kid string
		if kid, err = app.TokenKID(pos[0]); err == nil {
			fmt.Fprintln(stdout, kid)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "demoapp client %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// call does one request and returns the body if the status is want.
func call(method, url, bearer string, body io.Reader, want int) ([]byte, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, app.MaxPayload+1024))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return data, &statusError{method: method, url: url, status: resp.StatusCode, body: data}
	}
	return data, nil
}

func callJSON(method, url, bearer string, body io.Reader, want int, v any) error {
	data, err := call(method, url, bearer, body, want)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s %s: answer is not JSON: %.200q", method, url, data)
	}
	return nil
}

// statusError is an unexpected answer; it prints the server's error
// message when the body is {"error": ...}.
type statusError struct {
	method, url string
	status      int
	body        []byte
}

func (e *statusError) Error() string {
	msg := strings.TrimSpace(string(e.body))
	var v struct{ Error string }
	if json.Unmarshal(e.body, &v) == nil && v.Error != "" {
		msg = v.Error
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.method, e.url, e.status, http.StatusText(e.status), msg)
}

func clientPut(base, payload string, wait time.Duration, stdout io.Writer) error {
	var v struct{ ID string }
	if err := callJSON(http.MethodPost, base+"/work", "", strings.NewReader(payload), http.StatusAccepted, &v); err != nil {
		return err
	}
	if wait > 0 {
		if err := waitStored(base, v.ID, wait); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(stdout, v.ID)
	return err
}

// waitStored polls GET /work until item id is stored.
func waitStored(base, id string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var list []app.ItemInfo
		err := callJSON(http.MethodGet, base+"/work", "", nil, http.StatusOK, &list)
		if err == nil {
			for _, it := range list {
				if it.ID != id {
					continue
				}
				switch it.State {
				case "stored":
					return nil
				case "failed":
					return fmt.Errorf("item %s failed: %s", id, it.Error)
				}
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("item %s not stored after %v: %w", id, wait, err)
			}
			return fmt.Errorf("item %s not stored after %v", id, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func clientList(base string, stdout io.Writer) error {
	var list []app.ItemInfo
	if err := callJSON(http.MethodGet, base+"/work", "", nil, http.StatusOK, &list); err != nil {
		return err
	}
	for _, it := range list {
		fmt.Fprintf(stdout, "%s %s %s\n", it.ID, it.Provider, it.State)
	}
	return nil
}

func clientHealth(base string, wait time.Duration, stdout io.Writer) error {
	deadline := time.Now().Add(wait)
	for {
		body, err := call(http.MethodGet, base+"/health", "", nil, http.StatusOK)
		if err == nil {
			_, err = stdout.Write(body)
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
