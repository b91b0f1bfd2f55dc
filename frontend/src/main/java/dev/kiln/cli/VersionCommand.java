package dev.kiln.cli;

import java.io.PrintWriter;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/// `kiln version`: the Kiln version on the first line (`kiln 0.1.0-SNAPSHOT`), the Java
/// running it on the second. Invariant: the first line is stable for scripts to parse.
@Command(name = "version", description = "Print the Kiln version and the Java running it.")
final class VersionCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override public void run() {
        PrintWriter out = spec.commandLine().getOut();
        for (String line : new KilnVersion().getVersion()) out.println(line);
        out.flush();
    }
}
