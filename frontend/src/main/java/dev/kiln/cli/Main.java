package dev.kiln.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/// The `kiln` command line. Each subcommand is one class listed in `subcommands` (or in the
/// parent command's list, like `ir`). Invariant: every failure ends as one `kiln: error: ...`
/// line on stderr and a non-zero exit code — 1 for a user or input error, 2 for a usage
/// error — with a stack trace only under `--verbose`.
// scope INHERIT gives every subcommand --help (and --version) too.
@Command(name = "kiln",
        scope = ScopeType.INHERIT,
        mixinStandardHelpOptions = true,
        versionProvider = KilnVersion.class,
        description = "Kiln, an ahead-of-time model compiler for the JVM.",
        subcommands = {VersionCommand.class, ClasspathCommand.class, IrCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

    /// Exit code for a bad input, a missing file, a failed compilation: the user can fix it.
    public static final int EXIT_ERROR = 1;
    /// Exit code for a command line that does not parse (unknown subcommand, bad option).
    public static final int EXIT_USAGE = 2;

    // INHERIT: `kiln ir check --verbose x.kir` works as well as `kiln --verbose ir check x.kir`.
    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print stack traces on errors.")
    boolean verbose;

    @Spec CommandLine.Model.CommandSpec spec;

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
        cl.setParameterExceptionHandler(Main::usageError);
        cl.setExecutionExceptionHandler((ex, failed, parsed) -> userError(ex, err, main.verbose));
        // A parent without children would show an empty command list: hide it until one lands.
        for (CommandLine sub : cl.getSubcommands().values()) {
            if (sub.getCommand() instanceof IrCommand && sub.getSubcommands().isEmpty()) {
                sub.getCommandSpec().usageMessage().hidden(true);
            }
        }
        return cl;
    }

    static int run(CommandLine cl, String... args) {
        PrintWriter err = cl.getErr();
        try {
            return cl.execute(args);
        } catch (StackOverflowError e) {
            boolean verbose = cl.<Main>getCommand().verbose;
            // Errors escape picocli's handler; these two have a remedy the user can apply.
            return report(err, verbose, e, "stack overflow (input nested too deeply?); "
                    + "a larger stack can be given with KILN_JAVA_OPTS=-Xss64m");
        } catch (OutOfMemoryError e) {
            boolean verbose = cl.<Main>getCommand().verbose;
            return report(err, verbose, e, "out of memory; a larger heap can be given with "
                    + "KILN_JAVA_OPTS=-Xmx8g");
        }
    }

    private static int usageError(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        String message = ex.getMessage();
        if (ex instanceof UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            message += " (did you mean " + String.join(" or ", u.getSuggestions()) + "?)";
        }
        err.println("kiln: error: " + message + "; see '" + cl.getCommandSpec().qualifiedName()
                + " --help'");
        err.flush();
        return EXIT_USAGE;
    }

    private static int userError(Exception ex, PrintWriter err, boolean verbose) {
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
            case IOException e when e.getMessage() != null -> e.getMessage();
            case Throwable t when t.getMessage() != null && !t.getMessage().isBlank() -> t.getMessage();
            case Throwable t -> t.getClass().getName() + " (rerun with --verbose for details)";
        };
    }
}
