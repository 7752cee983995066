package deploy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/scoutergo/server/internal/config"
)

var root = filepath.Join("..", "..")

type composeFile struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string      `yaml:"image"`
	Build       yaml.Node   `yaml:"build"`
	Command     yaml.Node   `yaml:"command"`
	Environment yaml.Node   `yaml:"environment"`
	Ports       []yaml.Node `yaml:"ports"`
	DependsOn   yaml.Node   `yaml:"depends_on"`
}

// resolve follows YAML aliases (the compose file shares the environment
// through an anchor).
func resolve(n yaml.Node) yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = *n.Alias
	}
	return n
}

// env decodes environment in either compose form: a map or NAME=value list.
func (s service) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	s.Environment = resolve(s.Environment)
	switch s.Environment.Kind {
	case 0:
	case yaml.MappingNode:
		require.NoError(t, s.Environment.Decode(&out))
	case yaml.SequenceNode:
		var list []string
		require.NoError(t, s.Environment.Decode(&list))
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		t.Fatalf("environment: unexpected YAML kind %v", s.Environment.Kind)
	}
	return out
}

// command returns the command as words, from either string or list form.
func (s service) command(t *testing.T) []string {
	t.Helper()
	s.Command = resolve(s.Command)
	switch s.Command.Kind {
	case 0:
		return nil
	case yaml.ScalarNode:
		return strings.Fields(s.Command.Value)
	case yaml.SequenceNode:
		var words []string
		require.NoError(t, s.Command.Decode(&words))
		return words
	}
	t.Fatalf("command: unexpected YAML kind %v", s.Command.Kind)
	return nil
}

// ports maps published host port to container port, from the short
// ("[ip:]host:container") or long ({target, published}) syntax.
func (s service) ports(t *testing.T) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, n := range s.Ports {
		n = resolve(n)
		var published, target string
		switch n.Kind {
		case yaml.ScalarNode:
			parts := strings.Split(strings.TrimSuffix(n.Value, "/tcp"), ":")
			require.GreaterOrEqual(t, len(parts), 2, "port %q: want host:container", n.Value)
			published, target = parts[len(parts)-2], parts[len(parts)-1]
		case yaml.MappingNode:
			var long struct {
				Target    string `yaml:"target"`
				Published string `yaml:"published"`
			}
			require.NoError(t, n.Decode(&long))
			published, target = long.Published, long.Target
		default:
			t.Fatalf("ports: unexpected YAML kind %v", n.Kind)
		}
		p, err := strconv.Atoi(published)
		require.NoError(t, err, "published port %q", published)
		c, err := strconv.Atoi(target)
		require.NoError(t, err, "container port %q", target)
		out[p] = c
	}
	return out
}

func (s service) dependsOn(t *testing.T) []string {
	t.Helper()
	var names []string
	s.DependsOn = resolve(s.DependsOn)
	switch s.DependsOn.Kind {
	case 0:
	case yaml.SequenceNode:
		require.NoError(t, s.DependsOn.Decode(&names))
	case yaml.MappingNode:
		var m map[string]any
		require.NoError(t, s.DependsOn.Decode(&m))
		for k := range m {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.temporal.yml"))
	require.NoError(t, err)
	var f composeFile
	require.NoError(t, yaml.Unmarshal(data, &f), "parse docker-compose.temporal.yml")
	return f
}

func loadConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, err)
	return cfg
}

// flagValue finds "--name value" or "--name=value" in words.
func flagValue(words []string, name string) (string, bool) {
	for i, w := range words {
		if w == name && i+1 < len(words) {
			return words[i+1], true
		}
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func TestComposeServices(t *testing.T) {
	f := loadCompose(t)
	for _, name := range []string{"postgres", "temporal", "scouter-server", "scouter-worker"} {
		_, ok := f.Services[name]
		assert.True(t, ok, "compose file has no service %s", name)
	}
}

func TestComposeServerPortsMatchConfigDefaults(t *testing.T) {
	f := loadCompose(t)
	defaults := loadConfig(t, nil)
	want := map[int]int{
		defaults.Server.HTTPPort:      defaults.Server.HTTPPort,
		defaults.Server.MetricsPort(): defaults.Server.MetricsPort(),
		defaults.Server.GRPCPort:      defaults.Server.GRPCPort,
	}
	require.Equal(t, map[int]int{8000: 8000, 8001: 8001, 50051: 50051}, want, "config defaults changed: update compose, Dockerfile and this test")

	srv := f.Services["scouter-server"]
	assert.Equal(t, want, srv.ports(t), "scouter-server published ports")

	// The server inside the container listens where the ports point.
	cfg := loadConfig(t, srv.env(t))
	assert.Equal(t, defaults.Server.HTTPPort, cfg.Server.HTTPPort)
	assert.Equal(t, defaults.Server.MetricsPort(), cfg.Server.MetricsPort())
	assert.Equal(t, defaults.Server.GRPCPort, cfg.Server.GRPCPort)
	assert.Equal(t, []string{"scouter-server"}, srv.command(t))
}

func TestComposeTemporal(t *testing.T) {
	f := loadCompose(t)
	temporal := f.Services["temporal"]
	words := temporal.command(t)
	require.GreaterOrEqual(t, len(words), 2)
	assert.Equal(t, []string{"server", "start-dev"}, words[:2])
	ip, _ := flagValue(words, "--ip")
	assert.Equal(t, "0.0.0.0", ip, "the dev server must listen beyond the container's loopback")
	port := "7233"
	if p, ok := flagValue(words, "--port"); ok {
		port = p
	}
	assert.Equal(t, "7233", port, "temporal frontend port")
	ports := temporal.ports(t)
	assert.Equal(t, 7233, ports[7233], "publish the frontend")
	assert.Equal(t, 8233, ports[8233], "publish the Web UI")

	for _, name := range []string{"scouter-server", "scouter-worker"} {
		t.Run(name, func(t *testing.T) {
			svc := f.Services[name]
			cfg := loadConfig(t, svc.env(t))
			host, p, err := net.SplitHostPort(cfg.Temporal.Address)
			require.NoError(t, err)
			assert.Equal(t, "temporal", host, "TEMPORAL_ADDRESS host names the temporal service")
			_, ok := f.Services[host]
			assert.True(t, ok, "TEMPORAL_ADDRESS host %q is not a compose service", host)
			assert.Equal(t, port, p, "TEMPORAL_ADDRESS port")
			assert.Contains(t, svc.dependsOn(t), "temporal")
		})
	}
}

func TestComposeDatabase(t *testing.T) {
	f := loadCompose(t)
	pg := f.Services["postgres"]
	pgEnv := pg.env(t)
	dbName := pgEnv["POSTGRES_DB"]
	require.NotEmpty(t, dbName, "postgres POSTGRES_DB")
	assert.Equal(t, "scouter", dbName)

	cmd := strings.Join(pg.command(t), " ")
	assert.Contains(t, cmd, "shared_preload_libraries=pg_cron")
	assert.Contains(t, cmd, "cron.database_name="+dbName)

	var build struct {
		DockerfileInline string `yaml:"dockerfile_inline"`
	}
	require.NoError(t, pg.Build.Decode(&build), "postgres build")
	assert.Contains(t, build.DockerfileInline, "FROM postgres:15-bookworm")
	assert.Contains(t, build.DockerfileInline, "postgresql-15-partman")
	assert.Contains(t, build.DockerfileInline, "postgresql-15-cron")

	for _, name := range []string{"scouter-server", "scouter-worker"} {
		t.Run(name, func(t *testing.T) {
			svc := f.Services[name]
			cfg := loadConfig(t, svc.env(t))
			u, err := url.Parse(cfg.Database.URI.Reveal())
			require.NoError(t, err)
			assert.Equal(t, "postgres", u.Hostname(), "DATABASE_URI host names the postgres service")
			if u.Port() != "" {
				assert.Equal(t, "5432", u.Port())
			}
			assert.Equal(t, "/"+dbName, u.Path, "DATABASE_URI database")
			assert.Equal(t, pgEnv["POSTGRES_USER"], u.User.Username())
			pw, _ := u.User.Password()
			assert.Equal(t, pgEnv["POSTGRES_PASSWORD"], pw)
			assert.Contains(t, svc.dependsOn(t), "postgres")
		})
	}
}

func TestComposeWorker(t *testing.T) {
	f := loadCompose(t)
	w := f.Services["scouter-worker"]
	assert.Equal(t, []string{"scouter-worker"}, w.command(t))
	assert.Empty(t, w.ports(t), "the worker serves nothing")
	assert.Equal(t, f.Services["scouter-server"].Image, w.Image, "server and worker share one image")
}

// dockerfile returns the Dockerfile's instructions with continuation lines
// joined and comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	return out
}

func TestDockerfile(t *testing.T) {
	defaults := loadConfig(t, nil)
	var exposed []string
	var froms, runs, users, cmds []string
	for _, ins := range dockerfile(t) {
		keyword, rest, _ := strings.Cut(ins, " ")
		switch strings.ToUpper(keyword) {
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(rest)...)
		case "FROM":
			froms = append(froms, rest)
		case "RUN":
			runs = append(runs, rest)
		case "USER":
			users = append(users, rest)
		case "CMD":
			cmds = append(cmds, rest)
		}
	}
	slices.Sort(exposed)
	want := []string{
		fmt.Sprint(defaults.Server.HTTPPort), fmt.Sprint(defaults.Server.MetricsPort()), fmt.Sprint(defaults.Server.GRPCPort),
	}
	slices.Sort(want)
	assert.Equal(t, want, exposed, "EXPOSE")

	require.Len(t, froms, 2, "a build stage and a runtime stage")
	assert.True(t, strings.HasPrefix(froms[0], "golang:1.26-bookworm"), "builder: got %q", froms[0])
	assert.Equal(t, "debian:bookworm-slim", froms[1], "runtime")

	all := strings.Join(runs, "\n")
	assert.Contains(t, all, "./cmd/server")
	assert.Contains(t, all, "./cmd/worker")
	assert.Contains(t, all, "-o /out/scouter-server")
	assert.Contains(t, all, "-o /out/scouter-worker")
	assert.Contains(t, all, "ca-certificates")

	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "ENV CGO_ENABLED=1")

	require.NotEmpty(t, users, "USER")
	last := users[len(users)-1]
	assert.NotContains(t, []string{"root", "0", "root:root", "0:0"}, last, "runtime user must not be root")
	assert.Equal(t, []string{`["scouter-server"]`}, cmds)
}

func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	for _, want := range []string{".git", ".local"} {
		assert.Contains(t, lines, want)
	}
}
