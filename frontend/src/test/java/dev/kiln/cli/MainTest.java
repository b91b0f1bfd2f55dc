package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.kiln.runtime.DType;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class MainTest {

    /// What one in-process run of the CLI left behind.
    record Result(int code, String out, String err) {
        List<String> errLines() { return err.lines().toList(); }
    }

    static Result run(String... args) {
        return run(null, args);
    }

    /// Runs the CLI, with `extra` added as a subcommand named `boom` when not null.
    static Result run(Object extra, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true));
        if (extra != null) cl.addSubcommand("boom", extra);
        int code = Main.run(cl, args);
        return new Result(code, out.toString(), err.toString());
    }

    @Test void versionPrintsProjectVersionAndJava() {
        Result r = run("version");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        // The pom's version, passed in by surefire: catches an unfiltered ${project.version}.
        assertEquals("kiln " + System.getProperty("kiln.test.projectVersion"), lines.get(0));
        assertTrue(lines.get(1).startsWith("java " + Runtime.version().feature()), lines.get(1));
        assertEquals("", r.err());
    }

    @Test void versionOptionMatchesVersionCommand() {
        assertEquals(run("version").out(), run("--version").out());
    }

    @Test void classpathNamesTheJarsOfModulesAndDependencies() throws URISyntaxException {
        Result r = run("classpath");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.out().lines().count(), r.out());
        List<String> entries = List.of(r.out().strip().split(File.pathSeparator));
        // Where the JVM actually loaded these classes from must be on the printed path.
        for (Class<?> c : List.of(Main.class, DType.class, CommandLine.class)) {
            String where = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
            assertTrue(entries.contains(where), c + " from " + where + " missing in " + entries);
        }
    }

    @Test void unknownSubcommandIsAUsageError() {
        Result r = run("frobnicate");
        assertEquals(2, r.code());
        assertEquals("", r.out());
        assertEquals(1, r.errLines().size(), r.err());
        // No suggestion: no command is within two edits of 'frobnicate'.
        assertEquals("kiln: error: unknown command 'frobnicate'; see 'kiln --help'", r.errLines().get(0));
    }

    @Test void misspeltSubcommandGetsASuggestion() {
        Result r = run("versoin");
        assertEquals(2, r.code());
        assertEquals(List.of("kiln: error: unknown command 'versoin' (did you mean version?); see 'kiln --help'"),
                r.errLines());
    }

    @Test void misspeltOptionGetsASuggestion() {
        Result r = run("version", "--verbos");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("(did you mean --verbose?); see 'kiln version --help'"), r.err());
    }

    @Test void editDistanceCountsSingleCharacterEdits() {
        assertEquals(0, Main.editDistance("version", "version"));
        assertEquals(3, Main.editDistance("", "abc"));
        assertEquals(3, Main.editDistance("kitten", "sitting"));   // k->s, e->i, +g
        assertEquals(2, Main.editDistance("versoin", "version"));  // a swap is two substitutions
    }

    @Test void unknownOptionIsAUsageError() {
        Result r = run("version", "--frobnicate");
        assertEquals(2, r.code());
        assertEquals(1, r.errLines().size(), r.err());
        assertEquals("kiln: error: unknown option '--frobnicate'; see 'kiln version --help'", r.errLines().get(0));
    }

    @Test void extraArgumentIsAUsageError() {
        Result r = run("version", "extra");
        assertEquals(2, r.code());
        assertEquals(List.of("kiln: error: unexpected argument 'extra'; see 'kiln version --help'"), r.errLines());
    }

    @Test void noSubcommandShowsUsageAndFails() {
        Result r = run();
        assertEquals(2, r.code());
        assertTrue(r.err().contains("Usage: kiln"), r.err());
        assertTrue(r.err().contains("classpath"), r.err());
    }

    @Test void helpListsTheCommands() {
        Result r = run("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("--verbose"), r.out());
        for (String c : List.of("version", "classpath", "ir", "dump"))
            assertTrue(r.out().lines().anyMatch(l -> l.strip().startsWith(c + " ")), c + " in " + r.out());
        Result ir = run("ir", "--help");
        for (String c : List.of("check", "print", "run", "grad"))
            assertTrue(ir.out().lines().anyMatch(l -> l.strip().startsWith(c + " ")), c + " in " + ir.out());
    }

    @Test void irWithoutASubcommandIsAUsageError() {
        Result r = run("ir");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("Usage: kiln ir"), r.err());
    }

    @Test void subcommandHelpSucceeds() {
        Result r = run("classpath", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().startsWith("Usage: kiln classpath"), r.out());
    }

    @Command(name = "boom") static final class Boom implements Runnable {
        final Throwable failure;
        Boom(Throwable failure) { this.failure = failure; }
        @Override public void run() {
            switch (failure) {
                case RuntimeException e -> throw e;
                case Error e -> throw e;
                default -> throw new IllegalStateException(failure);
            }
        }
    }

    @Test void failureIsOneLineWithoutStackTrace() {
        Result r = run(new Boom(new IllegalArgumentException("model.kir:3: bad shape")), "boom");
        assertEquals(1, r.code());
        assertEquals(List.of("kiln: error: model.kir:3: bad shape"), r.errLines());
    }

    @Test void verboseAddsStackTraceAnywhereOnTheLine() {
        for (var args : List.of(List.of("--verbose", "boom"), List.of("boom", "--verbose"))) {
            Result r = run(new Boom(new IllegalArgumentException("bad")), args.toArray(String[]::new));
            assertEquals(1, r.code());
            assertEquals("kiln: error: bad", r.errLines().get(0));
            assertTrue(r.err().contains("\tat dev.kiln.cli.MainTest."), r.err());
        }
    }

    @Test void missingFileNamesTheFile() {
        var missing = new java.io.UncheckedIOException(new NoSuchFileException("nope.kir"));
        Result r = run(new Boom(missing), "boom");
        assertEquals(1, r.code());
        assertEquals(List.of("kiln: error: no such file: nope.kir"), r.errLines());
    }

    @Test void exceptionWithoutMessageNamesItsType() {
        Result r = run(new Boom(new NullPointerException()), "boom");
        assertEquals(1, r.code());
        assertEquals(List.of("kiln: error: java.lang.NullPointerException (rerun with --verbose for details)"),
                r.errLines());
    }

    @Test void stackOverflowIsOneLineWithARemedy() {
        Result r = run(new Boom(new StackOverflowError()), "boom");
        assertEquals(1, r.code());
        assertEquals(1, r.errLines().size(), r.err());
        assertTrue(r.err().startsWith("kiln: error: stack overflow"), r.err());
        assertTrue(r.err().contains("-Xss"), r.err());
    }
}
