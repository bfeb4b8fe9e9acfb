// golang.org/x/oauth2/clientcredentials, Debian golang-golang-x-oauth2-dev 0.3.0-1 (Go 1.19),
// built in GOPATH mode (GO111MODULE=off GOPATH=/usr/share/gocode) by examples/libraries.py.
//
// Follows the package documentation: a clientcredentials.Config{ClientID, ClientSecret,
// TokenURL, Scopes, EndpointParams} (Auth0's audience as an endpoint parameter) and
// `conf.Client(ctx)`, an *http.Client that fetches, caches (ReuseTokenSource, mutex-guarded)
// and attaches the token; every goroutine shares that one client.
//
// Shows: AuthStyleAutoDetect tries HTTP Basic first (and the body only after a failure) with a
// form body; the Authorization header is `Token.Type() + " " + AccessToken`, so a token_type of
// mac goes out as `Authorization: MAC ...`; the token and API requests use
// http.DefaultClient: no timeout at all and redirects followed (a 307 re-sends the body);
// expiry is honoured (the token is renewed 10 s early), a 401 from the API is not retried.
//
// M2M_ADAPTER_FIX=1: `AuthStyle: oauth2.AuthStyleInParams` (the secret in the body, as the
// partner document shows), an *http.Client with a 10 s Timeout that does not follow redirects,
// given through the documented oauth2.HTTPClient context key, and a TokenSource wrapper that
// refuses a token whose Type() is not Bearer.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

type bearerOnly struct{ src oauth2.TokenSource }

func (b bearerOnly) Token() (*oauth2.Token, error) {
	tok, err := b.src.Token()
	if err == nil && tok.Type() != "Bearer" {
		return nil, errors.New("the token response is not a Bearer token")
	}
	return tok, err
}

var jwt = regexp.MustCompile(`eyJ[\w-]*\.[\w-]+\.[\w-]*`)

func report(what string, err error) {
	text := fmt.Sprintf("%s: %v", what, err)
	if secret := os.Getenv("M2M_CLIENT_SECRET"); secret != "" {
		text = strings.ReplaceAll(text, secret, "***")
	}
	text = jwt.ReplaceAllString(text, "***")
	if len(text) > 300 {
		text = text[:300]
	}
	fmt.Fprintln(os.Stderr, text)
}

func number(name string, fallback int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return fallback
}

func main() {
	conf := &clientcredentials.Config{
		ClientID:     os.Getenv("M2M_CLIENT_ID"),
		ClientSecret: os.Getenv("M2M_CLIENT_SECRET"),
		TokenURL:     os.Getenv("M2M_TOKEN_URL"),
		Scopes:       strings.Fields(os.Getenv("M2M_SCOPE")),
	}
	if audience := os.Getenv("M2M_AUDIENCE"); audience != "" {
		conf.EndpointParams = url.Values{"audience": {audience}}
	}
	ctx := context.Background()
	var client *http.Client
	if os.Getenv("M2M_ADAPTER_FIX") == "1" {
		conf.AuthStyle = oauth2.AuthStyleInParams
		base := &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		ctx = context.WithValue(ctx, oauth2.HTTPClient, base)
		client = oauth2.NewClient(ctx, bearerOnly{conf.TokenSource(ctx)})
		client.Timeout = 10 * time.Second
	} else {
		client = conf.Client(ctx)
	}

	calls := number("M2M_API_CALLS", 1)
	interval := time.Duration(number("M2M_API_INTERVAL_MS", 0)) * time.Millisecond
	workers := number("M2M_API_CONCURRENCY", 1)
	if workers < 1 {
		workers = 1
	}
	if workers > calls {
		workers = calls
	}
	var mu sync.Mutex
	next, good := 0, 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := true; ; first = false {
				mu.Lock()
				index := next
				next++
				mu.Unlock()
				if index >= calls {
					return
				}
				if !first && interval > 0 {
					time.Sleep(interval)
				}
				status := 0
				resp, err := client.Get(os.Getenv("M2M_API_URL"))
				if err != nil {
					report(fmt.Sprintf("API call %d", index+1), err)
				} else {
					status = resp.StatusCode
					resp.Body.Close()
				}
				fmt.Printf("API call %d: %d\n", index+1, status)
				if status >= 200 && status < 300 {
					mu.Lock()
					good++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if good != calls {
		os.Exit(1)
	}
}
