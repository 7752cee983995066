package grpcapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/ingest"
	"github.com/scoutergo/server/internal/record"
)

// MessageSubmitter stores a decoded MessageRecord and returns once it is
// committed. *ingest.Pipeline implements it.
type MessageSubmitter interface {
	SubmitFrom(ctx context.Context, source string, msg *record.Message) (ingest.Result, error)
}

var (
	_ MessageSubmitter               = (*ingest.Pipeline)(nil)
	_ scouterv1.MessageServiceServer = (*MessageService)(nil)
)

// MessageSource is the source recorded for messages received over gRPC.
const MessageSource = "grpc:InsertMessage"

// maxListedRejections bounds the rejections spelled out in a status message.
const maxListedRejections = 5

// MessageService implements scouter.grpc.v1.MessageService on the ingest
// pipeline: InsertMessage answers only after the records are committed.
//
//   - OK {status:"success", message:"Message queued for processing"}
//   - INVALID_ARGUMENT "Invalid message format: ...": the bytes are not a
//     MessageRecord, or some records are invalid or name an unknown profile
//     uid (the valid records beside them ARE stored; the message says how
//     many).
//   - UNAVAILABLE "Database unavailable, retry": nothing was written.
type MessageService struct {
	scouterv1.UnimplementedMessageServiceServer
	pipeline MessageSubmitter
}

// NewMessageService returns the service.
func NewMessageService(pipeline MessageSubmitter) *MessageService {
	return &MessageService{pipeline: pipeline}
}

// InsertMessage stores one MessageRecord (JSON bytes).
func (s *MessageService) InsertMessage(ctx context.Context, req *scouterv1.InsertMessageRequest) (*scouterv1.InsertMessageResponse, error) {
	msg, derr := record.Decode(req.GetMessageRecord())
	var invalid *record.RecordsError
	if derr != nil && !errors.As(derr, &invalid) {
		return nil, status.Error(codes.InvalidArgument, "Invalid message format: "+derr.Error())
	}
	res, err := s.pipeline.SubmitFrom(ctx, MessageSource, msg)
	if err != nil {
		return nil, submitStatus(err)
	}
	rejected := res.Rejected
	if invalid != nil {
		for _, re := range invalid.Invalid {
			rejected = append(rejected, ingest.Rejection{Index: re.Index, Reason: re.Error()})
		}
		slices.SortStableFunc(rejected, func(a, b ingest.Rejection) int { return cmp.Compare(a.Index, b.Index) })
	}
	if len(rejected) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "Invalid message format: %d records rejected, %d stored: ", len(rejected), res.Stored+res.Deferred)
		for i, r := range rejected {
			if i == maxListedRejections {
				fmt.Fprintf(&b, "; and %d more", len(rejected)-maxListedRejections)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(r.Reason)
		}
		return nil, status.Error(codes.InvalidArgument, b.String())
	}
	return &scouterv1.InsertMessageResponse{Status: "success", Message: "Message queued for processing"}, nil
}

func submitStatus(err error) error {
	switch {
	case errors.Is(err, ingest.ErrUnavailable):
		return status.Error(codes.Unavailable, "Database unavailable, retry")
	case errors.Is(err, ingest.ErrClosed):
		return status.Error(codes.Unavailable, "Server is shutting down, retry")
	case errors.Is(err, ingest.ErrRejected):
		return status.Error(codes.InvalidArgument, "Invalid message format: "+err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, "Failed to store message")
}
