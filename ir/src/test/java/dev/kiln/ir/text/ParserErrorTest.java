package dev.kiln.ir.text;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/// Diagnostics tests in the style of MLIR's `-verify-diagnostics`: in `ir/errors/*.kir`, a comment
/// `// expected-error@+N:COL {{text}}` says that the parser reports an error N lines below (`@-N`
/// above; no `@` for the comment's own line), at column COL when given, whose message contains
/// `text`. The parser must report exactly the expected errors of each case, no more.
class ParserErrorTest {
    private static final Pattern EXPECTED =
            Pattern.compile("expected-error(?:@([+-]\\d+))?(?::(\\d+))?\\s*\\{\\{(.*?)}}");

    record Expected(int line, Integer column, String text) {
        boolean matches(ParseException.Diagnostic d) {
            return d.line() == line && (column == null || d.column() == column) && d.message().contains(text);
        }

        @Override public String toString() { return line + (column == null ? "" : ":" + column) + " {{" + text + "}}"; }
    }

    static List<Expected> expectations(String text) {
        List<Expected> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            Matcher m = EXPECTED.matcher(lines[i]);
            while (m.find()) {
                int offset = m.group(1) == null ? 0 : Integer.parseInt(m.group(1));
                out.add(new Expected(i + 1 + offset, m.group(2) == null ? null : Integer.parseInt(m.group(2)), m.group(3)));
            }
        }
        return out;
    }

    @TestFactory
    Stream<DynamicTest> errorsAreReportedWhereExpected() {
        return KirFiles.allCases("ir/errors").stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            List<Expected> expected = expectations(c.text());
            assertTrue(!expected.isEmpty(), "a case in ir/errors without expected-error comments");
            ParseException e = assertThrows(ParseException.class, () -> Parser.parseAll(c.text(), c.file()));
            List<ParseException.Diagnostic> unmatched = new ArrayList<>(e.diagnostics());
            List<Expected> missing = new ArrayList<>();
            for (Expected x : expected) {
                var hit = unmatched.stream().filter(x::matches).findFirst();
                if (hit.isPresent()) unmatched.remove(hit.get());
                else missing.add(x);
            }
            if (!missing.isEmpty() || !unmatched.isEmpty())
                fail("case at " + c.name() + " (lines relative to the case):\n  missing: " + missing
                        + "\n  unexpected: " + unmatched.stream().map(ParseException.Diagnostic::toString).toList());
        }));
    }

    @Test
    void messageShowsTheLineAndACaret() {
        String text = "graph @g(%x: f32[4]) -> (f32[4]) {\n  %0 = neg %x f32[4]\n  return %0\n}\n";
        ParseException e = assertThrows(ParseException.class, () -> Parser.parse(text, "g.kir"));
        assertEquals("""
                g.kir:2:15: error: expected ':' before the result type, found 'f32'
                  %0 = neg %x f32[4]
                              ^""", e.getMessage());
    }

    @Test
    void everyErrorIsReportedNotOnlyTheFirst() {
        String text = """
                graph @g(%x: f32[4]) -> (f32[4]) {
                  %0 = rleu %x : f32[4]
                  %1 = add %0, %undefined : f32[4]
                  %2 = add %0, %1 : f32[9]
                  return %2
                }
                """;
        ParseException e = assertThrows(ParseException.class, () -> Parser.parse(text, "g.kir"));
        assertEquals(List.of(
                "g.kir:2:8: error: unknown op 'rleu' (did you mean 'relu'?)",
                "g.kir:3:16: error: %undefined is not defined",
                "g.kir:4:21: error: 'add' gives type f32[4], but f32[9] is declared",
                "g.kir:5:10: error: result #0 %2 has type f32[9], but the header declares f32[4]"),
                e.diagnostics().stream().map(ParseException.Diagnostic::toString).toList());
    }

    @Test
    void parseWantsExactlyOneGraph() {
        ParseException none = assertThrows(ParseException.class, () -> Parser.parse("// nothing\n", "e.kir"));
        assertEquals("e.kir:2:1: error: expected a graph, found end of file", none.diagnostics().getFirst().toString());
        String two = "graph @a() -> () {\n  return\n}\ngraph @b() -> () {\n  return\n}\n";
        ParseException many = assertThrows(ParseException.class, () -> Parser.parse(two, "t.kir"));
        assertEquals("t.kir:4:1: error: expected one graph in the file, found 2", many.diagnostics().getFirst().toString());
        assertEquals(2, Parser.parseAll(two, "t.kir").size());
    }

    @Test
    void tooManyErrorsStop() {
        StringBuilder s = new StringBuilder("graph @g(%x: f32[4]) -> (f32[4]) {\n");
        for (int i = 0; i < 500; i++) s.append("  %").append(i).append(" = bad %x : f32[4]\n");
        s.append("  return %x\n}\n");
        ParseException e = assertThrows(ParseException.class, () -> Parser.parse(s.toString(), "many.kir"));
        assertEquals(101, e.diagnostics().size());
        assertTrue(e.diagnostics().getLast().message().startsWith("too many errors"));
    }
}
