package dev.kiln.ir.kernel;

import dev.kiln.ir.IrError;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/// `KirVerifier` accepts a well-formed program and rejects each broken rule with a message that
/// names the kernel, the statement and what is wrong; text that parses but breaks a rule fails
/// at its kernel's line.
class KirVerifierTest {
    /// Two kernels: a scale into a temp, then a row sum of it into the result.
    static final String GOOD = """
            program @rows symbols [B]
              b0: f32[(B * 4)] param 0 "x" (B = axis 0)
              b1: f32[(B * 4)] temp "%0" slot 0
              b2: f32[B] temp "%1" result 0
            kernel k0_scale
              for i0 < (B * 4) {
                b1[i0] = (b0[i0] * 2.0f)
              }
            kernel k1_sum
              for i1 < B {
                f32 acc = 0.0f
                for r2 < 4 {
                  acc = (acc + b1[((i1 * 4) + r2)])
                }
                b2[i1] = acc
              }
            """;

    static KernelProgram good() { return KirParser.parse(GOOD, "rows.txt"); }

    /// `good()` with kernel `k`'s body replaced.
    static KernelProgram withBody(int k, Stmt... body) {
        KernelProgram p = good();
        List<Kernel> kernels = new ArrayList<>(p.kernels());
        kernels.set(k, new Kernel(kernels.get(k).name(), kernels.get(k).source(), List.of(body)));
        return new KernelProgram(p.name(), p.buffers(), kernels, p.params(), p.results(), p.constants(), p.symbols(),
                p.symbolParams(), p.symbolAxes(), BufferPlan.of(p.plan().slotOf(), p.buffers(), kernels));
    }

    static String error(KernelProgram p) { return assertThrows(IrError.class, () -> KirVerifier.verify(p)).getMessage(); }

    static final Local I0 = new Local("i0", DType.I32);
    static final Expr N = new Bin(BinOp.MUL, new Sym("B"), new IntConst(4, DType.I32), DType.I32);
    static final Expr X = new Load(0, I0, DType.F32);

    static Loop loop(Stmt... body) { return new Loop("i0", N, List.of(body)); }

    @Test void aWellFormedProgramPasses() {
        KirVerifier.verify(good());
    }

    @Test void storedValueMustHaveTheBuffersDtype() {
        String e = error(withBody(0, loop(new Store(1, I0, new Convert(X, DType.F64)))));
        assertEquals("error: program @rows, kernel k0_scale: b1[i0] = (f64) b0[i0]: the value stored in b1 has type f64, expected f32", e);
    }

    @Test void operandsOfABinaryOpMustAgree() {
        String e = error(withBody(0, loop(new Store(1, I0, new Bin(BinOp.ADD, X, new IntConst(1, DType.I32), DType.F32)))));
        assertTrue(e.endsWith(": the operands of add are f32 and i32"), e);
    }

    @Test void aComparisonIsBool() {
        String e = error(withBody(0, loop(new Store(1, I0, new Bin(BinOp.LT, X, X, DType.F32)))));
        assertTrue(e.endsWith(": lt of f32 has type f32, expected bool"), e);
    }

    @Test void aLoadHasItsBuffersDtype() {
        String e = error(withBody(0, loop(new Store(1, I0, new Load(0, I0, DType.F16)))));
        assertTrue(e.endsWith(": a load from b0 has type f16, but the buffer is f32"), e);
    }

    @Test void indicesAreI32() {
        String e = error(withBody(0, loop(new Store(1, new Convert(I0, DType.I64), X))));
        assertTrue(e.endsWith(": the index has type i64, expected i32"), e);
    }

    @Test void aLocalIsReadOnlyInItsScope() {
        // the loop counter read after its loop
        String e = error(withBody(0, loop(new Store(1, I0, X)), new Loop("i1", N, List.of(new Store(1, new Local("i1", DType.I32), new Load(0, I0, DType.F32))))));
        assertTrue(e.endsWith(": 'i0' is read where it is not declared"), e);
        // a Set of a local that was never declared
        e = error(withBody(0, loop(new Set("acc", X))));
        assertTrue(e.endsWith("acc = b0[i0]: 'acc' is not a local declared above"), e);
        // a Set that changes the local's type
        e = error(withBody(0, loop(new Let("acc", X), new Set("acc", new Convert(X, DType.F64)), new Store(1, I0, new Local("acc", DType.F32)))));
        assertTrue(e.endsWith(": the value set to acc has type f64, expected f32"), e);
    }

    @Test void aNameIsDeclaredOnceOnAPath() {
        String e = error(withBody(0, loop(new Loop("i0", new IntConst(2, DType.I32), List.of(new Store(1, I0, X))))));
        assertTrue(e.endsWith("for i0 < 2: 'i0' is already declared in an enclosing block"), e);
    }

    @Test void aBufferIsReadOnlyAfterItIsWritten() {
        KernelProgram p = good();
        List<Kernel> swapped = List.of(p.kernels().get(1), p.kernels().get(0)); // the sum before the scale
        KernelProgram q = new KernelProgram(p.name(), p.buffers(), swapped, p.params(), p.results(), p.constants(), p.symbols(),
                p.symbolParams(), p.symbolAxes(), BufferPlan.of(p.plan().slotOf(), p.buffers(), swapped));
        assertTrue(error(q).contains("kernel k1_sum: acc = (acc + b1[((i1 * 4) + r2)]): reads b1 before anything writes it"), error(q));
    }

    @Test void onlyTempBuffersAreWritten() {
        String e = error(withBody(0, loop(new Store(0, I0, X))));
        assertTrue(e.endsWith("b0[i0] = b0[i0]: writes b0, a param buffer"), e);
    }

    @Test void symbolsAreTheProgramsOwn() {
        String e = error(withBody(0, new Loop("i0", new Sym("N"), List.of(new Store(1, I0, X)))));
        assertTrue(e.endsWith("'N' is not a symbol of the program (its symbols are [B])"), e);
    }

    @Test void aSelectsConditionIsBool() {
        String e = error(withBody(0, loop(new Store(1, I0, new Sel(X, X, X, DType.F32)))));
        assertTrue(e.endsWith(": a select's condition has type f32, expected bool"), e);
    }

    @Test void aLibraryCallsBuffersHaveItsDtype() {
        String e = error(withBody(0, new Call(new Gemm(1, 0, 0, new IntConst(1, DType.I32), new Sym("B"), new IntConst(4, DType.I32),
                new IntConst(4, DType.I32), false, false, DType.F64), null)));
        assertTrue(e.endsWith(": b1 is f32, but the call is on f64"), e);
    }

    @Test void onlyIntermediatesHaveSlots() {
        KernelProgram p = good();
        BufferPlan plan = BufferPlan.of(new int[]{-1, 0, 0}, p.buffers(), p.kernels()); // the result b2 in a slot
        KernelProgram q = new KernelProgram(p.name(), p.buffers(), p.kernels(), p.params(), p.results(), p.constants(), p.symbols(),
                p.symbolParams(), p.symbolAxes(), plan);
        assertEquals("error: program @rows, b2 has slot 0, but only intermediate buffers that kernels write share slots", error(q));
    }

    /// Two intermediates in one slot while both are live: the program-level error is at line 1.
    @Test void buffersSharingASlotMustNotBeLiveTogether() {
        String text = """
                program @two
                  b0: f32[4] param 0 "x"
                  b1: f32[4] temp "%0" slot 0
                  b2: f32[4] temp "%1" slot 0
                  b3: f32[4] temp "%2" result 0
                kernel k0
                  for i0 < 4 {
                    b1[i0] = (b0[i0] * 2.0f)
                  }
                kernel k1
                  for i0 < 4 {
                    b2[i0] = (b0[i0] + 1.0f)
                  }
                kernel k2
                  for i0 < 4 {
                    b3[i0] = (b1[i0] + b2[i0])
                  }
                """;
        IrError e = assertThrows(IrError.class, () -> KirParser.parse(text, "two.txt"));
        assertEquals("two.txt:1: error: program @two, b1 (kernels 0 to 2) and b2 (kernels 1 to 2) share slot 0 while both are live", e.getMessage());
        KirVerifier.verify(KirParser.parse(text.replace("\"%1\" slot 0", "\"%1\" slot 1"), "two.txt"));
    }

    /// Text that parses but breaks a rule fails at the line of its kernel.
    @Test void parsedTextFailsAtItsKernelsLine() {
        String text = GOOD.replace("b2[i1] = acc", "b0[i1] = acc");
        IrError e = assertThrows(IrError.class, () -> KirParser.parse(text, "rows.txt"));
        assertEquals("rows.txt:9: error: program @rows, kernel k1_sum: b0[i1] = acc: writes b0, a param buffer", e.getMessage());
    }
}
