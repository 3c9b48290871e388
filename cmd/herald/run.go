package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errorLine is how main reports err: one "herald:" in front, whether or
// not the message already names the command ("herald send: …") or
// carries the client library's own prefix ("send: herald: 422 …").
func errorLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), ": herald: ", ": ")
	if strings.HasPrefix(msg, "herald ") || strings.HasPrefix(msg, "herald: ") {
		return msg
	}
	return "herald: " + msg
}

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
  herald apikey create --instance --name NAME
                           print a new instance key (manages every workspace), once
  herald user create --email E [--workspace default]
                           create an owner of a workspace (password on stdin)
  herald user invite --email E --workspace NAME --role owner|admin|viewer
                           print a one-time invitation link
  herald send --type TYPE --data @event.json [--url URL] [--api-key K]
                           send an event to a running herald (--data @- reads stdin)
  herald healthcheck [--addr 127.0.0.1:8080 | --url URL]
                           exit 0 if a running herald's /healthz answers 200, else 1
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
		return helpIsNotAnError(runServe(ctx, rest, getenv, stdout, stderr))
	case "migrate":
		return helpIsNotAnError(runMigrate(ctx, rest, getenv, stdout, stderr))
	case "apikey":
		switch {
		case len(rest) > 0 && isHelp(rest[0]):
			fmt.Fprint(stdout, apikeyUsage)
			return nil
		case len(rest) == 0 || rest[0] != "create":
			fmt.Fprint(stderr, apikeyUsage)
			return usageError{"herald apikey: give a subcommand: herald apikey create --name NAME"}
		}
		return helpIsNotAnError(runAPIKeyCreate(ctx, rest[1:], getenv, stdout, stderr))
	case "user":
		switch {
		case len(rest) > 0 && isHelp(rest[0]):
			fmt.Fprint(stdout, userUsage)
			return nil
		case len(rest) > 0 && rest[0] == "invite":
			return helpIsNotAnError(runUserInvite(ctx, rest[1:], getenv, stdout, stderr))
		case len(rest) == 0 || rest[0] != "create":
			fmt.Fprint(stderr, userUsage)
			return usageError{"herald user: give a subcommand: herald user create --email E (password on stdin), or herald user invite --email E --workspace NAME --role R"}
		}
		return helpIsNotAnError(runUserCreate(ctx, rest[1:], getenv, stdin, stdout, stderr))
	case "bench":
		return helpIsNotAnError(runBench(ctx, rest, getenv, stdout, stderr))
	case "send":
		return helpIsNotAnError(runSend(ctx, rest, getenv, stdin, stdout, stderr))
	case "healthcheck":
		return helpIsNotAnError(runHealthcheck(ctx, rest, getenv, stdout, stderr))
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	if near := herald.Closest(cmd, commands); near != "" {
		return usageError{fmt.Sprintf("unknown command %q — did you mean %q?", cmd, near)}
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// commands are the first words run knows, for "did you mean".
var commands = []string{"serve", "migrate", "apikey", "user", "bench", "send", "healthcheck", "version", "help"}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// helpIsNotAnError: a command's --help printed its flags; that is a
// success (exit 0), not "flag: help requested".
func helpIsNotAnError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

const apikeyUsage = `Usage:
  herald apikey create --name NAME [--workspace default] [--scopes admin]
  herald apikey create --instance --name NAME
      Print a new API key of the workspace, once (only its hash is stored).
      Scopes: admin (everything), read (GET only), ingest (sending events),
      comma-separated. --instance: a key bound to no workspace, for
      /api/v1/workspaces (create, delete, members, minting workspace keys). Run it in the folder where serve runs, or pass the
      same --db and --secret-key-file.

Run 'herald apikey create --help' for every flag.
`

const userUsage = `Usage:
  herald user create --email EMAIL [--workspace default]
      Create an owner of the workspace; the password is read from stdin.
      The first user is also the instance owner (manages every workspace).
  herald user invite --email EMAIL --workspace NAME --role owner|admin|viewer
                     [--public-url https://herald.example.com]
      Print a one-time invitation link (valid 7 days); the person opens it,
      sets a password (or signs in) and joins the workspace.

Run 'herald user create --help' for every flag.
`

// Set at build time: go build -ldflags "-X main.commit=$(git rev-parse
// --short HEAD) -X main.buildDate=$(date -u +%FT%TZ)". Otherwise the
// commit comes from the VCS information Go stamps into the binary.
var commit, buildDate string

// versionLine is herald's version, commit and build date.
func versionLine() string {
	c, date, dirty := commit, buildDate, false
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" && len(s.Value) >= 12 {
					c = s.Value[:12]
				}
			case "vcs.time":
				if date == "" {
					date = s.Value + " (commit time)"
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if c == "" {
		c = "unknown"
	} else if dirty {
		c += " (modified)"
	}
	if date == "" {
		date = "unknown"
	}
	return fmt.Sprintf("herald %s, commit %s, built %s", version, c, date)
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
	if flagName == "allow-network" { // a list: interface.md names it in the plural (the singular works too)
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
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))} // fs.Name() is "herald serve"
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := envName(f.Name)
		v := getenv(env)
		if v == "" && f.Name == "allow-network" {
			env = "HERALD_ALLOW_NETWORK"
			v = getenv(env)
		}
		if v != "" {
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
