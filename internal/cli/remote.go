package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/sdk"
)

// RemoteFlags say which instance a command talks to and as whom.
type RemoteFlags struct {
	URL      string        `name:"url" help:"Base URL of the instance (default: this project's)." env:"TINYBASE_API_URL"`
	Token    string        `help:"Bearer token: an access token or an application token." env:"TINYBASE_API_TOKEN"`
	Email    string        `help:"Sign in with this email instead of a token." env:"TINYBASE_API_EMAIL"`
	Password string        `help:"Password for --email." env:"TINYBASE_API_PASSWORD"`
	Timeout  time.Duration `help:"Timeout of each request (default 60s; call waits as long as the function runs)."`
}

// defaultTimeout bounds requests other than function calls, which the
// server's function timeout bounds.
const defaultTimeout = 60 * time.Second

// remote is a signed-in API client and the root URL it talks to.
type remote struct {
	client *sdk.Client
	api    string
}

// connect builds the API client: the URL from --url or the project's
// configuration, and a token from --token or a login with --email and
// --password. Without either, requests are anonymous. timeout bounds each
// request unless --timeout is given; zero means no bound.
func (f *RemoteFlags) connect(ctx context.Context, g *Globals, timeout time.Duration) (*remote, error) {
	api, err := f.apiURL(g)
	if err != nil {
		return nil, err
	}
	loginTimeout := defaultTimeout
	if f.Timeout > 0 {
		timeout, loginTimeout = f.Timeout, f.Timeout
	}
	r := &remote{api: api}
	token := f.Token
	if f.Email != "" {
		if f.Password == "" {
			return nil, errors.New("--password (or TINYBASE_API_PASSWORD) is needed with --email")
		}
		anon := sdk.NewClient(api, "").WithTimeout(loginTimeout)
		var login struct {
			AccessToken string `json:"access_token"`
		}
		err := anon.Post(ctx, "auth/login", map[string]string{"email": f.Email, "password": f.Password}, &login)
		if err != nil {
			return nil, r.explain("sign in", err)
		}
		token = login.AccessToken
	}
	r.client = sdk.NewClient(api, token).WithTimeout(timeout)
	return r, nil
}

// apiURL returns the API root (ending in /api) of the instance.
func (f *RemoteFlags) apiURL(g *Globals) (string, error) {
	if f.URL == "" {
		cfg, err := load(g, nil)
		if err != nil {
			return "", fmt.Errorf("%w (or pass --url)", err)
		}
		return localAPIURL(cfg), nil
	}
	return normalizeAPIURL(f.URL)
}

// localAPIURL is the API of an instance of this project on this machine.
func localAPIURL(cfg *config.Config) string {
	host := cfg.Server.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(cfg.Server.Port)) + "/api"
}

// normalizeAPIURL accepts an instance's base URL with or without /api.
func normalizeAPIURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url must be an http or https URL such as http://127.0.0.1:8000, got %q", raw)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/api") {
		u.Path += "/api"
	}
	return u.String(), nil
}

// explain turns a request error into one line that says what to do.
func (r *remote) explain(what string, err error) error {
	var ae *sdk.APIError
	switch {
	case errors.As(err, &ae) && ae.Status == 401:
		return fmt.Errorf("%s: %w (pass --token or --email and --password)", what, err)
	case errors.As(err, &ae) && ae.Status == 403:
		return fmt.Errorf("%s: %w (this needs an admin)", what, err)
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %w", what, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: nothing answers at %s (is tinybase serve running? pass --url for another instance)",
			what, r.api)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Errorf("%s: %s did not answer in time (see --timeout)", what, r.api)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
