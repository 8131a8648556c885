package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// adminOptions are the flags every admin command shares: which node to
// ask and as whom. Credentials come from flags or UCGRID_USER /
// UCGRID_PASSWORD (a password on the command line shows in ps).
type adminOptions struct {
	HTTP     string
	User     string
	Password string
	Timeout  time.Duration
	// CACert is a PEM file of the CA (or the certificate itself) that
	// signed the node's HTTPS certificate; "" = the system roots.
	CACert string
}

func (o *adminOptions) bind(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) {
	fs.StringVar(&o.HTTP, "http", envDefault(lookupEnv, "UCGRID_HTTP", "127.0.0.1:8080"), "HTTP address of a node of the cluster [$UCGRID_HTTP]")
	fs.StringVar(&o.User, "user", envDefault(lookupEnv, "UCGRID_USER", "admin"), "user id to sign in as (a system role) [$UCGRID_USER]")
	fs.StringVar(&o.Password, "password", envDefault(lookupEnv, "UCGRID_PASSWORD", ""), "password [$UCGRID_PASSWORD]")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "how long to wait for the node")
	fs.StringVar(&o.CACert, "cacert", envDefault(lookupEnv, "UCGRID_CACERT", ""), "PEM CA certificate to trust for an https:// --http (default: the system roots) [$UCGRID_CACERT]")
}

func envDefault(lookupEnv func(string) (string, bool), name, def string) string {
	if v, ok := lookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func (o *adminOptions) validate() error {
	if o.HTTP == "" {
		return errors.New("--http is empty: name a node's HTTP address, e.g. 127.0.0.1:8080")
	}
	if o.Password == "" {
		return errors.New("no password: pass --password or set UCGRID_PASSWORD")
	}
	return nil
}

// get sends an authenticated GET and returns the response when it is 200,
// else an error carrying the API's error message.
func (o *adminOptions) get(ctx context.Context, path string) (*http.Response, error) {
	return o.do(ctx, http.MethodGet, path, nil)
}

// do sends an authenticated request with a JSON body (none when nil) and
// returns the response when it is 200, else an error carrying the API's
// error message (an *apiAnswer).
func (o *adminOptions) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	url := o.HTTP
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(o.User, o.Password)
	client, err := o.client()
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", o.HTTP, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var answer struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&answer); err != nil || answer.Error.Message == "" {
		return nil, fmt.Errorf("%s answered %s", o.HTTP, resp.Status)
	}
	return nil, &apiAnswer{node: o.HTTP, status: resp.StatusCode, code: answer.Error.Code, msg: answer.Error.Message}
}

// apiAnswer is an error answer of the API.
type apiAnswer struct {
	node      string
	status    int
	code, msg string
}

func (e *apiAnswer) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.node, e.status, e.code, e.msg)
}

// client is the HTTP client of the command: with --cacert it trusts that
// CA only.
func (o *adminOptions) client() (*http.Client, error) {
	if o.CACert == "" {
		return http.DefaultClient, nil
	}
	pem, err := os.ReadFile(o.CACert)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--cacert %s: no PEM certificate in the file", o.CACert)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}, nil
}

// parseAdmin parses an admin command's flags; extra registers its own.
func parseAdmin(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*adminOptions, error) {
	fs := flag.NewFlagSet("ucgrid "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o adminOptions
	o.bind(fs, os.LookupEnv)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	return &o, o.validate()
}

// exitCode reports a command's error on stderr and picks the exit code:
// 0 for --help, 2 for bad usage, 1 otherwise.
func exitCode(stderr io.Writer, cmd string, err error, usage bool) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case usage:
		fmt.Fprintf(stderr, "ucgrid %s: %v\n", cmd, err)
		return 2
	}
	fmt.Fprintf(stderr, "ucgrid %s: %v\n", cmd, err)
	return 1
}
