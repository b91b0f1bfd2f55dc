package dev.kiln.ir.text;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.DenseData;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/// The printer on graphs made with a Builder (the golden files cover parsed ones).
class PrinterTest {
    /// The forward pass of DESIGN.md's sketch, built as the tracer would. Its header is longer
    /// than 100 characters, so it prints one parameter per line.
    private static Graph forward() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 784)), w = b.param("layer.0.weight", f32(128, 784)), bias = b.param("layer.0.bias", f32(128));
        Value h;
        try (var _ = b.at(Loc.of("SimpleNet.java", 14, "layer.0"))) {
            Value t = b.transpose(w, Axes.of(1, 0));
            h = b.add(b.matmul(x, t), b.broadcast(bias, Axes.of(1), f32("B", 128)));
        }
        try (var _ = b.at(Loc.of("SimpleNet.java", 15, "layer.1"))) {
            return b.build("forward", b.relu(h));
        }
    }

    @Test
    void printsTheDesignSketch() {
        assertEquals("""
                graph @forward(
                    %x: f32[B,784],
                    %layer.0.weight: f32[128,784],
                    %layer.0.bias: f32[128]
                ) -> (f32[B,128]) {
                  %0 = transpose %layer.0.weight {perm=[1,0]} : f32[784,128]
                  %1 = matmul %x, %0 : f32[B,128]
                  %2 = broadcast %layer.0.bias {dims=[1]} : f32[B,128]
                  %3 = add %1, %2 : f32[B,128]
                  %4 = relu %3 : f32[B,128]
                  return %4
                }
                """, Printer.print(forward()));
        assertEquals(Printer.print(forward()), forward().toString());
    }

    @Test
    void locationsStartAtColumn57() {
        String text = Printer.print(forward(), true);
        assertEquals("""
                graph @forward(
                    %x: f32[B,784],
                    %layer.0.weight: f32[128,784],
                    %layer.0.bias: f32[128]
                ) -> (f32[B,128]) {
                  %0 = transpose %layer.0.weight {perm=[1,0]} : f32[784,128] loc(SimpleNet.java:14 in layer.0)
                  %1 = matmul %x, %0 : f32[B,128]                       loc(SimpleNet.java:14 in layer.0)
                  %2 = broadcast %layer.0.bias {dims=[1]} : f32[B,128]  loc(SimpleNet.java:14 in layer.0)
                  %3 = add %1, %2 : f32[B,128]                          loc(SimpleNet.java:14 in layer.0)
                  %4 = relu %3 : f32[B,128]                             loc(SimpleNet.java:15 in layer.1)
                  return %4
                }
                """, text);
        for (String line : text.split("\n")) if (line.contains("loc(")) assertTrue(line.indexOf("loc(") >= 56, line);
    }

    @Test
    void locatedPrintIsStableThroughTheParser() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value a = b.neg(x); // Loc.UNKNOWN, printed as loc(unknown)
        Value c;
        try (var _ = b.at(new Loc.Fused(List.of(new Loc.Grad(Loc.of("A.java", 3, "m")), Loc.of("odd (name).java", -1))))) {
            c = b.exp(a);
        }
        String once = Printer.print(b.build("g", c), true);
        Graph parsed = Parser.parse(once, "g.kir");
        assertEquals(once, Printer.print(parsed, true));
        assertEquals(Loc.UNKNOWN, parsed.body().get(0).loc());
        assertEquals(new Loc.Fused(List.of(new Loc.Grad(Loc.of("A.java", 3, "m")), Loc.of("odd (name).java", -1))),
                parsed.body().get(1).loc());
    }

    @Test
    void parsedStatementsWithoutLocationAreAtTheirLine() {
        Graph g = Parser.parse("graph @g(%x: f32[4]) -> (f32[4]) {\n  // a comment\n  %0 = neg %x : f32[4]\n  return %0\n}\n", "model.kir");
        assertEquals(Loc.of("model.kir", 3), g.body().getFirst().loc());
        assertEquals(Loc.of("model.kir", 1), g.params().getFirst().loc());
    }

    @Test
    void headerWrapsPastOneHundredCharacters() {
        // "graph @g(%" + name + ": f32[1]) -> (f32[1]) {" is 33 characters plus the name
        String fits = "a".repeat(67), wraps = "a".repeat(68);
        Builder b = new Builder();
        Value p = b.param(fits, f32(1));
        String one = Printer.print(b.build("g", p));
        assertEquals(100, one.lines().findFirst().orElseThrow().length());
        Builder c = new Builder();
        Value q = c.param(wraps, f32(1));
        assertEquals("graph @g(\n    %" + wraps + ": f32[1]\n) -> (f32[1]) {\n  return %" + wraps + "\n}\n", Printer.print(c.build("g", q)));
    }

    @Test
    void namesThatAreNotBareAreQuotedAndRoundTrip() {
        Builder b = new Builder();
        Value digits = b.param("0", f32(2)), space = b.param("a b", f32(2)), quote = b.param("q\"\n\\", f32(2));
        Value sum = b.add(b.add(digits, space), quote);
        Graph g = b.build("my graph", sum);
        String text = Printer.print(g);
        assertEquals("""
                graph @"my graph"(%"0": f32[2], %"a b": f32[2], %"q\\"\\n\\\\": f32[2]) -> (f32[2]) {
                  %0 = add %"0", %"a b" : f32[2]
                  %1 = add %0, %"q\\"\\n\\\\" : f32[2]
                  return %1
                }
                """, text);
        Graph back = Parser.parse(text, "q.kir");
        assertEquals(List.of("0", "a b", "q\"\n\\"), back.paramNames());
        assertEquals("my graph", back.name());
        assertEquals(text, Printer.print(back));
    }

    @Test
    void denseValuesPrintInTheirShortestExactForm() {
        Builder b = new Builder();
        Value f = b.dense(new DenseData(NdArray.of(new float[] {0.1f, 1e-7f, Float.NaN}, 3)));
        Value l = b.dense(new DenseData(NdArray.of(new long[] {(1L << 53) + 1, Long.MIN_VALUE}, 2)));
        NdArray half = NdArray.zeros(DType.F16, 2);
        half.setDouble(0, 1.0 / 3);
        half.setDouble(1, Double.NEGATIVE_INFINITY);
        Value h = b.dense(new DenseData(half));
        Graph g = b.build("d", f, l, h);
        String text = Printer.print(g);
        assertTrue(text.contains("%0 = dense {data=[0.1,1.0E-7,nan]} : f32[3]"), text);
        assertTrue(text.contains("%1 = dense {data=[9007199254740993,-9223372036854775808]} : i64[2]"), text);
        assertTrue(text.contains("%2 = dense {data=[0.33325195,-inf]} : f16[2]"), text);
        Graph back = Parser.parse(text, "d.kir");
        for (int i = 1; i < 3; i++) assertEquals(g.body().get(i).op(), back.body().get(i).op());
        assertEquals(text, Printer.print(back));
    }

    @Test
    void regionValuesContinueTheGraphsNumbering() {
        Builder rb = new Builder();
        Value a = rb.param("arg0", f32(4));
        Graph region = rb.build("k", rb.relu(rb.neg(a)));
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value f = b.fused(List.of(b.exp(x)), region, "k");
        Graph g = b.build("g", b.abs(f));
        assertEquals("""
                graph @g(%x: f32[4]) -> (f32[4]) {
                  %0 = exp %x : f32[4]
                  %1 = fused %0 {kernel="k"} : f32[4] {
                    (%arg0: f32[4]):
                    %2 = neg %arg0 : f32[4]
                    %3 = relu %2 : f32[4]
                    yield %3
                  }
                  %4 = abs %1 : f32[4]
                  return %4
                }
                """, Printer.print(g));
        assertEquals(Printer.print(g), Printer.print(Parser.parse(Printer.print(g), "g.kir")));
    }

    @Test
    void equalStatementsInternWhenParsed() {
        // the builder interns ops, so a repeated statement names the first value
        Graph g = Parser.parse("""
                graph @g(%x: f32[4]) -> (f32[4], f32[4]) {
                  %0 = neg %x : f32[4]
                  %1 = neg %x : f32[4]
                  return %0, %1
                }
                """, "g.kir");
        assertEquals(1, g.body().size());
        assertSame(g.results().get(0), g.results().get(1));
        assertTrue(g.body().getFirst().op() instanceof Op.Neg);
    }

    @Test
    void excerptMarksTheCulprit() {
        Graph g = forward();
        assertEquals("""
                     %1 = matmul %x, %0 : f32[B,128]
                >>   %2 = broadcast %layer.0.bias {dims=[1]} : f32[B,128]
                     %3 = add %1, %2 : f32[B,128]
                """, Printer.excerpt(g, g.body().get(2), 1));
        assertEquals("%layer.0.bias", Printer.name(g, g.params().get(2)));
        assertEquals("%4", Printer.name(g, g.results().getFirst()));
    }
}
