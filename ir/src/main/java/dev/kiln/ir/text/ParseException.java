package dev.kiln.ir.text;

import java.util.List;

/// A `.kir` text that does not parse. Holds every error the parser found in the file, in order,
/// each at a line and column. The message lists them one per line as a compiler does, each
/// followed by its source line and a caret:
///
/// ```
/// mlp.kir:12:7: error: expected ':' before the result type, found '{'
///   %3 = add %1, %2 {x=1} : f32[4]
///                   ^
/// ```
///
/// Invariant: there is at least one diagnostic.
public final class ParseException extends RuntimeException {
    /// One error: `file`, 1-based `line` and `column` (in characters), and what is wrong.
    public record Diagnostic(String file, int line, int column, String message) {
        /// `file.kir:12:7: error: message`.
        @Override public String toString() { return file + ":" + line + ":" + column + ": error: " + message; }
    }

    private final List<Diagnostic> diagnostics;

    /// `lines.get(i)` is the source line of diagnostic i (null when unknown), shown under it.
    public ParseException(List<Diagnostic> diagnostics, List<String> lines) {
        super(render(diagnostics, lines));
        if (diagnostics.isEmpty()) throw new IllegalArgumentException("a parse error needs a diagnostic");
        this.diagnostics = List.copyOf(diagnostics);
    }

    public List<Diagnostic> diagnostics() { return diagnostics; }

    private static String render(List<Diagnostic> diagnostics, List<String> lines) {
        StringBuilder s = new StringBuilder();
        for (int k = 0; k < diagnostics.size(); k++) {
            Diagnostic d = diagnostics.get(k);
            if (!s.isEmpty()) s.append('\n');
            s.append(d);
            String line = lines.get(k);
            if (line != null && line.length() <= 200 && d.column() <= line.length() + 1) {
                s.append('\n').append(line).append('\n');
                for (int i = 1; i < d.column(); i++) s.append(line.charAt(i - 1) == '\t' ? '\t' : ' ');
                s.append('^');
            }
        }
        return s.toString();
    }
}
