// Package alerting delivers drift alert messages to the channels a profile's
// dispatch config names: Slack (Web API chat.postMessage), OpsGenie (Create
// Alert API) and Console (stdout). It only sends; which messages exist, and
// whether one was already delivered, is decided by the caller (the
// AlertFanOut workflow and its activities).
//
// Every failed send is classified: a *RejectedError (an HTTP 4xx other than
// 429, or a Slack error code that cannot succeed on a resend) is permanent;
// anything else (429, 5xx, a Slack "ok": false, a transport error) may
// succeed when retried.
package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Channel names an alert channel. The values are upstream's dispatch kinds.
type Channel string

// The channels.
const (
	Console  Channel = "Console"
	Slack    Channel = "Slack"
	OpsGenie Channel = "OpsGenie"
)

// Valid reports whether c is one of the three channels.
func (c Channel) Valid() bool { return c == Console || c == Slack || c == OpsGenie }

// Message is one alert message for one channel.
type Message struct {
	// Space, Name and Version identify the profile (from the profile JSON).
	Space   string
	Name    string
	Version string
	// Description is the alert text, already formatted for the channel.
	Description string
	// DedupKey identifies the message across resends (run + message); it is
	// OpsGenie's alias, so OpsGenie folds a resend into the open alert.
	DedupKey string
	// SlackChannel is the Slack dispatch config's channel.
	SlackChannel string
	// Team and Priority come from the OpsGenie dispatch config.
	Team     string
	Priority string
}

// Sender sends one message to one channel. Implementations: *SlackSender,
// *OpsGenieSender, *ConsoleSender.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// RejectedError is a permanent delivery failure: the channel refused the
// message and sending it again cannot help (bad credentials, unknown
// channel, malformed request).
type RejectedError struct {
	Channel    Channel
	StatusCode int    // HTTP status, 0 when the rejection came in a 2xx body
	Detail     string // the answer, shortened
}

func (e *RejectedError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s rejected the alert: %s", strings.ToLower(string(e.Channel)), e.Detail)
	}
	return fmt.Sprintf("%s rejected the alert: status %d: %s", strings.ToLower(string(e.Channel)), e.StatusCode, e.Detail)
}

// IsRejected reports whether err is (or wraps) a *RejectedError.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// DefaultTimeout bounds one HTTP request to Slack or OpsGenie.
const DefaultTimeout = 10 * time.Second

// NewHTTPClient returns the client the senders use: a dedicated transport
// and an overall timeout per request (never http.DefaultClient).
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{Timeout: timeout, Transport: tr}
}

// maxAnswer bounds how much of an answer body is read.
const maxAnswer = 64 << 10

// maxDetail bounds how much of an answer goes into an error.
const maxDetail = 300

// readAnswer reads up to maxAnswer bytes of the body and drains the rest
// (up to a limit) so the connection can be reused.
func readAnswer(resp *http.Response) []byte {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return b
}

func shorten(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty body)"
	}
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return s
}

// statusError classifies a non-2xx answer: 429 and 5xx may succeed later,
// every other status is a rejection.
func statusError(ch Channel, resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code == http.StatusTooManyRequests || code >= 500 {
		return fmt.Errorf("%s answered status %d: %s", strings.ToLower(string(ch)), code, shorten(body))
	}
	return &RejectedError{Channel: ch, StatusCode: code, Detail: shorten(body)}
}

// post sends body as JSON with the given Authorization header and returns
// the answer of a 2xx response; other answers and transport errors are
// classified errors.
func post(ctx context.Context, client *http.Client, ch Channel, url, authorization string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		// Only a malformed URL gets here; the configuration is wrong.
		return nil, &RejectedError{Channel: ch, Detail: "build request: " + err.Error()}
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send to %s: %w", strings.ToLower(string(ch)), err)
	}
	defer resp.Body.Close()
	answer := readAnswer(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, statusError(ch, resp, answer)
	}
	return answer, nil
}
