package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"ladle/core/ckpt"
	"ladle/core/recipe"
	"sort"
	"strings"
)

// A command is one `ladle NAME ...` subcommand.
type command struct {
	name    string
	args    string // the synopsis after the name
	summary string
	run     func(ctx *cmdContext, args []string) error
}

// cmdContext carries the streams a command writes to, so tests run commands in-process.
type cmdContext struct {
	stdout, stderr io.Writer
}

// usageError is a mistake in the command line: it is reported with the command's usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// run executes one command line and returns the process exit status: 0 on success,
// 1 on failure, 2 on a usage mistake. Messages go to stderr, results to stdout.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				// The command's own -h knows its flags; commands parse their flags
				// before doing anything, so this runs nothing else.
				err := c.run(&cmdContext{stdout: io.Discard, stderr: io.Discard}, append(args[2:len(args):len(args)], "-h"))
				printCommandHelp(stdout, c, err)
				return 0
			}
		}
		printUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ladle: unknown command %q%s\nRun 'ladle help' for the list of commands.\n", args[0], suggest(args[0]))
		return 2
	}
	err := c.run(&cmdContext{stdout: stdout, stderr: stderr}, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		printCommandHelp(stdout, c, err)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ladle %s: %s\nusage: ladle %s %s\n", c.name, ue.msg, c.name, c.args)
		return 2
	default:
		// Names from files are escaped where they are put into messages; this
		// catches any that were not, so that no error can drive the terminal.
		fmt.Fprintf(stderr, "ladle %s: %s\n", c.name, ckpt.EscapeControls(err.Error()))
		return 1
	}
}

// helpError is flag.ErrHelp with the flags of the command (or subcommand) that was
// asked for help, as flag.PrintDefaults lists them.
type helpError struct{ flags string }

func (e *helpError) Error() string { return flag.ErrHelp.Error() }
func (e *helpError) Unwrap() error { return flag.ErrHelp }

// printCommandHelp prints a command's usage, summary and, when err is a helpError, its
// flags with their defaults.
func printCommandHelp(w io.Writer, c *command, err error) {
	fmt.Fprintf(w, "usage: ladle %s %s\n\n%s\n", c.name, c.args, c.summary)
	var he *helpError
	if errors.As(err, &he) && he.flags != "" {
		fmt.Fprintf(w, "\nflags:\n%s", he.flags)
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Ladle merges neural-network checkpoints: model soups, task arithmetic, TIES, DARE and more.")
	fmt.Fprintln(w, "\nusage: ladle COMMAND [ARGS]\n\ncommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'ladle help COMMAND' for a command's arguments.")
}

// suggest names the closest command, for "did you mean" hints.
func suggest(name string) string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	return recipe.DidYouMean(name, names)
}

// parseFlags parses flags placed anywhere among the positional arguments, so that
// `ladle convert IN -o OUT` and `ladle convert -o OUT IN` mean the same.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				var b strings.Builder
				fs.SetOutput(&b)
				fs.PrintDefaults()
				fs.SetOutput(io.Discard)
				return nil, &helpError{flags: b.String()}
			}
			msg := err.Error()
			if rest, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
				msg = "unknown flag " + rest
			}
			return nil, usagef("%s", msg)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
