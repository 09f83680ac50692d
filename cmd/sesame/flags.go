package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/sesame-auth/sesame/config"
)

// errHelp is returned when the user asked for -h; the usage is already
// printed and the exit status is 0.
var errHelp = errors.New("help requested")

// newFlagSet returns a flag set that reports errors instead of exiting,
// so run can map them to exit status 2. Its usage is the synopsis, then
// the flags in curl's style (-u, --user USER), one entry per flag with
// its aliases.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n", usage)
		if hasFlags(fs) {
			fmt.Fprint(stderr, "\nflags:\n")
			printFlags(stderr, fs)
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// flagName writes a flag's name as users type it: -x for one letter,
// --name otherwise.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// printFlags lists fs's flags in curl's style. Flags bound to the same
// variable are aliases and share one entry: "-u, --user USER".
func printFlags(w io.Writer, fs *flag.FlagSet) {
	type entry struct {
		names []string
		f     *flag.Flag
	}
	var entries []*entry
	byTarget := map[string]*entry{}
	fs.VisitAll(func(f *flag.Flag) {
		key := f.Name
		if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
			key = fmt.Sprintf("%T %x", f.Value, v.Pointer())
		}
		if e, ok := byTarget[key]; ok {
			e.names = append(e.names, f.Name)
			if e.f.Usage == "" {
				e.f = f
			}
			return
		}
		e := &entry{names: []string{f.Name}, f: f}
		byTarget[key] = e
		entries = append(entries, e)
	})
	// Sorted by the long name, as a reader looks them up.
	long := func(e *entry) string { return e.names[len(e.names)-1] }
	for _, e := range entries {
		sort.Slice(e.names, func(i, j int) bool {
			if (len(e.names[i]) == 1) != (len(e.names[j]) == 1) {
				return len(e.names[i]) == 1
			}
			return e.names[i] < e.names[j]
		})
	}
	sort.Slice(entries, func(i, j int) bool { return long(entries[i]) < long(entries[j]) })
	for _, e := range entries {
		arg, usage := flag.UnquoteUsage(e.f)
		var names []string
		for _, n := range e.names {
			names = append(names, flagName(n))
		}
		head := strings.Join(names, ", ")
		if len(e.names[0]) > 1 {
			head = "    " + head
		}
		if !isBoolFlag(e.f) {
			if arg == "" || arg == "value" {
				arg = "VALUE"
			}
			if arg == strings.ToLower(arg) {
				arg = strings.ToUpper(arg) // "string" from the flag's type
			}
			head += " " + arg
		}
		if d := e.f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		lines := wrapText(usage, 80-31)
		if len(head) > 26 {
			fmt.Fprintf(w, "  %s\n", head)
		} else if len(lines) > 0 {
			fmt.Fprintf(w, "  %-26s %s\n", head, lines[0])
			lines = lines[1:]
		} else {
			fmt.Fprintf(w, "  %s\n", head)
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %-26s %s\n", "", l)
		}
	}
}

// wrapText breaks s into lines of at most width bytes, at spaces.
func wrapText(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// flagGiven reports whether the flag name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseFlags parses args; flags may follow positional arguments, as users
// of curl and git expect ("sesame token decode TOKEN --json"). Short
// flags may be combined, as in curl: -fsSL, -sSo FILE, -ofile.
//
// A wrong flag gets one line, with the nearest flag's name, not the
// whole usage: the user asks for -h when they want it.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	args = expandShortFlags(fs, args)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, errHelp
			}
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// expandShortFlags turns curl's combined short flags into separate ones:
// -fsSL into -f -s -S -L, and -so FILE / -sofile into -s -o FILE. Only
// when every letter is a flag and the word is not itself one.
func expandShortFlags(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") || strings.HasPrefix(a, "--") || len(a) < 3 || strings.Contains(a, "=") || fs.Lookup(a[1:]) != nil {
			out = append(out, a)
			// The value of a flag that takes one is not a flag.
			if f := lookupArg(fs, a); f != nil && !isBoolFlag(f) && !strings.Contains(a, "=") && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		expanded, needsValue, ok := expandOne(fs, a[1:])
		if !ok {
			out = append(out, a)
			continue
		}
		out = append(out, expanded...)
		if needsValue && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// expandOne expands the letters of one combined word; needsValue when
// its last flag takes the next argument as its value.
func expandOne(fs *flag.FlagSet, letters string) (out []string, needsValue, ok bool) {
	for j := 0; j < len(letters); j++ {
		f := fs.Lookup(letters[j : j+1])
		if f == nil {
			return nil, false, false
		}
		out = append(out, "-"+f.Name)
		if !isBoolFlag(f) {
			if rest := letters[j+1:]; rest != "" {
				return append(out, rest), false, true // -ofile
			}
			return out, true, true
		}
	}
	return out, false, true
}

// lookupArg returns the flag an argument like -x or --name names.
func lookupArg(fs *flag.FlagSet, a string) *flag.Flag {
	if !strings.HasPrefix(a, "-") {
		return nil
	}
	name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	if name == "" {
		return nil
	}
	return fs.Lookup(name)
}

// flagError rewrites the flag package's errors in the users' spelling
// (--name), with a "did you mean" for an unknown flag.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	const undefined = "flag provided but not defined: -"
	if name, ok := strings.CutPrefix(msg, undefined); ok {
		if strings.EqualFold(name, "password") {
			return usagef("there is no --password: a password on the command line shows in ps and in the shell history; " +
				"use --password-env VAR, --password-stdin, or 'sesame login' to store it in the OS keyring")
		}
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		m := fmt.Sprintf("unknown flag %s", flagName(name))
		if s := config.Closest(name, names); s != "" {
			m += fmt.Sprintf("; did you mean %s?", flagName(s))
		}
		return usagef("%s (see %s -h)", m, fs.Name())
	}
	// "flag needs an argument: -user", "invalid value ... for flag -x".
	for _, p := range []string{"argument: -", "flag -", "for -"} {
		if i := strings.Index(msg, p); i >= 0 {
			rest := msg[i+len(p):]
			name, tail, _ := strings.Cut(rest, ":")
			if len(name) > 1 && !strings.ContainsAny(name, " ") {
				msg = msg[:i+len(p)-1] + "--" + name
				if tail != "" {
					msg += ":" + tail
				}
			}
			break
		}
	}
	return usagef("%s", msg)
}
