package dev.kiln.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.concurrent.Callable;

import dev.kiln.ir.IrError;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/// The `kiln` command line. Each subcommand is one class listed in `subcommands` (or in the
/// parent command's list, like `ir`). Invariant: every failure ends as one `kiln: error: ...`
/// line on stderr and a non-zero exit code — 1 for a user or input error, 2 for a usage
/// error — with a stack trace only under `--verbose`. Compiler-style diagnostics of a bad
/// input file (`file:line:col: error: ...`) come before that line.
@Command(name = "kiln",
        scope = ScopeType.INHERIT,              // every subcommand gets --help and --version too
        mixinStandardHelpOptions = true,
        versionProvider = KilnVersion.class,
        description = "Kiln, an ahead-of-time model compiler for the JVM.",
        subcommands = {VersionCommand.class, ClasspathCommand.class, IrCommand.class, DumpCommand.class,
                CompileCommand.class, RunCommand.class, BenchCommand.class, DemoCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer>,
        CommandLine.IParameterExceptionHandler, CommandLine.IExecutionExceptionHandler {

    /// Exit code for a bad input, a missing file, a failed compilation: the user can fix it.
    public static final int EXIT_ERROR = 1;
    /// Exit code for a command line that does not parse (unknown subcommand, bad option).
    public static final int EXIT_USAGE = 2;

    // INHERIT: `kiln ir check --verbose x.kir` works as well as `kiln --verbose ir check x.kir`.
    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print stack traces on errors.")
    boolean verbose;

    @Spec CommandSpec spec;

    /// `kiln` alone: show what there is to run, as a usage error.
    @Override public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return EXIT_USAGE;
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int code = run(out, err, args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /// Runs the CLI in-process, writing to `out` and `err`; returns the exit code.
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return run(commandLine(out, err), args);
    }

    /// The configured command tree, so a test can add a command before running it.
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        Main main = new Main();
        CommandLine cl = new CommandLine(main);
        cl.setOut(out);
        cl.setErr(err);
        // Main handles both kinds of failure itself (no lambdas: they cost start-up time).
        cl.setParameterExceptionHandler(main);
        cl.setExecutionExceptionHandler(main);
        return cl;
    }

    static int run(CommandLine cl, String... args) {
        PrintWriter err = cl.getErr();
        try {
            return cl.execute(args);
        } catch (StackOverflowError e) {
            // Errors escape picocli's handler; these two have a remedy the user can apply.
            boolean verbose = cl.<Main>getCommand().verbose;
            return report(err, verbose, e, "stack overflow (input nested too deeply?); "
                    + "a larger stack can be given with KILN_JAVA_OPTS=-Xss64m");
        } catch (OutOfMemoryError e) {
            boolean verbose = cl.<Main>getCommand().verbose;
            return report(err, verbose, e, "out of memory; a larger heap can be given with "
                    + "KILN_JAVA_OPTS=-Xmx8g");
        }
    }

    // Both handlers write to the root command's stream: a subcommand added after setErr (as
    // tests do) would have its own.

    /// A command line that does not parse: one line, exit code 2.
    @Override public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        // picocli's messages start upper-case, ours lower-case (like the rest of `kiln: error:`).
        String message = ex.getMessage().isEmpty() ? "bad command line"
                : Character.toLowerCase(ex.getMessage().charAt(0)) + ex.getMessage().substring(1);
        if (ex instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            String arg = u.getUnmatched().getFirst();
            message = arg.startsWith("-") ? "unknown option '" + arg + "'"
                    : cl.getSubcommands().isEmpty() ? "unexpected argument '" + arg + "'"
                    : "unknown command '" + arg + "'";
            // picocli suggests loosely ('frobnicate' -> classpath); keep only near misses.
            List<String> near = u.getSuggestions().stream()
                    .filter(s -> editDistance(s.replaceFirst("^-+", ""), arg.replaceFirst("^-+", "")) <= 2)
                    .toList();
            if (!near.isEmpty()) message += " (did you mean " + String.join(" or ", near) + "?)";
        }
        PrintWriter err = spec.commandLine().getErr();
        err.println("kiln: error: " + message + "; see '" + cl.getCommandSpec().qualifiedName()
                + " --help'");
        err.flush();
        return EXIT_USAGE;
    }

    /// Levenshtein distance: insertions, deletions and substitutions to turn `a` into `b`.
    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(substitute, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }

    /// A command that failed: one line (plus the stack trace under --verbose), exit code 1.
    @Override public int handleExecutionException(Exception ex, CommandLine failed,
                                                  CommandLine.ParseResult parsed) {
        PrintWriter err = spec.commandLine().getErr();
        if (ex instanceof CliException c) for (String d : c.diagnostics()) err.println(d);
        return report(err, verbose, ex, describe(ex));
    }

    private static int report(PrintWriter err, boolean verbose, Throwable ex, String message) {
        err.println("kiln: error: " + message);
        if (verbose) ex.printStackTrace(err);
        err.flush();
        return EXIT_ERROR;
    }

    /// One line for the user. File errors name the file; anything else shows its message, or
    /// its type when it has none (then it is likely a bug in Kiln, and --verbose shows where).
    static String describe(Throwable ex) {
        if (ex instanceof UncheckedIOException u) ex = u.getCause();
        return switch (ex) {
            case NoSuchFileException e -> "no such file: " + e.getFile();
            case AccessDeniedException e -> "permission denied: " + e.getFile();
            // `mlp.kir:10: error: 'matmul' ...` would read "error" twice after "kiln: error:".
            case IrError e when e.loc().isKnown() -> e.loc() + ": " + e.detail();
            case Throwable t when t.getMessage() != null && !t.getMessage().isBlank() -> t.getMessage();
            case Throwable t -> t.getClass().getName() + " (rerun with --verbose for details)";
        };
    }
}
