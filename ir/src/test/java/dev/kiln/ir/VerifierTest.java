package dev.kiln.ir;

import dev.kiln.ir.Op.Add;
import dev.kiln.ir.Op.Matmul;
import dev.kiln.ir.Op.Neg;
import dev.kiln.ir.text.Parser;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/// Hand-built bad graphs, each caught with a message that names the value and shows the
/// statements around it.
class VerifierTest {
    private static String only(Graph g) {
        List<IrError> errors = Verifier.check(g);
        assertEquals(1, errors.size(), () -> "errors: " + errors);
        return errors.getFirst().getMessage();
    }

    @Test
    void validGraphsPass() {
        Graph g = Parser.parse("""
                graph @ok(%x: f32[2,3], %w: f32[3,4]) -> (f32[2,4]) {
                  %0 = matmul %x, %w : f32[2,4]
                  %1 = fused %0 {kernel="k"} : f32[2,4] {
                    (%a: f32[2,4]):
                    %2 = relu %a : f32[2,4]
                    yield %2
                  }
                  return %1
                }
                """, "ok.kir");
        assertEquals(List.of(), Verifier.check(g));
        Verifier.verify(g);
    }

    @Test
    void typeRuleViolationNamesTheValueAndShowsTheContext() {
        Builder b = new Builder();
        Value x = b.param("x", f32(32, 784)), w = b.param("w", f32(128, 10));
        Value h = b.relu(x);
        Value m;
        try (var _ = b.at(Loc.of("Mlp.java", 19, "fc2"))) {
            m = b.emitUnchecked(new Matmul(h, w), f32(32, 10));
        }
        Value out = b.neg(m);
        String message = only(b.build("mlp", out));
        assertEquals("""
                Mlp.java:19 in fc2: error: %1: 'matmul' operand #1 has shape [128,10], incompatible with operand #0 [32,784]
                in graph @mlp:
                   graph @mlp(%x: f32[32,784], %w: f32[128,10]) -> (f32[32,10]) {
                     %0 = relu %x : f32[32,784]
                >>   %1 = matmul %0, %w : f32[32,10]
                     %2 = neg %1 : f32[32,10]
                     return %2
                   }""", message);
    }

    @Test
    void declaredTypeDifferentFromTheRule() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value bad = b.emitUnchecked(new Add(x, x), f32(5));
        String message = only(b.build("g", bad));
        assertTrue(message.startsWith("error: %0: has type f32[5], but 'add' gives f32[4]\n"), message);
        assertTrue(message.contains(">>   %0 = add %x, %x : f32[5]"), message);
    }

    @Test
    void useBeforeDefinition() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value a = b.neg(x), c = b.abs(a);
        Graph ordered = b.build("g", c);
        Graph swapped = new Graph("g", ordered.params(), List.of(c, a), List.of(c));
        String message = only(swapped);
        // numbering follows body position, so the use prints as %1 in %0's statement
        assertTrue(message.startsWith("error: %0: operand %1 is used before its definition\n"), message);
        assertTrue(message.contains(">>   %0 = abs %1 : f32[4]\n     %1 = neg %x : f32[4]"), message);
    }

    @Test
    void valueFromAnotherGraph() {
        Builder other = new Builder();
        Value stranger = other.neg(other.param("y", f32(4)));
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value sum = b.add(x, stranger);
        String message = only(b.build("g", sum));
        assertTrue(message.startsWith("error: %0: operand %? is not defined in this graph\n"), message);
        assertTrue(message.contains(">>   %0 = add %x, %? : f32[4]"), message);
    }

    @Test
    void valueDefinedTwice() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value a = b.neg(x);
        Graph g = new Graph("g", List.of(x), List.of(a, a), List.of(a));
        List<IrError> errors = Verifier.check(g);
        assertEquals(1, errors.size(), errors::toString);
        assertTrue(errors.getFirst().getMessage().startsWith("error: %0: is defined twice"), errors.getFirst().getMessage());
    }

    @Test
    void parameterIndexNameAndOp() {
        Builder c = new Builder();
        Value p = c.param("p", f32(4));
        Builder d = new Builder();
        d.param("q", f32(4));
        Value p2 = d.param("p", f32(4));
        String message = only(new Graph("g", List.of(p, p2), List.of(), List.of()));
        assertTrue(message.startsWith("error: %p: parameter name 'p' is used twice\n"), message);

        Value notParam = c.neg(p);
        String wrongOp = Verifier.check(new Graph("g", List.of(notParam), List.of(), List.of())).getFirst().getMessage();
        assertTrue(wrongOp.startsWith("error: %?: parameter #0 is a 'neg' op, not a 'param'"), wrongOp);
    }

    @Test
    void bothParametersOutOfOrder() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4)), y = b.param("y", f32(4));
        List<IrError> errors = Verifier.check(new Graph("g", List.of(y, x), List.of(), List.of()));
        assertEquals(2, errors.size());
        assertTrue(errors.get(0).getMessage().startsWith("error: %y: parameter #0 has index 1\n"), errors.get(0).getMessage());
        assertTrue(errors.get(1).getMessage().startsWith("error: %x: parameter #1 has index 0\n"), errors.get(1).getMessage());
    }

    @Test
    void undefinedResultMarksTheReturnLine() {
        Builder other = new Builder();
        Value stranger = other.neg(other.param("y", f32(4)));
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        String message = only(b.build("g", x, stranger));
        assertTrue(message.startsWith("error: result #1 (neg) is not defined in this graph\n"), message);
        assertTrue(message.contains(">>   return %x, %?"), message);
    }

    @Test
    void regionSeesOnlyItsOwnValues() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4)), y = b.param("y", f32(4));
        Builder rb = new Builder();
        Value a = rb.param("a", f32(4));
        Value leak = rb.add(a, y); // y belongs to the outer graph
        Graph region = rb.build("k", leak);
        Value f = b.fused(List.of(x), region, "k");
        String message = only(b.build("g", f));
        assertTrue(message.startsWith("error: %1: operand %y is defined outside this region (a region sees only its own values)\n"), message);
        assertTrue(message.contains(">>     %1 = add %a, %y : f32[4]"), message);
    }

    @Test
    void errorsInsideRegionsAreFound() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Builder rb = new Builder();
        Value a = rb.param("a", f32(4));
        Value bad = rb.emitUnchecked(new Neg(a), f32(3));
        Value f = b.fused(List.of(x), rb.build("k", bad), "k");
        // the fused op's own type follows its region's result, so only the region's value is wrong
        String message = only(b.build("g", f));
        assertTrue(message.startsWith("error: %1: has type f32[3], but 'neg' gives f32[4]\n"), message);
        assertTrue(message.contains("       (%a: f32[4]):\n>>     %1 = neg %a : f32[3]\n       yield %1\n"), message);
    }

    @Test
    void contextIsFiveStatementsEitherSide() {
        Builder b = new Builder();
        Value v = b.param("x", f32(4));
        List<Value> chain = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            v = i == 10 ? b.emitUnchecked(new Neg(v), f32(9)) : b.emitUnchecked(new Neg(v), v.type());
            chain.add(v);
        }
        List<IrError> errors = Verifier.check(b.build("chain", v));
        // %10 is wrong; %11 (neg of an f32[9]) is then consistent again, so only one error
        assertEquals(1, errors.size(), errors::toString);
        String[] lines = errors.getFirst().getMessage().split("\n");
        assertEquals("error: %10: has type f32[9], but 'neg' gives f32[4]", lines[0]);
        assertEquals("in graph @chain:", lines[1]);
        assertEquals(13, lines.length); // two heading lines, then %5 .. %15
        assertEquals("     %5 = neg %4 : f32[4]", lines[2]);
        assertEquals(">>   %10 = neg %9 : f32[9]", lines[7]);
        assertEquals("     %15 = neg %14 : f32[9]", lines[12]);
    }

    @Test
    void verifyThrowsTheFirstErrorListingTheRest() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value one = b.emitUnchecked(new Neg(x), f32(1)), two = b.emitUnchecked(new Neg(x), f32(2));
        IrError e = assertThrows(IrError.class, () -> Verifier.verify(b.build("g", one, two)));
        assertTrue(e.getMessage().startsWith("error: %0: has type f32[1], but 'neg' gives f32[4]\n"), e.getMessage());
        assertTrue(e.getMessage().contains("\n(1 more error)\n\nerror: %1: has type f32[2], but 'neg' gives f32[4]\n"), e.getMessage());
    }
}
