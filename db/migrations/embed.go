// Package migrations embeds the goose SQL migrations of the Scouter schema.
//
// The files are also sqlc's schema source (see sqlc.yaml); sqlc reads only the
// *.sql files here and skips their Down sections.
package migrations

import "embed"

// FS holds every migration file (NNNNN_name.sql), in lexical = numeric order.
//
//go:embed *.sql
var FS embed.FS
