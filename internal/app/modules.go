package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/scoutergo/server/internal/alertapi"
	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/driftread"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/grpcapi"
	"github.com/scoutergo/server/internal/httpapi"
	"github.com/scoutergo/server/internal/ingest"
	"github.com/scoutergo/server/internal/profileapi"
	"github.com/scoutergo/server/internal/schedule"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/internal/transport/kafka"
	"github.com/scoutergo/server/internal/transport/rabbitmq"
	"github.com/scoutergo/server/internal/transport/redis"
	"github.com/scoutergo/server/internal/user"
)

// modules is what the feature packages contribute to the server: HTTP
// routes, gRPC services, the auth hooks, background runners (consumers,
// writers) and their shutdown steps.
type modules struct {
	routes   []httpapi.Registrar
	httpAuth gin.HandlerFunc

	grpcAuth        scouterv1.AuthServiceServer
	grpcMessage     scouterv1.MessageServiceServer
	grpcDataset     scouterv1.DatasetServiceServer
	grpcInterceptor grpc.UnaryServerInterceptor

	runners []runner
	closers []step
}

// runner is a background loop owned by the server's errgroup; it returns
// when ctx is cancelled.
type runner struct {
	name string
	run  func(ctx context.Context) error
}

// buildModules wires the feature packages onto the shared dependencies.
func buildModules(ctx context.Context, d ServerDeps) (*modules, error) {
	m := &modules{}

	// Users and auth: tokens, the default users, /auth and /user routes,
	// the HTTP middleware and the gRPC AuthService and interceptor.
	users, err := buildUsers(ctx, d)
	if err != nil {
		return nil, err
	}
	m.routes = append(m.routes, httpapi.NewAuthHandler(users), httpapi.NewUserHandler(users))
	m.httpAuth = httpapi.NewAuthMiddleware(users)
	m.grpcAuth = grpcapi.NewAuthService(users, d.Logger.With(slog.String("component", "grpc")))
	m.grpcInterceptor = grpcapi.NewAuthInterceptor(users, d.Logger.With(slog.String("component", "grpc")))

	// Drift schedules: after each profile change the server syncs the
	// profile's Temporal Schedule in the background (a lazy client, so the
	// server starts and serves while Temporal is down); the worker's
	// reconcile repairs whatever a failed sync left behind.
	syncer, err := buildScheduleSync(d, m)
	if err != nil {
		return nil, err
	}

	// Profiles: registration with version bumping, update, status, listing.
	profiles, err := profileapi.New(profileapi.Options{DB: d.Pool, Logger: d.Logger, Syncer: syncer})
	if err != nil {
		return nil, fmt.Errorf("profile service: %w", err)
	}
	m.routes = append(m.routes, httpapi.NewProfileHandler(profiles))

	if err := buildIngest(d, m); err != nil {
		return nil, err
	}

	return m, nil
}

// buildUsers builds the token manager and the user service, warns loudly
// about public or weak secrets (production refuses them in config.Load), and
// creates the default users on an empty user table.
func buildUsers(ctx context.Context, d ServerDeps) (*user.Service, error) {
	a := d.Config.Auth
	secrets := auth.Secrets{
		Access:    []byte(a.EncryptSecret.Reveal()),
		Refresh:   []byte(a.RefreshSecret.Reveal()),
		Bootstrap: []byte(a.BootstrapKey.Reveal()),
	}
	if d.Config.Env != config.EnvProduction {
		if problems, _ := auth.ValidateSecrets(false, secrets); len(problems) > 0 || len(a.Unset) > 0 {
			d.Logger.Warn("INSECURE AUTH SECRETS: anyone who knows the public default can forge tokens and bootstrap admins; "+
				"set them to private values (openssl rand -base64 32) and SCOUTER_ENV=production",
				slog.Any("unset", a.Unset), slog.Any("problems", problems))
		}
	}
	tokens, err := auth.NewManager(secrets.WithDefaults(), nil)
	if err != nil {
		return nil, fmt.Errorf("build auth: %w", err)
	}
	svc, err := user.New(user.Options{
		Store:  user.NewPGStore(d.Pool),
		Tokens: tokens,
		Limiter: auth.NewLimiter(auth.LimiterOptions{
			MaxFailures: a.LoginMaxFailures,
			Window:      a.LoginWindow,
			BlockFor:    a.LoginLockout,
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("build auth: %w", err)
	}
	created, err := svc.EnsureDefaultUsers(ctx, user.Defaults{
		AdminUsername: a.DefaultUsername,
		AdminPassword: a.DefaultPassword.Reveal(),
	})
	if err != nil {
		return nil, err
	}
	if created {
		d.Logger.Warn("created the default users; change their passwords",
			slog.String("admin", a.DefaultUsername), slog.String("guest", "guest"))
	}
	return svc, nil
}

// buildIngest wires the one ingest pipeline that every transport feeds
// (HTTP, gRPC, Kafka, RabbitMQ, Redis), the dead-letter listing and the
// read routes (binned drift, observability, tags).
func buildIngest(d ServerDeps, m *modules) error {
	resolver, err := entity.NewResolver(d.Pool, d.Config.Database.EntityCacheMaxSize)
	if err != nil {
		return fmt.Errorf("entity resolver: %w", err)
	}
	pipeline, err := ingest.New(ingest.Options{
		DB:         d.Pool,
		Entities:   resolver,
		Logger:     d.Logger.With(slog.String("component", "ingest")),
		Registerer: d.Metrics.Registerer(),
		Writers:    d.Config.HTTPQueue.WorkerCount,
	})
	if err != nil {
		return fmt.Errorf("ingest pipeline: %w", err)
	}
	// Closers run after the listeners and consumers stopped and before the
	// pool closes: everything queued is committed first.
	m.closers = append(m.closers, step{name: "ingest pipeline", fn: pipeline.Close})

	deadLetters, err := ingest.NewDeadLetters(d.Pool)
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	m.routes = append(m.routes, httpapi.NewIngestHandler(pipeline, deadLetters))
	m.grpcMessage = grpcapi.NewMessageService(pipeline)

	reads, err := driftread.New(driftread.Deps{DB: d.Pool, Entities: resolver})
	if err != nil {
		return fmt.Errorf("drift reads: %w", err)
	}
	tags, err := driftread.NewTags(d.Pool, pipeline)
	if err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	m.routes = append(m.routes, httpapi.NewDriftReadHandler(reads),
		httpapi.NewObservabilityHandler(reads), httpapi.NewTagsHandler(tags))

	alerts, err := alertapi.New(d.Pool, resolver)
	if err != nil {
		return fmt.Errorf("alert service: %w", err)
	}
	m.routes = append(m.routes, httpapi.NewAlertsHandler(alerts))

	reg := d.Metrics.Registerer()
	if c := d.Config.Kafka; c != nil {
		k, err := kafka.New(*c, pipeline, d.Logger.With(slog.String("component", "kafka")), reg)
		if err != nil {
			return fmt.Errorf("kafka consumer: %w", err)
		}
		m.runners = append(m.runners, runner{name: "kafka consumer", run: k.Run})
	}
	if c := d.Config.RabbitMQ; c != nil {
		r, err := rabbitmq.New(*c, pipeline, d.Logger.With(slog.String("component", "rabbitmq")), reg)
		if err != nil {
			return fmt.Errorf("rabbitmq consumer: %w", err)
		}
		m.runners = append(m.runners, runner{name: "rabbitmq consumer", run: r.Run})
	}
	if c := d.Config.Redis; c != nil {
		r, err := redis.New(*c, pipeline, d.Logger.With(slog.String("component", "redis")), reg)
		if err != nil {
			return fmt.Errorf("redis consumer: %w", err)
		}
		m.runners = append(m.runners, runner{name: "redis consumer", run: r.Run})
	}
	return nil
}

// buildScheduleSync builds the background queue that keeps each profile's
// Temporal Schedule in line with its row.
func buildScheduleSync(d ServerDeps, m *modules) (*schedule.SyncQueue, error) {
	logger := d.Logger.With(slog.String("component", "schedules"))
	tc, err := client.NewLazyClient(temporalclient.ClientOptions(d.Config.Temporal, logger, temporalclient.Options{}))
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	m.closers = append(m.closers, step{name: "temporal client", fn: func(context.Context) error { tc.Close(); return nil }})
	schedules, err := schedule.NewManager(schedule.Options{
		Client:     tc,
		TaskQueue:  d.Config.Temporal.TaskQueue,
		Logger:     logger,
		RunTimeout: schedule.RunTimeoutFor(d.Config.Polling.MaxRetries),
	})
	if err != nil {
		return nil, fmt.Errorf("drift schedules: %w", err)
	}
	syncer, err := schedule.NewSyncer(dbsqlc.New(d.Pool), schedules, logger)
	if err != nil {
		return nil, fmt.Errorf("schedule syncer: %w", err)
	}
	q, err := schedule.NewSyncQueue(syncer, schedule.QueueOptions{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("schedule sync queue: %w", err)
	}
	m.runners = append(m.runners, runner{name: "schedule sync", run: q.Run})
	return q, nil
}
