package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.rt.CudaPlan;
import dev.kiln.ir.kernel.Kir;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.runtime.Size;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/// The run-time plan a CUDA jar carries, without a GPU: its text form reads back equal for
/// every graph the backend is checked on, and every size in it (launch grids, integer kernel
/// arguments, buffer lengths) evaluates, for several bindings of the symbols, to what the
/// compiler's own size expressions give; malformed text is a one-line error naming the line.
class CudaPlanTest {
    static final int[] SIZES = {1, 3, 64, 1000};

    @Test void textRoundTripsAndSizesMatchTheCompilersForEveryGraph() {
        int graphs = 0;
        for (Graphs.Case c : Graphs.all()) {
            PtxProgram p = CudaBackend.ptx(c.graph());
            CudaPlan plan = CudaBackend.plan(p, c.graph()).withWeights(Set.of(c.graph().paramNames().getFirst()));
            String text = plan.toText();
            CudaPlan back = CudaPlan.parse(text, c.name());
            assertEquals(plan, back, c.name());
            assertEquals(text, back.toText(), c.name());
            assertTrue(back.params().getFirst().weight(), c.name());
            checkSizes(c.name(), p, back);
            graphs++;
        }
        assertTrue(graphs > 50, "graphs checked: " + graphs);
    }

    /// Each size of `plan` against the kernel-IR expression it came from, at every symbol
    /// binding made of `SIZES` (each symbol in turn takes each size, the others 7).
    static void checkSizes(String name, PtxProgram p, CudaPlan plan) {
        KernelProgram k = p.program();
        List<String> symbols = k.symbols();
        assertEquals(symbols, plan.symbols(), name);
        assertEquals(p.launches().size(), plan.launches().size(), name);
        for (int s = 0; s < Math.max(1, symbols.size()); s++)
            for (int size : SIZES) {
                int[] dims = new int[symbols.size()];
                java.util.Arrays.fill(dims, 7);
                if (dims.length > 0) dims[s] = size;
                String at = name + " at " + symbols + "=" + java.util.Arrays.toString(dims);
                for (int i = 0; i < p.launches().size(); i++) {
                    Launch l = p.launches().get(i);
                    CudaPlan.Launch pl = plan.launches().get(i);
                    assertEquals(l.entry(), pl.entry(), at);
                    assertEquals(l.block(), pl.block(), at);
                    assertEquals(eval(l.gridX(), symbols, dims), pl.gridX().eval(dims), at + " " + l.entry() + " grid x");
                    assertEquals(eval(l.gridY(), symbols, dims), pl.gridY().eval(dims), at + " " + l.entry() + " grid y");
                    assertEquals(eval(l.gridZ(), symbols, dims), pl.gridZ().eval(dims), at + " " + l.entry() + " grid z");
                    assertEquals(l.args().size(), pl.args().size(), at);
                    for (int a = 0; a < l.args().size(); a++)
                        switch (l.args().get(a)) {
                            case Launch.Buf(int id) -> assertEquals(new CudaPlan.Buf(id), pl.args().get(a), at);
                            case Launch.Int(Kir.Expr e) -> assertEquals(eval(e, symbols, dims), ((CudaPlan.Int) pl.args().get(a)).value().eval(dims), at);
                        }
                }
                for (Kir.Buffer b : k.buffers()) {
                    long want = b.kind() == Kir.BufferKind.CONST ? k.constants().get(b.index()).size() : eval(b.numel(), symbols, dims);
                    assertEquals(want, plan.buffers().get(b.id()).numel().eval(dims), at + " buffer " + b.id());
                    assertEquals(b.dtype(), plan.buffers().get(b.id()).dtype(), at);
                }
            }
    }

    static long eval(Kir.Expr e, List<String> symbols, int[] dims) { return Kir.eval(e, s -> dims[symbols.indexOf(s)]); }

    static String relu() { return CudaBackend.plan(CudaBackend.ptx(CudaBackendTest.relu()), CudaBackendTest.relu()).toText(); }

    @Test void aPlanReadsAsWritten() {
        String text = relu();
        assertTrue(text.startsWith("kiln-cuda-plan 1\ngraph name=relu\nsymbol name=B\nparam name=x dtype=f32 dims=-1,8 buffer=0 weight=false\n"
                + "result name=output0 dtype=f32 dims=-1,8 buffer="), text);
        assertTrue(text.contains("\nbuffer dtype=f32 kind=param index=0 slot=-1 numel=$0,8,*\n"), text);
        assertTrue(text.matches("(?s).*\nlaunch entry=k0_relu_0 grid=[^ ]+;1;1 block=\\d+ args=b\\d;b\\d;.*"), text);
    }

    @Test void malformedPlansAreOneLineErrors() {
        String good = relu();
        Map<String, String> cases = Map.of(
                "", "p: not a Kiln CUDA plan (expected 'kiln-cuda-plan 1' on line 1, found '')",
                good.replace("kiln-cuda-plan 1", "kiln-cuda-plan 2"), "p: not a Kiln CUDA plan (expected 'kiln-cuda-plan 1' on line 1, found 'kiln-cuda-plan 2')",
                good.replace("dtype=f32 dims=-1,8 buffer=0", "dtype=f33 dims=-1,8 buffer=0"), "p:4: unknown dtype 'f33'",
                good.replace("graph name=relu", "graph name=relu extra"), "p:2: expected key=value, got 'extra'",
                good.replace("numel=$0,8,*", "numel=$0,*"), "p:6: size '$0,*' is not postfix",
                good.replace("numel=$0,8,*", "numel=$3,8,*"), "p:6: size '$3,8,*' names symbol 3",
                good.replace(" weight=false", ""), "p:4: missing weight=",
                good.replaceFirst("args=b\\d", "args=b9"), "p: launch k0_relu_0: buffer 9 out of range",
                good + "kernel name=k\n", "p:" + (good.lines().count() + 1) + ": unknown item 'kernel'",
                good.replace("graph name=relu\n", ""), "p: no graph line");
        for (var c : cases.entrySet()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaPlan.parse(c.getKey(), "p"), c.getValue());
            assertEquals(c.getValue(), e.getMessage());
        }
        String blockLine = good.lines().filter(l -> l.startsWith("launch")).findFirst().orElseThrow();
        String badBlock = good.replace(blockLine, blockLine.replaceFirst("block=\\d+", "block=x"));
        assertEquals("p:" + (good.lines().toList().indexOf(blockLine) + 1) + ": block=x is not an integer",
                assertThrows(IllegalArgumentException.class, () -> CudaPlan.parse(badBlock, "p")).getMessage());
    }

    @Test void sizesReadBackAsTheyEvaluate() {
        Size s = Size.apply("/", Size.apply("+", Size.symbol(0), Size.literal(255)), Size.literal(256));
        assertEquals(s, Size.parse(s.text(), 1));
        for (int b : SIZES) assertEquals((b + 255) / 256, Size.parse(s.text(), 1).eval(new int[]{b}));
    }
}
