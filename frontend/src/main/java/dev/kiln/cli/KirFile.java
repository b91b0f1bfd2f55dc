package dev.kiln.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Verifier;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.ir.kernel.KirParser;
import dev.kiln.ir.text.ParseException;
import dev.kiln.ir.text.Parser;

/// A `.kir` file as the commands read it: its text, parsed and verified into graphs, or, for
/// kernel IR (the text a dump's `NN-kernels.txt` holds, starting with `program`), parsed into
/// a kernel program. `name` is the path as the user wrote it (`-` reads standard input, named
/// `<stdin>`), so that diagnostics point where the user can click. Invariant: either `graphs` is
/// non-empty and every graph in it passed the verifier, or `kernels` is not null; a file that
/// does not get that far throws a `CliException` whose diagnostics list every error, each
/// `file:line:col: error: ...`.
record KirFile(String name, String text, List<Graph> graphs, KernelProgram kernels) {
    /// Larger files are refused before they are read: the parser holds the whole text (two bytes
    /// a character) plus the graph, and no real IR file comes near this.
    static final long MAX_BYTES = 256L << 20;

    KirFile {
        graphs = List.copyOf(graphs);
    }

    /// Reads, parses and verifies `path`; see the class comment for errors.
    static KirFile read(String path) {
        String name = path.equals("-") ? "<stdin>" : path;
        String text = decode(name, path.equals("-") ? readStdin() : readFile(path));
        List<Graph> graphs;
        try {
            if (isKernelIr(text)) return new KirFile(name, text, List.of(), KirParser.parse(text, name));
            graphs = Parser.parseAll(text, name);
        } catch (ParseException e) {
            // The message lists every diagnostic, each with its source line and a caret.
            throw new CliException(summary(name, e.diagnostics().size()), List.of(e.getMessage()));
        } catch (IrError e) { // kernel IR that parses but breaks a rule of KirVerifier: one error, at its kernel's line
            throw new CliException(summary(name, 1), List.of(e.getMessage()));
        }
        if (graphs.isEmpty()) {
            int end = 1 + (int) text.chars().filter(c -> c == '\n').count();
            throw new CliException(summary(name, 1), List.of(name + ":" + end + ":1: error: expected a graph "
                    + "('graph @name(%x: f32[4]) -> (f32[4]) {'), found end of file"));
        }
        List<String> errors = new ArrayList<>();
        for (Graph g : graphs)
            for (IrError e : Verifier.check(g)) errors.add(verifierDiagnostic(name, text, g, e));
        if (!errors.isEmpty()) throw new CliException(summary(name, errors.size()), errors);
        return new KirFile(name, text, graphs, null);
    }

    /// Whether the first word of `text`, past blank lines and `//` comments, is `program`.
    private static boolean isKernelIr(String text) {
        for (String line : text.lines().toList()) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("//")) continue;
            return l.equals("program") || l.startsWith("program ");
        }
        return false;
    }

    /// The one graph a command works on: the graph named `graphName`, or the only one when
    /// `graphName` is null.
    Graph graph(String graphName) {
        if (kernels != null)
            throw new CliException(name + " holds kernel IR (program @" + kernels.name() + "), not graphs; 'kiln ir check' and 'kiln ir print' read it");
        List<String> names = graphs.stream().map(g -> "@" + g.name()).toList();
        if (graphName == null) {
            if (graphs.size() == 1) return graphs.getFirst();
            throw new CliException(name + " holds " + graphs.size() + " graphs (" + String.join(", ", names)
                    + "); choose one with --graph NAME");
        }
        String wanted = graphName.startsWith("@") ? graphName.substring(1) : graphName;
        for (Graph g : graphs) if (g.name().equals(wanted)) return g;
        throw new CliException(name + " has no graph @" + wanted + " (it has " + String.join(", ", names) + ")");
    }

    private static String summary(String name, int errors) {
        return name + ": " + errors + (errors == 1 ? " error" : " errors");
    }

    /// A verifier error as `file:line:col: error: ...`. The parser gives each statement without
    /// an explicit `loc(...)` the location `file:line`, which is used when it names this file;
    /// otherwise (an explicit location pointing elsewhere) the error is placed at the graph's
    /// header line and keeps its own location in the message.
    static String verifierDiagnostic(String name, String text, Graph g, IrError e) {
        String detail = e.detail();
        int line;
        if (e.loc() instanceof Loc.Source(String file, int l, String _) && file.equals(name)) {
            line = l;
        } else {
            line = headerLine(text, g.name());
            if (e.loc().isKnown()) detail = "at " + e.loc() + ": " + detail;
        }
        return name + ":" + line + ":" + column(text, line) + ": error: " + detail;
    }

    /// The 1-based line of `graph @name`, or 1.
    private static int headerLine(String text, String graphName) {
        int at = text.indexOf("graph @" + graphName);
        if (at < 0) return 1;
        int line = 1;
        for (int i = 0; i < at; i++) if (text.charAt(i) == '\n') line++;
        return line;
    }

    /// The 1-based column of the first non-blank character of `line`, or 1.
    private static int column(String text, int line) {
        int start = 0;
        for (int l = 1; l < line && start >= 0; l++) {
            start = text.indexOf('\n', start);
            if (start >= 0) start++;
        }
        if (start < 0) return 1;
        int col = 1;
        while (start + col - 1 < text.length() && (text.charAt(start + col - 1) == ' ' || text.charAt(start + col - 1) == '\t')) col++;
        return col;
    }

    private static byte[] readFile(String path) {
        Path p = Path.of(path);
        try {
            if (Files.isDirectory(p)) throw new CliException(path + ": is a directory, not a .kir file");
            if (!Files.exists(p)) throw new CliException("no such file: " + path);
            long size = Files.size(p);
            if (size > MAX_BYTES)
                throw new CliException(path + ": " + size + " bytes, larger than the " + (MAX_BYTES >> 20) + " MiB an IR file may have");
            return Files.readAllBytes(p);
        } catch (NoSuchFileException e) {
            throw new CliException("no such file: " + path);
        } catch (IOException e) {
            throw new CliException(path + ": cannot read: " + e.getMessage());
        }
    }

    private static byte[] readStdin() {
        try {
            InputStream in = System.in;
            byte[] bytes = in.readNBytes((int) MAX_BYTES + 1);
            if (bytes.length > MAX_BYTES)
                throw new CliException("<stdin>: larger than the " + (MAX_BYTES >> 20) + " MiB an IR file may have");
            return bytes;
        } catch (IOException e) {
            throw new CliException("<stdin>: cannot read: " + e.getMessage());
        }
    }

    /// Strict UTF-8: a file in another encoding is refused with the offset of the first bad byte.
    private static String decode(String name, byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (MalformedInputException e) {
            int at = firstBadByte(bytes);
            throw new CliException(name + ": not UTF-8 text (bad byte at offset " + at + "); IR files are UTF-8");
        } catch (CharacterCodingException e) {
            throw new CliException(name + ": not UTF-8 text; IR files are UTF-8");
        }
    }

    private static int firstBadByte(byte[] bytes) {
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        var out = java.nio.CharBuffer.allocate(bytes.length + 1);
        decoder.decode(in, out, true);
        return in.position();
    }
}
