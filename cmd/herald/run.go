package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const usage = `herald — a self-hosted webhook service

Usage:
  herald serve   [flags]   run the API (and the admin UI) on --addr
  herald migrate [flags]   apply database migrations and exit
  herald apikey create --name NAME [--workspace default] [--scopes admin]
                           print a new API key, once
  herald user create --email E [--workspace default]
                           create an admin of the web UI (password on stdin)
  herald send --type TYPE --data @event.json [--url URL] [--api-key K]
                           send an event to a running herald (--data @- reads stdin)
  herald bench   [flags]   measure ingest and delivery on this machine
  herald version           print the version

Run 'herald COMMAND --help' for a command's flags. Every flag can also be
set by an environment variable HERALD_<FLAG> (e.g. HERALD_DB, HERALD_ADDR).
`

// run is the whole program; main only supplies the process's context,
// arguments, environment and streams, so tests run the real thing.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "apikey":
		if len(rest) == 0 || rest[0] != "create" {
			return usageError{"usage: herald apikey create --name NAME [--workspace default] [--scopes admin]"}
		}
		return runAPIKeyCreate(ctx, rest[1:], getenv, stdout, stderr)
	case "user":
		if len(rest) == 0 || rest[0] != "create" {
			return usageError{"usage: herald user create --email E [--workspace default] (password on stdin)"}
		}
		return runUserCreate(ctx, rest[1:], getenv, stdin, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, getenv, stdout, stderr)
	case "send":
		return runSend(ctx, rest, getenv, stdin, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "herald %s\n", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// newFlagSet returns a FlagSet whose flags fall back to HERALD_* variables
// (applied by parseFlags for every flag not given on the command line).
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envName is the environment variable of a flag: --secret-key-file is
// HERALD_SECRET_KEY_FILE.
func envName(flagName string) string {
	if flagName == "allow-network" { // a list: interface.md names it in the plural
		return "HERALD_ALLOW_NETWORKS"
	}
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not set on the command
// line from its environment variable. Flags win over the environment.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage = fmt.Sprintf("%s (env %s)", f.Usage, envName(f.Name))
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := envName(f.Name)
		if v := getenv(env); v != "" {
			if _, multi := f.Value.(*listFlag); multi {
				for _, part := range strings.Split(v, ",") {
					if e := f.Value.Set(strings.TrimSpace(part)); e != nil {
						err = usageError{fmt.Sprintf("%s=%q: %v", env, v, e)}
					}
				}
				return
			}
			if e := f.Value.Set(v); e != nil {
				err = usageError{fmt.Sprintf("%s=%q: %v", env, v, e)}
			}
		}
	})
	return err
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
