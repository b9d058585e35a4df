// Package config gives every flag of a command an environment variable and a
// place in an optional YAML config file, generically over a [flag.FlagSet]:
// a subcommand declares its flags as usual, then binds them with
//
//	b := config.Bind(fs, config.Options{LookupEnv: os.LookupEnv})   // before fs.Parse
//	... fs.Parse(args) ...
//	if err := b.Apply(); err != nil { ... }                          // after
//
// so a flag added later (by any package that registers flags on the set) gets
// its variable and its file key with no further code.
//
// # Precedence
//
// For each flag: the command line, else the environment variable, else the
// config file (the subcommand's section, then the top level), else the
// flag's default. An environment variable set to the empty string counts as
// unset.
//
// # Environment variables
//
// [EnvName] maps a flag to its variable: [Prefix] plus the name in upper case
// with '-' turned into '_' (--batch-size → FOLIO_BATCH_SIZE). Options.Env
// overrides the name of some flags (e.g. --nats → FOLIO_NATS_URL) or, with
// "", gives a flag no variable. Bind appends "(env NAME)" to each flag's
// usage, unless the usage already names it, so `--help` (flag's
// PrintDefaults) lists every flag with its variable and its default.
//
// # Config file
//
// --config FILE, or the variable FOLIO_CONFIG, names a YAML file: a mapping of
// flag names to values, shared by every subcommand that has the flag, and
// sections named after subcommands whose keys apply to that subcommand only
// and override the shared ones:
//
//	nats: nats://nats-1:4222,nats://nats-2:4222
//	log-format: json
//	run:
//	  listen: 0.0.0.0:8080
//	  backoff: [30s, 1m, 2m]    # a list is joined with commas
//	  stream-partitioned: true
//
// A key of the subcommand's own section that is not one of its flags is an
// error (a typo must not pass silently); a shared key that the subcommand
// does not have is ignored (it is another subcommand's). Values are taken as
// written (1m stays "1m") and go through the flag's own parser, so a bad
// value fails exactly like on the command line, naming the file and key.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Prefix starts every environment variable.
const Prefix = "FOLIO_"

// FlagConfig is the flag naming the config file; EnvConfig its variable.
const (
	FlagConfig = "config"
	EnvConfig  = Prefix + "CONFIG"
)

// Errors.
var (
	// ErrFile: the config file cannot be read or is not the expected YAML.
	ErrFile = errors.New("config: bad config file")
	// ErrUnknownKey: a key of the subcommand's section is not one of its
	// flags.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrValue: a value from the environment or the file is refused by the
	// flag.
	ErrValue = errors.New("config: bad value")
)

// Options configure a binding.
type Options struct {
	// Section is this flag set's section of the config file; "" means
	// fs.Name().
	Section string
	// Env overrides the variable of some flags (flag name → variable); an
	// empty variable means the flag has none.
	Env map[string]string
	// LookupEnv reads the environment (os.LookupEnv); nil means no
	// environment at all.
	LookupEnv func(string) (string, bool)
	// ReadFile reads the config file; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// EnvName is the default variable of a flag: Prefix + NAME with '-' → '_'.
func EnvName(flagName string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Source says where a flag's value came from.
type Source string

// Sources.
const (
	SourceDefault Source = "default"
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceFile    Source = "file"
)

// Binding is a flag set bound to the environment and a config file.
type Binding struct {
	fs      *flag.FlagSet
	opts    Options
	path    string // --config, when Bind declared it
	file    string // the file Apply read
	sources map[string]Source
}

// Bind prepares fs: it adds --config (unless fs has it) and annotates every
// flag's usage with its variable. Call it after the flags are declared and
// before fs.Parse, then call Apply after fs.Parse.
func Bind(fs *flag.FlagSet, opts Options) *Binding {
	if opts.Section == "" {
		opts.Section = fs.Name()
	}
	b := &Binding{fs: fs, opts: opts, sources: map[string]Source{}}
	if fs.Lookup(FlagConfig) == nil {
		fs.StringVar(&b.path, FlagConfig, "", "read flag values from this YAML file (keys are flag names; a section per subcommand)")
	}
	fs.VisitAll(func(f *flag.Flag) {
		env := b.Env(f.Name)
		if env != "" && !strings.Contains(f.Usage, env) {
			f.Usage += " (env " + env + ")"
		}
	})
	return b
}

// Env returns the variable of the flag name ("" when it has none).
func (b *Binding) Env(name string) string {
	if name == FlagConfig {
		return EnvConfig
	}
	if v, ok := b.opts.Env[name]; ok {
		return v
	}
	return EnvName(name)
}

func (b *Binding) lookup(key string) (string, bool) {
	if b.opts.LookupEnv == nil || key == "" {
		return "", false
	}
	v, ok := b.opts.LookupEnv(key)
	return v, ok && v != ""
}

// Apply sets every flag not given on the command line from its variable or
// the config file. Call it once, after fs.Parse.
func (b *Binding) Apply() error {
	set := map[string]bool{}
	b.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	path := ""
	if f := b.fs.Lookup(FlagConfig); f != nil {
		path = f.Value.String()
	}
	pathSource := SourceFlag
	if !set[FlagConfig] {
		pathSource = SourceDefault
		if v, ok := b.lookup(EnvConfig); ok {
			path, pathSource = v, SourceEnv
		}
	}
	file, err := b.readFile(path)
	if err != nil {
		return err
	}
	b.file = path
	var errs []error
	b.fs.VisitAll(func(f *flag.Flag) {
		switch {
		case f.Name == FlagConfig:
			b.sources[f.Name] = pathSource
			return
		case set[f.Name]:
			b.sources[f.Name] = SourceFlag
			return
		}
		if env := b.Env(f.Name); env != "" {
			if v, ok := b.lookup(env); ok {
				if err := b.fs.Set(f.Name, v); err != nil {
					errs = append(errs, fmt.Errorf("%w: %s=%q (for --%s): %w", ErrValue, env, v, f.Name, err))
				}
				b.sources[f.Name] = SourceEnv
				return
			}
		}
		if v, ok := file.value(f.Name); ok {
			if err := b.fs.Set(f.Name, v.value); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %s: %q (for --%s): %w", ErrValue, path, v.where, v.value, f.Name, err))
			}
			b.sources[f.Name] = SourceFile
			return
		}
		b.sources[f.Name] = SourceDefault
	})
	for _, key := range file.sectionKeys {
		if b.fs.Lookup(key) == nil || key == FlagConfig {
			errs = append(errs, fmt.Errorf("%w: %s: %s.%s is not a flag of %s (flags: %s)", ErrUnknownKey, path,
				b.opts.Section, key, b.opts.Section, strings.Join(b.flagNames(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// Source reports where the flag's value came from (after Apply).
func (b *Binding) Source(name string) Source {
	if s, ok := b.sources[name]; ok {
		return s
	}
	return SourceDefault
}

// ConfigFile is the config file Apply read ("" when none).
func (b *Binding) ConfigFile() string { return b.file }

func (b *Binding) flagNames() []string {
	var names []string
	b.fs.VisitAll(func(f *flag.Flag) {
		if f.Name != FlagConfig {
			names = append(names, f.Name)
		}
	})
	return names
}

// fileValue is one value of the config file and where it was.
type fileValue struct {
	value string
	where string // "key" or "section.key", with the line
}

// parsedFile is the part of a config file that concerns one section.
type parsedFile struct {
	shared      map[string]fileValue
	section     map[string]fileValue
	sectionKeys []string // in file order, for the unknown-key check
}

func (f parsedFile) value(name string) (fileValue, bool) {
	if v, ok := f.section[name]; ok {
		return v, true
	}
	v, ok := f.shared[name]
	return v, ok
}

func (b *Binding) readFile(path string) (parsedFile, error) {
	if path == "" {
		return parsedFile{}, nil
	}
	read := b.opts.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(path)
	if err != nil {
		return parsedFile{}, fmt.Errorf("%w: %w", ErrFile, err)
	}
	return parseFile(path, data, b.opts.Section)
}

// parseFile reads the shared keys and the keys of section from a config
// file.
func parseFile(path string, data []byte, section string) (parsedFile, error) {
	out := parsedFile{shared: map[string]fileValue{}, section: map[string]fileValue{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return out, fmt.Errorf("%w: %s: %w", ErrFile, path, err)
	}
	if len(doc.Content) == 0 {
		return out, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return out, fmt.Errorf("%w: %s: line %d: want a mapping of flag names to values", ErrFile, path, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind == yaml.MappingNode {
			if k.Value != section {
				continue // another subcommand's section
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				sk, sv := v.Content[j], v.Content[j+1]
				val, err := scalar(path, sv)
				if err != nil {
					return out, err
				}
				if slices.Contains(out.sectionKeys, sk.Value) {
					return out, fmt.Errorf("%w: %s: line %d: %s.%s given twice", ErrFile, path, sk.Line, section, sk.Value)
				}
				out.sectionKeys = append(out.sectionKeys, sk.Value)
				out.section[sk.Value] = fileValue{value: val, where: fmt.Sprintf("line %d: %s.%s", sk.Line, section, sk.Value)}
			}
			continue
		}
		val, err := scalar(path, v)
		if err != nil {
			return out, err
		}
		if _, dup := out.shared[k.Value]; dup {
			return out, fmt.Errorf("%w: %s: line %d: %s given twice", ErrFile, path, k.Line, k.Value)
		}
		out.shared[k.Value] = fileValue{value: val, where: fmt.Sprintf("line %d: %s", k.Line, k.Value)}
	}
	return out, nil
}

// scalar returns a value as the flag will parse it: a scalar as written, a
// list of scalars joined by commas.
func scalar(path string, n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("%w: %s: line %d: a list may only hold plain values", ErrFile, path, c.Line)
			}
			parts = append(parts, c.Value)
		}
		return strings.Join(parts, ","), nil
	case yaml.AliasNode:
		return scalar(path, n.Alias)
	}
	return "", fmt.Errorf("%w: %s: line %d: want a value or a list of values", ErrFile, path, n.Line)
}
