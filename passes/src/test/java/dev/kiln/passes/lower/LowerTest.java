package dev.kiln.passes.lower;

import dev.kiln.ir.kernel.*;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

class LowerTest {
    /// softmax over the last axis as a fused region: max and sum are computed once per row.
    static Graph softmax() {
        Builder body = new Builder();
        Value x = body.param("x", f32("B", 10));
        Value m = body.reduceMax(x, Axes.of(1));
        Value mb = body.broadcast(m, Axes.of(0), f32("B", 10));
        Value e = body.exp(body.sub(x, mb));
        Value s = body.broadcast(body.reduceSum(e, Axes.of(1)), Axes.of(0), f32("B", 10));
        Graph g = body.build("softmax_body", body.div(e, s));
        Builder b = new Builder();
        Value p = b.param("x", f32("B", 10));
        return b.build("softmax", b.fused(List.of(p), g, "softmax"));
    }

    @Test void softmaxRowReductionsAreHoistedOutOfTheColumnLoop() {
        KernelProgram p = Lower.lower(softmax());
        String text = p.toString();
        System.out.println(text);
        assertEquals(1, p.kernels().size());
        Kir.Loop rows = (Kir.Loop) p.kernels().getFirst().body().getFirst();
        // for i0 < B { acc max loop; acc sum loop; for j ... }: three loops inside the row loop
        long inner = rows.body().stream().filter(s -> s instanceof Kir.Loop).count();
        assertEquals(3, inner, text);
    }

    @Test void matmulLooksThroughTransposeAndTakesBiasReluAsEpilogue() {
        Builder body = new Builder();
        Value x = body.param("x", f32("B", 784)), w = body.param("w", f32(128, 784)), bias = body.param("b", f32(128));
        Value h = body.relu(body.add(body.matmul(x, body.transpose(w, Axes.of(1, 0))), body.broadcast(bias, Axes.of(1), f32("B", 128))));
        Graph fb = body.build("fc", h);
        Builder b = new Builder();
        Value px = b.param("x", f32("B", 784)), pw = b.param("w", f32(128, 784)), pb = b.param("b", f32(128));
        Graph g = b.build("mlp", b.fused(List.of(px, pw, pb), fb, "fc1_bias_relu"));
        KernelProgram p = Lower.lower(g);
        String text = p.toString();
        System.out.println(text);
        assertTrue(text.contains("gemmNT(b0, b1)"), text);
        assertTrue(text.contains("epilogue:"), text);
        assertEquals(4, p.buffers().size(), "no scratch buffer: the epilogue runs in place");
    }

    @Test void columnMeanIsMaterializedNotRecomputedPerRow() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 8));
        Value mean = b.reduceSum(x, Axes.of(0));
        Builder body = new Builder();
        Value bx = body.param("x", f32("B", 8));
        Value c = body.sub(bx, body.broadcast(body.reduceSum(bx, Axes.of(0)), Axes.of(1), f32("B", 8)));
        Graph fb = body.build("center", c);
        Graph g = b.build("g", b.fused(List.of(x), fb, "center"), mean);
        KernelProgram p = Lower.lower(g);
        String text = p.toString();
        System.out.println(text);
        assertTrue(text.contains(".tmp"), "column sums go to scratch: " + text);
    }

    /// A result whose size no input determines cannot run: the lowering says so at the op.
    @Test void aSymbolNoInputBindsIsRefused() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Value y = b.broadcast(x, Axes.of(0), f32(4, "N"));
        var e = assertThrows(dev.kiln.ir.IrError.class, () -> Lower.lower(b.build("g", y)));
        assertEquals("error: 'broadcast' has type f32[4,N], but no input binds N: a compiled graph takes every dimension symbol's size "
                + "from its inputs' shapes", e.getMessage());
    }
}
