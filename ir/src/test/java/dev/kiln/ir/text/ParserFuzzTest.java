package dev.kiln.ir.text;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Verifier;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/// The parser on hostile text: mutated golden files and random bytes (fixed seed) either parse
/// into a valid graph that prints back stably, or fail with a `ParseException` that has
/// diagnostics; never another exception, never a hang; big garbage fails fast.
class ParserFuzzTest {
    private static final String ALPHABET = "%@{}[]():,=\"\\/ \n\t-.0123456789eEabcfgilnrtuxyBN_\u00e9\u0000\u2028";

    @Test
    void mutatedTextsFailCleanlyOrRoundTrip() {
        List<String> seeds = new ArrayList<>();
        for (String folder : List.of("ir/ops", "ir/locations", "ir/errors"))
            for (KirFiles.Case c : KirFiles.allCases(folder)) seeds.add(c.text());
        List<String> tokens = new ArrayList<>();
        for (String s : seeds) tokens.addAll(tokens(s));
        Random r = new Random(0x6b696c6eL);
        int parsed = 0;
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            int ok = 0;
            for (int i = 0; i < 5000; i++) {
                String text = seeds.get(r.nextInt(seeds.size()));
                int edits = 1 + r.nextInt(4);
                for (int e = 0; e < edits; e++) text = mutate(r, text, tokens);
                ok += check(text, "mutation #" + i) ? 1 : 0;
            }
            for (int i = 0; i < 300; i++) {
                byte[] bytes = new byte[r.nextInt(2000)];
                r.nextBytes(bytes);
                check(new String(bytes, i % 2 == 0 ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8), "random bytes #" + i);
            }
            // most mutations break the text, but some must survive, or the round-trip checks never ran
            assertTrue(ok > 100, "only " + ok + " mutated texts parsed");
        });
    }

    /// Parses `text`; returns whether it parsed. A parsed graph must verify and print back stably.
    private static boolean check(String text, String what) {
        List<Graph> graphs;
        try {
            graphs = Parser.parseAll(text, "fuzz.kir");
        } catch (ParseException e) {
            assertFalse(e.diagnostics().isEmpty());
            assertFalse(e.getMessage().isBlank());
            return false;
        } catch (Throwable t) {
            fail(what + " threw " + t + " on:\n" + text, t);
            return false;
        }
        for (Graph g : graphs) {
            try {
                assertEquals(List.of(), Verifier.check(g), what + ": a parsed graph must verify");
                String printed = Printer.print(g);
                assertEquals(printed, Printer.print(Parser.parse(printed, "again.kir")), what + ": unstable print");
                String located = Printer.print(g, true);
                assertEquals(located, Printer.print(Parser.parse(located, "again.kir"), true), what + ": unstable print with locations");
            } catch (ParseException e) {
                fail(what + ": the printout does not parse:\n" + e.getMessage() + "\nprinted from:\n" + text);
            }
        }
        return true;
    }

    private static String mutate(Random r, String s, List<String> tokens) {
        if (s.isEmpty()) return tokens.get(r.nextInt(tokens.size()));
        int at = r.nextInt(s.length());
        return switch (r.nextInt(10)) {
            case 0 -> s.substring(0, at) + s.substring(at + 1);                                   // delete a char
            case 1 -> s.substring(0, at) + ALPHABET.charAt(r.nextInt(ALPHABET.length())) + s.substring(at);
            case 2 -> at + 1 < s.length() ? s.substring(0, at) + s.charAt(at + 1) + s.charAt(at) + s.substring(at + 2) : s;
            case 3 -> s.substring(0, at);                                                          // truncate
            case 4 -> { // duplicate a line
                int start = s.lastIndexOf('\n', at) + 1, end = s.indexOf('\n', at);
                end = end < 0 ? s.length() : end + 1;
                yield s.substring(0, end) + s.substring(start, end) + s.substring(end);
            }
            case 5 -> { // delete a line
                int start = s.lastIndexOf('\n', at) + 1, end = s.indexOf('\n', at);
                yield s.substring(0, start) + (end < 0 ? "" : s.substring(end + 1));
            }
            default -> mutateTokens(r, s, tokens);
        };
    }

    /// Names (with a leading `%` or `@`), runs of blanks, and single other characters.
    private static List<String> tokens(String s) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            int j = i + 1;
            char c = s.charAt(i);
            if (c == '%' || c == '@' || Printer.isNameChar(c)) while (j < s.length() && Printer.isNameChar(s.charAt(j))) j++;
            else if (c == ' ') while (j < s.length() && s.charAt(j) == ' ') j++;
            out.add(s.substring(i, j));
            i = j;
        }
        return out;
    }

    private static String mutateTokens(Random r, String s, List<String> pool) {
        List<String> t = tokens(s);
        int i = r.nextInt(t.size());
        switch (r.nextInt(5)) {
            case 0 -> t.remove(i);
            case 1 -> t.add(i, pool.get(r.nextInt(pool.size())));
            case 2 -> {
                int j = r.nextInt(t.size());
                String x = t.get(i);
                t.set(i, t.get(j));
                t.set(j, x);
            }
            case 3 -> t.set(i, pool.get(r.nextInt(pool.size())));
            default -> t.set(i, List.of("-1", "0", "99999999999999999999", "2147483648", "1e400", "nan", "-inf", "B").get(r.nextInt(8)));
        }
        return String.join("", t);
    }

    // ---- big hostile inputs ----------------------------------------------------------------

    private static void failsFast(String text) {
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            ParseException e = assertThrows(ParseException.class, () -> Parser.parseAll(text, "big.kir"));
            assertFalse(e.diagnostics().isEmpty());
            assertTrue(e.diagnostics().size() <= 101);
        });
    }

    @Test
    void tenMegabytesOfRandomBytesFailFast() {
        byte[] bytes = new byte[10 << 20];
        new Random(7).nextBytes(bytes);
        failsFast(new String(bytes, StandardCharsets.ISO_8859_1));
    }

    @Test
    void tenMegabytesOfRepeatedFragmentsFailFast() {
        for (String fragment : List.of("graph ", "graph @g(", "%0 = add %x, %x : f32[4]\n", "{", "[", "\"", "loc(", "(%a: f32[4]):\n"))
            failsFast("graph @g(%x: f32[4]) -> (f32[4]) {\n" + fragment.repeat((10 << 20) / fragment.length()));
    }

    @Test
    void hugeTokensFailFast() {
        String head = "graph @g(%x: f32[4]) -> (f32[4]) {\n  %0 = const {value=";
        failsFast(head + "9".repeat(10 << 20) + "} : f32[]\n  return %x\n}\n");
        failsFast(head + "1.5} : f32[" + "1,".repeat(3 << 20) + "-1]\n  return %x\n}\n");
        failsFast("graph @g(%" + "x".repeat(10 << 20) + ": f32[]) -> () {\n  retur\n}\n");
        failsFast(head + "1.0} : f32[] loc(" + "grad(".repeat(1 << 20) + "A:1" + ")".repeat(1 << 20) + ")\n  return %x\n}\n");
    }

    @Test
    void deeplyNestedRegionsFailFast() {
        StringBuilder s = new StringBuilder("graph @g(%x: f32[]) -> (f32[]) {\n");
        for (int i = 0; i < 10_000; i++) s.append("%").append(i).append(" = fused %x {kernel=\"k\"} : f32[] {\n(%x: f32[]):\n");
        failsFast(s.toString());
    }

    /// Linear work: a quadratic step would take minutes here. The limit is loose because the
    /// build machine is shared.
    @Test
    void largeValidInputsParseQuickly() {
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            int n = 1 << 19;
            StringBuilder dense = new StringBuilder("graph @big() -> (f32[" + n + "]) {\n  %0 = dense {data=[");
            for (int i = 0; i < n; i++) dense.append(i == 0 ? "" : ",").append(i % 7).append(".5");
            dense.append("]} : f32[").append(n).append("]\n  return %0\n}\n");
            Graph g = Parser.parse(dense.toString(), "big.kir");
            assertEquals(dense.toString(), Printer.print(g));

            StringBuilder params = new StringBuilder("graph @many(");
            for (int i = 0; i < 50_000; i++) params.append(i == 0 ? "" : ", ").append("%p").append(i).append(": f32[2]");
            params.append(") -> (f32[2]) {\n");
            for (int i = 0; i < 50_000; i++) params.append("  %").append(i).append(" = add %").append(i == 0 ? "p0" : String.valueOf(i - 1)).append(", %p").append(i).append(" : f32[2]\n");
            params.append("  return %49999\n}\n");
            Graph many = Parser.parse(params.toString(), "many.kir");
            assertEquals(50_000, many.params().size());
            assertEquals(50_000, many.body().size());
        });
    }
}
