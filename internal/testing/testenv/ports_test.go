package testenv

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// clashOnce makes the next pickPort return a port that is taken, then
// behave again. It restores pickPort at the end of t. The next port up is
// free, so that freePortPair (Vault binds p and p+1) takes the bait
// rather than skipping it.
func clashOnce(t *testing.T) int {
	t.Helper()
	ln := listenBelowFree(t)
	t.Cleanup(func() { ln.Close() })
	taken := ln.Addr().(*net.TCPAddr).Port
	first := true
	pickPort = func() (int, error) {
		if first {
			first = false
			return taken, nil
		}
		return freePort()
	}
	t.Cleanup(func() { pickPort = freePort })
	return taken
}

// listenBelowFree listens on a loopback port p whose p+1 is free.
func listenBelowFree(t *testing.T) net.Listener {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, "listen", err)
		next, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port+1))
		if err == nil {
			next.Close()
			return ln
		}
		ln.Close()
	}
	t.Fatal("no loopback port with a free port above it")
	return nil
}

// checkRetried checks that the server ended up elsewhere and that its
// log shows the clash of the first attempt.
func checkRetried(t *testing.T, taken int, addr, logFile, clash string) {
	t.Helper()
	if strings.HasSuffix(addr, ":"+strconv.Itoa(taken)) {
		t.Errorf("server listens on the taken port %d", taken)
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(strings.ToLower(string(b)), clash) {
		t.Errorf("log %s does not show the first attempt's clash (%q)", logFile, clash)
	}
}

func TestStartRetriesOnPortClash(t *testing.T) {
	t.Run("kes", func(t *testing.T) {
		Bin(t, "kes")
		taken := clashOnce(t)
		k := KES(t, KESOptions{})
		checkRetried(t, taken, k.Endpoint, k.LogFile, "address already in use")
	})
	t.Run("minio", func(t *testing.T) {
		Bin(t, "minio")
		taken := clashOnce(t)
		m := MinIO(t, MinIOOptions{})
		checkRetried(t, taken, m.Endpoint, m.LogFile, "port is already in use")
	})
	t.Run("vault", func(t *testing.T) {
		Bin(t, "vault")
		taken := clashOnce(t)
		v := Vault(t)
		checkRetried(t, taken, v.Addr, v.LogFile, "address already in use")
	})
}
