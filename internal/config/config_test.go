package config_test

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foliostream/foliostream/internal/config"
)

// settings is what the test flag set fills.
type settings struct {
	NATS      string
	BatchSize int
	Age       time.Duration
	Verbose   bool
	Listen    string
	Backoff   string
}

func newFlags(name string, s *settings) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	fs.StringVar(&s.NATS, "nats", "nats://default:4222", "NATS server URL (env FOLIO_NATS_URL)")
	fs.IntVar(&s.BatchSize, "batch-size", 64, "messages per write")
	fs.DurationVar(&s.Age, "batch-age", 250*time.Millisecond, "batch age")
	fs.BoolVar(&s.Verbose, "verbose", false, "log more")
	fs.StringVar(&s.Listen, "listen", "", "HTTP address")
	fs.StringVar(&s.Backoff, "backoff", "30s", "redelivery schedule")
	return fs
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if v, ok := m[name]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

const sampleFile = `
# shared by every subcommand
nats: nats://file:4222
batch-size: 10
other-subcommands-flag: x
run:
  batch-age: 1s
  backoff: [1s, 2s, 5s]
  verbose: true
replay:
  batch-size: 99
`

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		section string
		args    []string
		env     map[string]string
		want    settings
		sources map[string]config.Source
	}{
		{
			name: "defaults",
			want: settings{NATS: "nats://default:4222", BatchSize: 64, Age: 250 * time.Millisecond, Backoff: "30s"},
			sources: map[string]config.Source{"nats": config.SourceDefault, "batch-size": config.SourceDefault,
				"config": config.SourceDefault},
		},
		{
			name: "environment",
			env:  map[string]string{"FOLIO_NATS_URL": "nats://env:4222", "FOLIO_BATCH_SIZE": "7", "FOLIO_VERBOSE": "true", "FOLIO_LISTEN": ""},
			want: settings{NATS: "nats://env:4222", BatchSize: 7, Age: 250 * time.Millisecond, Verbose: true, Backoff: "30s"},
			sources: map[string]config.Source{"nats": config.SourceEnv, "batch-size": config.SourceEnv,
				"listen": config.SourceDefault}, // empty counts as unset
		},
		{
			name: "command line beats environment",
			args: []string{"--batch-size", "3", "--nats=nats://flag:4222"},
			env:  map[string]string{"FOLIO_NATS_URL": "nats://env:4222", "FOLIO_BATCH_SIZE": "7"},
			want: settings{NATS: "nats://flag:4222", BatchSize: 3, Age: 250 * time.Millisecond, Backoff: "30s"},
			sources: map[string]config.Source{"nats": config.SourceFlag, "batch-size": config.SourceFlag,
				"batch-age": config.SourceDefault},
		},
		{
			name:    "file: section beats shared keys",
			section: "run",
			args:    []string{"--config", "folio.yaml"},
			want:    settings{NATS: "nats://file:4222", BatchSize: 10, Age: time.Second, Verbose: true, Backoff: "1s,2s,5s"},
			sources: map[string]config.Source{"nats": config.SourceFile, "batch-age": config.SourceFile,
				"config": config.SourceFlag, "listen": config.SourceDefault},
		},
		{
			name:    "file named by FOLIO_CONFIG, another section",
			section: "replay",
			env:     map[string]string{"FOLIO_CONFIG": "folio.yaml"},
			want:    settings{NATS: "nats://file:4222", BatchSize: 99, Age: 250 * time.Millisecond, Backoff: "30s"},
			sources: map[string]config.Source{"batch-size": config.SourceFile, "config": config.SourceEnv},
		},
		{
			name:    "environment beats file, command line beats both",
			section: "run",
			args:    []string{"--config", "folio.yaml", "--verbose=false"},
			env:     map[string]string{"FOLIO_BATCH_AGE": "3s", "FOLIO_BATCH_SIZE": "5"},
			want:    settings{NATS: "nats://file:4222", BatchSize: 5, Age: 3 * time.Second, Backoff: "1s,2s,5s"},
			sources: map[string]config.Source{"verbose": config.SourceFlag, "batch-age": config.SourceEnv,
				"backoff": config.SourceFile},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got settings
			fs := newFlags("cmd", &got)
			b := config.Bind(fs, config.Options{
				Section:   tt.section,
				Env:       map[string]string{"nats": "FOLIO_NATS_URL"},
				LookupEnv: env(tt.env),
				ReadFile:  files(map[string]string{"folio.yaml": sampleFile}),
			})
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := b.Apply(); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			for name, want := range tt.sources {
				if s := b.Source(name); s != want {
					t.Errorf("Source(%s) = %s, want %s", name, s, want)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		want    error
		mention []string
	}{
		{"bad env value", nil, map[string]string{"FOLIO_BATCH_SIZE": "many"}, "",
			config.ErrValue, []string{"FOLIO_BATCH_SIZE", "--batch-size"}},
		{"bad file value", []string{"--config", "f.yaml"}, nil, "run:\n  batch-age: soon\n",
			config.ErrValue, []string{"f.yaml", "line 2", "run.batch-age"}},
		{"unknown key in own section", []string{"--config", "f.yaml"}, nil, "run:\n  batch-sise: 3\n",
			config.ErrUnknownKey, []string{"run.batch-sise", "batch-size"}},
		{"config key in section", []string{"--config", "f.yaml"}, nil, "run:\n  config: other.yaml\n",
			config.ErrUnknownKey, []string{"run.config"}},
		{"missing file", []string{"--config", "nope.yaml"}, nil, "",
			config.ErrFile, []string{"nope.yaml"}},
		{"not a mapping", []string{"--config", "f.yaml"}, nil, "- a\n- b\n",
			config.ErrFile, []string{"mapping"}},
		{"not yaml", []string{"--config", "f.yaml"}, nil, "run: [unclosed\n",
			config.ErrFile, []string{"f.yaml"}},
		{"nested list", []string{"--config", "f.yaml"}, nil, "backoff: [[1s]]\n",
			config.ErrFile, []string{"line 1"}},
		{"duplicate key", []string{"--config", "f.yaml"}, nil, "run:\n  listen: a:1\n  listen: b:2\n",
			config.ErrFile, []string{"twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s settings
			fs := newFlags("run", &s)
			b := config.Bind(fs, config.Options{LookupEnv: env(tt.env), ReadFile: files(map[string]string{"f.yaml": tt.file})})
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := b.Apply()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Apply error %v, want %v", err, tt.want)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// TestHelpListsEnv: after Bind, PrintDefaults shows every flag with its
// variable once, and its default.
func TestHelpListsEnv(t *testing.T) {
	var s settings
	fs := newFlags("run", &s)
	fs.String("no-env", "", "a flag without a variable")
	config.Bind(fs, config.Options{Env: map[string]string{"nats": "FOLIO_NATS_URL", "no-env": ""}})
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.PrintDefaults()
	help := out.String()
	for flagName, env := range map[string]string{
		"nats": "FOLIO_NATS_URL", "batch-size": "FOLIO_BATCH_SIZE", "batch-age": "FOLIO_BATCH_AGE",
		"verbose": "FOLIO_VERBOSE", "listen": "FOLIO_LISTEN", "backoff": "FOLIO_BACKOFF", "config": "FOLIO_CONFIG",
	} {
		f := fs.Lookup(flagName)
		if f == nil {
			t.Fatalf("no flag %s", flagName)
		}
		if n := strings.Count(f.Usage, env); n != 1 {
			t.Errorf("--%s usage %q names %s %d times", flagName, f.Usage, env, n)
		}
	}
	for _, want := range []string{"-batch-size int", "(default 64)", "(default 250ms)", `(default "nats://default:4222")`} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if u := fs.Lookup("no-env").Usage; strings.Contains(u, "env") {
		t.Errorf("--no-env usage %q names a variable", u)
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"batch-size": "FOLIO_BATCH_SIZE", "nats": "FOLIO_NATS", "nats-tls-ca": "FOLIO_NATS_TLS_CA", "v": "FOLIO_V",
	} {
		if got := config.EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRealFile reads a file from disk (the default ReadFile) and keeps an
// existing --config flag of the subcommand.
func TestRealFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "folio.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var s settings
	fs := newFlags("watch", &s)
	b := config.Bind(fs, config.Options{})
	if err := fs.Parse([]string{"-config", path}); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(); err != nil {
		t.Fatal(err)
	}
	if s.Listen != "127.0.0.1:9" || b.ConfigFile() != path {
		t.Errorf("listen %q, config file %q", s.Listen, b.ConfigFile())
	}
}
