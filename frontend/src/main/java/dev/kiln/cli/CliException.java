package dev.kiln.cli;

import java.util.List;

/// A failure a command reports to the user: `message` becomes the final `kiln: error: ...`
/// line, and `diagnostics` (compiler-style `file:line:col: error: ...` blocks, possibly several
/// lines each) are printed to stderr before it, in order. Invariant: the message is one line.
final class CliException extends RuntimeException {
    private final List<String> diagnostics;

    CliException(String message) { this(message, List.of()); }

    CliException(String message, List<String> diagnostics) {
        super(message, null, false, false);
        this.diagnostics = List.copyOf(diagnostics);
    }

    List<String> diagnostics() { return diagnostics; }
}
