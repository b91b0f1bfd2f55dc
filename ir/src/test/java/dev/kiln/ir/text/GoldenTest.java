package dev.kiln.ir.text;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;
import dev.kiln.ir.Verifier;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/// Golden round trips: every case under `ir/ops` parses, verifies and prints back to exactly its
/// own text; every case under `ir/locations` does so with locations printed.
class GoldenTest {
    @TestFactory
    Stream<DynamicTest> opsPrintBackExactly() {
        return KirFiles.allCases("ir/ops").stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            Graph g = Parser.parse(c.text(), c.file());
            assertEquals(java.util.List.of(), Verifier.check(g), "verifier errors");
            String printed = Printer.print(g);
            assertEquals(c.canonical(), printed);
            assertEquals(printed, Printer.print(Parser.parse(printed, c.file())), "second round trip");
        }));
    }

    @TestFactory
    Stream<DynamicTest> locationsPrintBackExactly() {
        return KirFiles.allCases("ir/locations").stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            Graph g = Parser.parse(c.text(), c.file());
            assertEquals(java.util.List.of(), Verifier.check(g), "verifier errors");
            String printed = Printer.print(g, true);
            assertEquals(c.canonical(), printed);
            // without locations the same graph prints as its location-free text, which parses too
            String plain = Printer.print(g);
            assertEquals(plain, Printer.print(Parser.parse(plain, c.file())));
        }));
    }

    /// Adding an op to Op.java without a golden case fails here.
    @Test
    void everyOpHasAGoldenCase() {
        Set<String> seen = new TreeSet<>();
        for (KirFiles.Case c : KirFiles.allCases("ir/ops")) collect(Parser.parse(c.text(), c.file()), seen);
        Set<String> missing = new TreeSet<>();
        for (Ops.Info info : Ops.all()) if (!seen.contains(info.mnemonic())) missing.add(info.mnemonic());
        assertTrue(missing.isEmpty(), "ops without a golden case in ir/ops: " + missing);
        assertTrue(seen.contains("param") && seen.contains("fused"));
    }

    private static void collect(Graph g, Set<String> seen) {
        for (Value p : g.params()) seen.add(Ops.mnemonic(p.op()));
        for (Value v : g.body()) {
            seen.add(Ops.mnemonic(v.op()));
            if (v.op() instanceof Op.Fused f) collect(f.body(), seen);
        }
    }
}
