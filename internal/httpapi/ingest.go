package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/ingest"
	"github.com/scoutergo/server/internal/record"
)

// MessageSubmitter stores a decoded MessageRecord and returns once it is
// committed. *ingest.Pipeline implements it.
type MessageSubmitter interface {
	SubmitFrom(ctx context.Context, source string, msg *record.Message) (ingest.Result, error)
}

// DeadLetterLister pages through the dead letters. *ingest.DeadLetters
// implements it.
type DeadLetterLister interface {
	List(ctx context.Context, beforeID *int64, limit int) ([]ingest.DeadLetter, error)
}

var (
	_ MessageSubmitter = (*ingest.Pipeline)(nil)
	_ DeadLetterLister = (*ingest.DeadLetters)(nil)
	_ Registrar        = (*IngestHandler)(nil)
)

// Upstream's success bodies of the ingest routes.
const (
	msgMessageQueued = "Message queued for processing"
	msgDriftQueued   = "Drift records queued for processing"
	msgDBUnavailable = "Database unavailable, retry"
	msgShuttingDown  = "Server is shutting down, retry"
)

// IngestHandler serves POST /scouter/message, POST /scouter/drift and the
// admin route GET /scouter/dead-letters.
//
// Unlike upstream, which answers 200 as soon as a message is queued in
// memory, the ingest routes answer only after the records are committed:
//
//   - 200 {"status":"success","message":...}: every record is stored (GenAI
//     records and traces are kept in dead_letter until their store exists).
//   - 400: the body is empty or not JSON.
//   - 413: the body is over record.MaxMessageSize (10 MiB).
//   - 415: a Content-Type other than JSON.
//   - 422 {"error"}: JSON that is not a MessageRecord (names the field).
//   - 422 {"error","rejected":[{index,reason}],"stored":n,"deferred":n}:
//     some records were invalid or name an unknown profile uid; the others
//     ARE stored (all-or-nothing would drop good monitoring data for one
//     bad point, and a resend of the whole message is idempotent).
//   - 503 {"error":"Database unavailable, retry"}: nothing was written.
type IngestHandler struct {
	pipeline    MessageSubmitter
	deadLetters DeadLetterLister
}

// NewIngestHandler returns the handler; deadLetters may be nil to leave the
// admin route out.
func NewIngestHandler(pipeline MessageSubmitter, deadLetters DeadLetterLister) *IngestHandler {
	return &IngestHandler{pipeline: pipeline, deadLetters: deadLetters}
}

// RegisterRoutes implements Registrar.
func (h *IngestHandler) RegisterRoutes(_, authed *gin.RouterGroup) {
	authed.POST("/message", func(c *gin.Context) { h.ingest(c, msgMessageQueued) })
	authed.POST("/drift", func(c *gin.Context) { h.ingest(c, msgDriftQueued) })
	if h.deadLetters != nil {
		authed.GET("/dead-letters", h.listDeadLetters)
	}
}

// IngestResponse is the success body of the ingest routes.
type IngestResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// IngestRejectedResponse is the 422 body when some records were not stored.
type IngestRejectedResponse struct {
	Error    string             `json:"error"`
	Rejected []ingest.Rejection `json:"rejected"`
	Stored   int                `json:"stored"`
	Deferred int                `json:"deferred"`
}

func (h *IngestHandler) ingest(c *gin.Context, okMessage string) {
	if ct := c.GetHeader("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		WriteError(c, Wrap(http.StatusUnsupportedMediaType,
			"Expected request with `Content-Type: application/json`", fmt.Errorf("content type %q", ct)))
		return
	}
	body, err := readBody(c, record.MaxMessageSize)
	if err != nil {
		WriteError(c, err)
		return
	}
	if len(body) == 0 {
		WriteError(c, NewError(http.StatusBadRequest, "Request body is empty"))
		return
	}

	msg, derr := record.Decode(body)
	var invalid *record.RecordsError
	switch {
	case derr == nil:
	case errors.As(derr, &invalid): // store the valid records, report the rest
	case errors.Is(derr, record.ErrTooLarge):
		WriteError(c, Wrap(http.StatusRequestEntityTooLarge, tooLargeMessage(record.MaxMessageSize), derr))
		return
	case !json.Valid(body):
		WriteError(c, Wrap(http.StatusBadRequest, "Invalid JSON body: "+derr.Error(), derr))
		return
	default:
		WriteError(c, Wrap(http.StatusUnprocessableEntity, "Invalid message: "+derr.Error(), derr))
		return
	}

	res, err := h.pipeline.SubmitFrom(c.Request.Context(), "http:"+c.FullPath(), msg)
	if err != nil {
		WriteError(c, ingestError(err))
		return
	}
	rejected := res.Rejected
	if invalid != nil {
		for _, re := range invalid.Invalid {
			rejected = append(rejected, ingest.Rejection{Index: re.Index, Reason: re.Error()})
		}
		sortRejections(rejected)
	}
	if len(rejected) > 0 {
		total := len(rejected) + res.Stored + res.Deferred
		if msg.Kind == record.KindRecords {
			total = msg.Total
		}
		body := IngestRejectedResponse{
			Error:    fmt.Sprintf("%d of %d records rejected, %d stored", len(rejected), total, res.Stored+res.Deferred),
			Rejected: rejected, Stored: res.Stored, Deferred: res.Deferred,
		}
		_ = c.Error(errors.New(body.Error)) // for the access log
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, body)
		return
	}
	c.JSON(http.StatusOK, IngestResponse{Status: "success", Message: okMessage})
}

// readBody reads the whole body, at most limit bytes (a larger body is a
// 413, before the router's own, larger, limit).
func readBody(c *gin.Context, limit int64) ([]byte, error) {
	if c.Request.Body == nil {
		return nil, nil
	}
	if c.Request.ContentLength > limit {
		return nil, NewError(http.StatusRequestEntityTooLarge, tooLargeMessage(limit))
	}
	// Sized from Content-Length when the client sent one: io.ReadAll would
	// start at 512 bytes and copy a 15 KB message five times over.
	var buf bytes.Buffer
	if n := c.Request.ContentLength; n > 0 {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	body := buf.Bytes()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err // WriteError answers 413 with the limit
		}
		return nil, Wrap(http.StatusBadRequest, "Failed to read the request body", err)
	}
	return body, nil
}

func sortRejections(r []ingest.Rejection) {
	slices.SortStableFunc(r, func(a, b ingest.Rejection) int { return cmp.Compare(a.Index, b.Index) })
}

// ingestError maps the pipeline's errors onto statuses.
func ingestError(err error) error {
	switch {
	case errors.Is(err, ingest.ErrUnavailable):
		return Wrap(http.StatusServiceUnavailable, msgDBUnavailable, err)
	case errors.Is(err, ingest.ErrClosed):
		return Wrap(http.StatusServiceUnavailable, msgShuttingDown, err)
	case errors.Is(err, ingest.ErrRejected):
		return Wrap(http.StatusUnprocessableEntity, "Message rejected: "+err.Error(), err)
	}
	return err // ctx errors and the rest: WriteError's defaults
}

// DeadLetterItem is one dead letter in GET /scouter/dead-letters. Payload is
// the raw bytes as a string when they are valid UTF-8, else base64 with
// PayloadBase64 set.
type DeadLetterItem struct {
	ID            int64  `json:"id"`
	CreatedAt     string `json:"created_at"`
	Transport     string `json:"transport"`
	Source        string `json:"source"`
	Reason        string `json:"reason"`
	RecordIndex   *int32 `json:"record_index"`
	Payload       string `json:"payload"`
	PayloadBase64 bool   `json:"payload_base64"`
}

// DeadLetterPage is the body of GET /scouter/dead-letters. NextBeforeID is
// the before_id of the next (older) page, null on the last page.
type DeadLetterPage struct {
	Items        []DeadLetterItem `json:"items"`
	NextBeforeID *int64           `json:"next_before_id"`
}

// listDeadLetters serves GET /scouter/dead-letters?limit=&before_id=
// (admins only; limit 1..1000, default 100).
func (h *IngestHandler) listDeadLetters(c *gin.Context) {
	id, ok := auth.IdentityFrom(c.Request.Context())
	if !ok || !id.IsAdmin() {
		WriteError(c, NewError(http.StatusForbidden, "Need admin permission"))
		return
	}
	limit := ingest.DefaultDeadLetterLimit
	if s, ok := c.GetQuery("limit"); ok && s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > ingest.MaxDeadLetterLimit {
			WriteError(c, NewError(http.StatusBadRequest,
				fmt.Sprintf("Invalid limit %q: want an integer from 1 to %d", s, ingest.MaxDeadLetterLimit)))
			return
		}
		limit = n
	}
	var before *int64
	if s, ok := c.GetQuery("before_id"); ok && s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			WriteError(c, NewError(http.StatusBadRequest, fmt.Sprintf("Invalid before_id %q: want a positive integer", s)))
			return
		}
		before = &n
	}
	letters, err := h.deadLetters.List(c.Request.Context(), before, limit)
	if err != nil {
		WriteError(c, Errorf(http.StatusInternalServerError, "Failed to query dead letters: %w", err))
		return
	}
	page := DeadLetterPage{Items: make([]DeadLetterItem, len(letters))}
	for i, d := range letters {
		item := DeadLetterItem{ID: d.ID, CreatedAt: record.FormatTime(d.CreatedAt), Transport: d.Transport,
			Source: d.Source, Reason: d.Reason, RecordIndex: d.RecordIndex}
		if utf8.Valid(d.Payload) {
			item.Payload = string(d.Payload)
		} else {
			item.Payload, item.PayloadBase64 = base64.StdEncoding.EncodeToString(d.Payload), true
		}
		page.Items[i] = item
	}
	if len(letters) == limit {
		next := letters[len(letters)-1].ID
		page.NextBeforeID = &next
	}
	c.JSON(http.StatusOK, page)
}
