package grpcapi

import "github.com/scoutergo/server/internal/gen/scouterv1"

// Stand-ins registered when Deps leaves a service nil: every RPC answers codes.Unimplemented.
type (
	unimplementedAuth struct {
		scouterv1.UnimplementedAuthServiceServer
	}
	unimplementedMessage struct {
		scouterv1.UnimplementedMessageServiceServer
	}
	unimplementedDataset struct {
		scouterv1.UnimplementedDatasetServiceServer
	}
)

var (
	_ scouterv1.AuthServiceServer    = unimplementedAuth{}
	_ scouterv1.MessageServiceServer = unimplementedMessage{}
	_ scouterv1.DatasetServiceServer = unimplementedDataset{}
)
