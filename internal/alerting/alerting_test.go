package alerting_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/alerting"
	"github.com/scoutergo/server/internal/config"
)

// request is one request a stand-in server received.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

// standIn is an httptest server standing in for Slack or OpsGenie: it
// records requests and answers from a script (the last answer repeats).
type standIn struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	answers  []answer
}

type answer struct {
	status int
	body   string
}

func newStandIn(t *testing.T, answers ...answer) *standIn {
	t.Helper()
	s := &standIn{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(b)})
		a := s.answers[min(len(s.requests), len(s.answers))-1]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) got() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

func message() alerting.Message {
	return alerting.Message{
		Space: "repo_1", Name: "model_1", Version: "1.0.0",
		Description:  "Drift has been detected for the following features:\ncol_1: \n    Out of bounds error in Zone 4\n",
		DedupKey:     "scouter:drift:repo_1/model_1/1.0.0/Spc-2026-03-26T12:00:00Z:spc",
		SlackChannel: "#ml-alerts", Team: "ml-team", Priority: "P5",
	}
}

const wantSlackBody = `{
  "channel": "#ml-alerts",
  "blocks": [
    {"type": "header", "text": {"type": "plain_text", "text": ":rotating_light: Drift Detected :rotating_light:", "emoji": true}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Name*: model_1 *Space*: repo_1 *Version*: 1.0.0"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "Drift has been detected for the following features:\ncol_1: \n    Out of bounds error in Zone 4\n"}}
  ]
}`

const wantOpsGenieBody = `{
  "message": "Model drift detected for repo_1/model_1/1.0.0",
  "description": "Drift has been detected for the following features:\ncol_1: \n    Out of bounds error in Zone 4\n",
  "responders": [{"name": "ml-team", "type": "team"}],
  "visibleTo": [{"name": "ml-team", "type": "team"}],
  "tags": ["Model Drift", "Scouter"],
  "priority": "P5",
  "alias": "scouter:drift:repo_1/model_1/1.0.0/Spc-2026-03-26T12:00:00Z:spc"
}`

func TestSlackSender(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		body          string
		wantErr       string
		wantRejected  bool
		wantRetryable bool
	}{
		{name: "ok", status: 200, body: `{"ok": true, "channel": "C1", "ts": "1.2"}`},
		{name: "ok false retryable", status: 200, body: `{"ok": false, "error": "internal_error"}`,
			wantErr: "slack answered ok: false, error: internal_error", wantRetryable: true},
		{name: "ok false permanent", status: 200, body: `{"ok": false, "error": "channel_not_found"}`,
			wantErr: "slack rejected the alert: ok: false, error: channel_not_found", wantRejected: true},
		{name: "no ok field", status: 200, body: `<html>proxy</html>`,
			wantErr: "slack answered without an ok field: <html>proxy</html>", wantRetryable: true},
		{name: "server error", status: 500, body: `oops`, wantErr: "slack answered status 500: oops", wantRetryable: true},
		{name: "rate limited", status: 429, body: `{"ok": false, "error": "ratelimited"}`,
			wantErr: "slack answered status 429", wantRetryable: true},
		{name: "bad request", status: 400, body: `{"ok": false, "error": "invalid_blocks"}`,
			wantErr: "slack rejected the alert: status 400: {\"ok\": false, \"error\": \"invalid_blocks\"}", wantRejected: true},
		{name: "not found", status: 404, body: ``, wantErr: "slack rejected the alert: status 404: (empty body)", wantRejected: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStandIn(t, answer{tt.status, tt.body})
			s, err := alerting.NewSlackSender(alerting.NewHTTPClient(5*time.Second), srv.URL+"/api/", "xoxb-secret")
			require.NoError(t, err)

			err = s.Send(context.Background(), message())

			reqs := srv.got()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.Equal(t, "/api/chat.postMessage", reqs[0].Path)
			assert.Equal(t, "Bearer xoxb-secret", reqs[0].Header.Get("Authorization"))
			assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
			assert.JSONEq(t, wantSlackBody, reqs[0].Body)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.wantRejected, alerting.IsRejected(err), "rejected")
			assert.NotContains(t, err.Error(), "xoxb-secret")
		})
	}
}

func TestOpsGenieSender(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		wantErr      string
		wantRejected bool
	}{
		{name: "accepted", status: 202, body: `{"result": "Request will be processed", "took": 0.1, "requestId": "r1"}`},
		{name: "server error", status: 503, body: `down`, wantErr: "opsgenie answered status 503: down"},
		{name: "rate limited", status: 429, body: `{}`, wantErr: "opsgenie answered status 429"},
		{name: "bad key", status: 401, body: `{"message": "Key format is not valid!"}`,
			wantErr: "opsgenie rejected the alert: status 401", wantRejected: true},
		{name: "bad request", status: 400, body: `{"message": "Request body is not processable"}`,
			wantErr: "opsgenie rejected the alert: status 400: {\"message\": \"Request body is not processable\"}", wantRejected: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStandIn(t, answer{tt.status, tt.body})
			s, err := alerting.NewOpsGenieSender(alerting.NewHTTPClient(5*time.Second), srv.URL+"/v2/alerts", "genie-secret")
			require.NoError(t, err)

			err = s.Send(context.Background(), message())

			reqs := srv.got()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.Equal(t, "/v2/alerts", reqs[0].Path, "OPSGENIE_API_URL is used verbatim")
			assert.Equal(t, "GenieKey genie-secret", reqs[0].Header.Get("Authorization"))
			assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
			assert.JSONEq(t, wantOpsGenieBody, reqs[0].Body)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.wantRejected, alerting.IsRejected(err), "rejected")
		})
	}
}

func TestOpsGenieAlias(t *testing.T) {
	short := "scouter:run-1:spc"
	assert.Equal(t, short, alerting.Alias(short))
	long := "scouter:" + strings.Repeat("x", 600)
	a := alerting.Alias(long)
	assert.Len(t, a, len("scouter-")+64)
	assert.True(t, strings.HasPrefix(a, "scouter-"))
	assert.Equal(t, a, alerting.Alias(long), "deterministic")
	assert.NotEqual(t, a, alerting.Alias(long+"y"))
}

func TestTransportErrorIsRetryable(t *testing.T) {
	srv := newStandIn(t, answer{200, `{"ok": true}`})
	url := srv.URL
	srv.Close() // connection refused from now on

	s, err := alerting.NewSlackSender(alerting.NewHTTPClient(2*time.Second), url, "t")
	require.NoError(t, err)
	err = s.Send(context.Background(), message())
	require.Error(t, err)
	assert.False(t, alerting.IsRejected(err))
	assert.Contains(t, err.Error(), "send to slack")
}

func TestSenderTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })

	s, err := alerting.NewOpsGenieSender(alerting.NewHTTPClient(200*time.Millisecond), srv.URL, "k")
	require.NoError(t, err)
	start := time.Now()
	err = s.Send(context.Background(), message())
	require.Error(t, err)
	assert.False(t, alerting.IsRejected(err), "a timeout is retryable")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestSlackSenderNeedsChannel(t *testing.T) {
	srv := newStandIn(t, answer{200, `{"ok": true}`})
	s, err := alerting.NewSlackSender(alerting.NewHTTPClient(time.Second), srv.URL, "t")
	require.NoError(t, err)
	m := message()
	m.SlackChannel = ""
	err = s.Send(context.Background(), m)
	assert.True(t, alerting.IsRejected(err), "got %v", err)
	assert.Empty(t, srv.got(), "nothing is sent without a channel")
}

func TestConsoleSender(t *testing.T) {
	var buf bytes.Buffer
	s, err := alerting.NewConsoleSender(&buf)
	require.NoError(t, err)
	m := message()
	m.Description = "Features that have drifted: \n    col_1: \n        Kind: Out of bounds\n        Zone: Zone 4\n"
	require.NoError(t, s.Send(context.Background(), m))
	assert.Equal(t, "\nDrift detected for repo_1/model_1/1.0.0! \n"+m.Description, buf.String())

	buf.Reset()
	m.Description = ""
	require.NoError(t, s.Send(context.Background(), m))
	assert.Empty(t, buf.String(), "an empty description prints nothing")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestConsoleSenderWriteError(t *testing.T) {
	s, err := alerting.NewConsoleSender(failingWriter{})
	require.NoError(t, err)
	err = s.Send(context.Background(), message())
	require.Error(t, err)
	assert.False(t, alerting.IsRejected(err))
}

func TestConstructorsRejectBadDeps(t *testing.T) {
	c := alerting.NewHTTPClient(time.Second)
	_, err := alerting.NewSlackSender(nil, "http://x", "t")
	assert.Error(t, err)
	_, err = alerting.NewSlackSender(c, "", "t")
	assert.Error(t, err)
	_, err = alerting.NewSlackSender(c, "http://x", "")
	assert.Error(t, err)
	_, err = alerting.NewOpsGenieSender(c, " ", "k")
	assert.Error(t, err)
	_, err = alerting.NewConsoleSender(nil)
	assert.Error(t, err)
	_, err = alerting.New(config.Alerting{}, alerting.Options{})
	assert.Error(t, err, "console needs a writer")
	assert.Equal(t, time.Second, c.Timeout)
	assert.Equal(t, alerting.DefaultTimeout, alerting.NewHTTPClient(0).Timeout)
}

func TestDispatcherSelectAndCheck(t *testing.T) {
	full := config.Alerting{SlackAppToken: "t", SlackAPIURL: "https://slack.example/api",
		OpsGenieAPIKey: "k", OpsGenieAPIURL: "https://opsgenie.example/v2/alerts"}
	tests := []struct {
		name      string
		cfg       config.Alerting
		want      map[alerting.Channel]alerting.Channel
		wantCheck []string
	}{
		{
			name: "all configured",
			cfg:  full,
			want: map[alerting.Channel]alerting.Channel{alerting.Slack: alerting.Slack, alerting.OpsGenie: alerting.OpsGenie,
				alerting.Console: alerting.Console, "Teams": alerting.Console},
		},
		{
			name: "nothing configured",
			cfg:  config.Alerting{},
			want: map[alerting.Channel]alerting.Channel{alerting.Slack: alerting.Console, alerting.OpsGenie: alerting.Console,
				alerting.Console: alerting.Console},
			wantCheck: []string{
				"Slack alerts are not configured: SLACK_APP_TOKEN and SLACK_API_URL are not set; profiles that dispatch to Slack fall back to Console",
				"OpsGenie alerts are not configured: OPSGENIE_API_KEY and OPSGENIE_API_URL are not set; profiles that dispatch to OpsGenie fall back to Console",
			},
		},
		{
			name: "half configured",
			cfg:  config.Alerting{SlackAppToken: "t", OpsGenieAPIURL: "https://opsgenie.example/v2/alerts"},
			want: map[alerting.Channel]alerting.Channel{alerting.Slack: alerting.Console, alerting.OpsGenie: alerting.Console},
			wantCheck: []string{
				"Slack alerts are misconfigured: SLACK_API_URL is not set; profiles that dispatch to Slack fall back to Console",
				"OpsGenie alerts are misconfigured: OPSGENIE_API_KEY is not set; profiles that dispatch to OpsGenie fall back to Console",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := alerting.New(tt.cfg, alerting.Options{Stdout: io.Discard})
			require.NoError(t, err)
			for want, got := range tt.want {
				ch, fellBack := d.Select(want)
				assert.Equal(t, got, ch, "select %s", want)
				assert.Equal(t, want != got, fellBack, "fell back for %s", want)
				_, ok := d.Sender(ch)
				assert.True(t, ok, "selected channel %s has a sender", ch)
			}
			assert.Equal(t, tt.wantCheck, alerting.Check(tt.cfg))
		})
	}
}

func TestCheckNeverPrintsSecrets(t *testing.T) {
	msgs := alerting.Check(config.Alerting{SlackAppToken: "xoxb-very-secret", OpsGenieAPIKey: "genie-very-secret"})
	require.Len(t, msgs, 2)
	for _, m := range msgs {
		assert.NotContains(t, m, "very-secret")
	}
}
