package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Verifier;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.text.Parser;
import dev.kiln.ir.text.Printer;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/// Golden tests of the passes: `src/test/resources/ir/<pass>/*.kir`, cases split by `// -----`,
/// each a `// RUN: <pass>[,<pass>..]` line, the input graph, `// EXPECT:` and the exact output
/// (the pass's notes, such as the fusion report, as `//` lines, then the printed graph). Each
/// case also checks that its input prints back as written, that the verifier accepts the output
/// and that the interpreter gives the same results for input and output on random data.
/// `-Dgolden.update=true` rewrites the EXPECT blocks from the actual outputs, for review in the diff.
class GoldenPassTest {
    static final Path ROOT = Path.of(System.getProperty("basedir", "."), "src/test/resources/ir");
    static final boolean UPDATE = Boolean.getBoolean("golden.update");

    /// One case: where it starts (1-based line), the passes, input text, expected text (may be empty).
    record Case(Path file, int line, String run, String input, String expected) {
        String name() { return file.getFileName() + ":" + line; }
    }

    @TestFactory
    Stream<DynamicNode> goldens() throws IOException {
        List<DynamicNode> out = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(ROOT)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                List<DynamicNode> files = new ArrayList<>();
                try (Stream<Path> fs = Files.list(dir)) {
                    for (Path f : fs.filter(p -> p.toString().endsWith(".kir")).sorted().toList()) {
                        List<Case> cases = cases(f);
                        List<String> actual = new ArrayList<>();
                        List<DynamicTest> tests = new ArrayList<>();
                        for (Case c : cases) {
                            tests.add(DynamicTest.dynamicTest(c.name(), () -> {
                                String got = check(c);
                                actual.add(got);
                                if (!UPDATE) assertEquals(c.expected(), got, c.name() + ": output differs (rerun with -Dgolden.update=true to accept)");
                            }));
                        }
                        if (UPDATE) tests.add(DynamicTest.dynamicTest(f.getFileName() + ": update", () -> {
                            assertEquals(cases.size(), actual.size(), "a case failed, file not updated");
                            rewrite(f, cases, actual);
                        }));
                        files.add(DynamicContainer.dynamicContainer(f.getFileName().toString(), tests));
                    }
                }
                out.add(DynamicContainer.dynamicContainer(dir.getFileName().toString(), files));
            }
        }
        return out.stream();
    }

    /// Runs one case and returns its output text.
    static String check(Case c) {
        Graph in = Parser.parse(c.input(), c.file().getFileName().toString());
        assertEquals(c.input(), Printer.print(in), c.name() + ": the input is not in printed form");
        assertEquals(List.of(), Verifier.check(in), c.name() + ": the input does not verify");
        StringBuilder notes = new StringBuilder();
        Graph g = in;
        for (String name : c.run().split(",")) {
            Pass p = PassManager.PASSES.get(name.trim());
            assertNotNull(p, c.name() + ": unknown pass '" + name.trim() + "'");
            Pass.Outcome o = p.runWithNotes(g);
            Verifier.verify(o.graph());
            for (String n : o.notes()) notes.append("// ").append(n).append('\n');
            g = o.graph();
        }
        String printed = Printer.print(g);
        assertEquals(printed, Printer.print(Parser.parse(printed, c.name())), c.name() + ": output does not print back");
        for (long seed = 1; seed <= 3; seed++) {
            List<NdArray> inputs = RandomGraphs.inputs(in, seed);
            String d = GraphCheck.difference(Interpreter.run(in, inputs), Interpreter.run(g, inputs));
            assertNull(d, c.name() + ": interpreter results differ on random inputs (seed " + seed + ")");
        }
        return notes + printed;
    }

    static List<Case> cases(Path f) {
        String[] lines = read(f).split("\n", -1);
        List<Case> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= lines.length; i++) {
            if (i == lines.length || lines[i].strip().equals("// -----")) {
                out.add(parseCase(f, lines, start, i));
                start = i + 1;
            }
        }
        return out;
    }

    private static Case parseCase(Path f, String[] lines, int from, int to) {
        String run = null;
        int runLine = -1, expectLine = -1;
        for (int i = from; i < to; i++) {
            String l = lines[i].strip();
            if (l.startsWith("// RUN:") && run == null) { run = l.substring(7).strip(); runLine = i; }
            else if (l.equals("// EXPECT:")) { expectLine = i; break; }
        }
        String where = f.getFileName() + ":" + (from + 1);
        if (run == null) throw new IllegalStateException(where + ": case without a '// RUN: <pass>' line");
        int end = expectLine < 0 ? to : expectLine;
        String input = join(lines, runLine + 1, end);
        String expected = expectLine < 0 ? "" : join(lines, expectLine + 1, to);
        return new Case(f, from + 1, run, input, expected);
    }

    /// Lines [from, to) as text ending in one newline, blank lines around stripped.
    private static String join(String[] lines, int from, int to) {
        while (from < to && lines[from].isBlank()) from++;
        while (to > from && lines[to - 1].isBlank()) to--;
        StringBuilder s = new StringBuilder();
        for (int i = from; i < to; i++) s.append(lines[i]).append('\n');
        return s.toString();
    }

    private static void rewrite(Path f, List<Case> cases, List<String> actual) throws IOException {
        String[] lines = read(f).split("\n", -1);
        StringBuilder s = new StringBuilder();
        for (int k = 0; k < cases.size(); k++) {
            Case c = cases.get(k);
            int i = c.line() - 1;
            // keep everything up to and including the input, then the new expectation
            while (i < lines.length && !lines[i].strip().equals("// EXPECT:") && !lines[i].strip().equals("// -----")) {
                s.append(lines[i]).append('\n');
                i++;
            }
            if (k > 0 || i > 0) { while (s.length() > 1 && s.charAt(s.length() - 1) == '\n' && s.charAt(s.length() - 2) == '\n') s.setLength(s.length() - 1); }
            s.append("// EXPECT:\n").append(actual.get(k));
            if (k + 1 < cases.size()) s.append("// -----\n");
        }
        dev.kiln.runtime.AtomicFiles.write(f, s.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
