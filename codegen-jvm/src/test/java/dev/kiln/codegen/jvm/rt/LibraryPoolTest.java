package dev.kiln.codegen.jvm.rt;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// Library calls (matrix products, convolutions) split their work over the pool of the
/// executable that runs them, not over the process-wide shared pool: a jar run with
/// `--threads N` must change how they split.
class LibraryPoolTest {
    /// Graphs made of library calls only, so any parallel region of the executable's pool
    /// comes from the library; a 2-thread pool must have run some, and give the same values
    /// as a 1-thread pool, whose regions all run on the caller.
    @Test void gemmAndConvUseTheExecutablesPool() {
        Builder b = new Builder();
        Value x = b.param("x", f32(256, 256)), w = b.param("w", f32(256, 256));
        Graph mm = b.build("mm", b.matmul(x, w));
        Builder cb = new Builder();
        Value img = cb.param("img", f32(4, 8, 16, 16)), k = cb.param("k", f32(16, 8, 3, 3));
        Graph conv = cb.build("conv", cb.conv2d(img, k, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1));
        Random r = new Random(1);
        List<List<NdArray>> inputs = List.of(List.of(rand(new int[]{256, 256}, r), rand(new int[]{256, 256}, r)),
                List.of(rand(new int[]{4, 8, 16, 16}, r), rand(new int[]{16, 8, 3, 3}, r)));
        for (int t = 0; t < 2; t++) {
            Graph g = t == 0 ? mm : conv;
            List<NdArray> in = inputs.get(t);
            Pool two = new Pool(2), one = new Pool(1);
            PlanExecutable e2 = JvmBackend.compile(g, two, null), e1 = JvmBackend.compile(g, one, null);
            assertTrue(e2.plan().tasks().stream().allMatch(task -> task.kind() != Plan.TaskKind.LOOP), g.name() + " has a loop task:\n" + e2.plan().toText());
            List<NdArray> got2 = e2.run(in), got1 = e1.run(in);
            assertTrue(two.regionsRun() > 0, g.name() + ": the library did not use the executable's 2-thread pool");
            assertEquals(0, one.regionsRun());
            assertArrayEquals((float[]) got1.getFirst().data(), (float[]) got2.getFirst().data(), 1e-4f, g.name());
        }
        assertSame(Pool.shared(), Pool.current(), "the executable's pool is only current during its calls");
    }

    static NdArray rand(int[] shape, Random r) {
        NdArray a = NdArray.zeros(dev.kiln.runtime.DType.F32, shape);
        float[] d = (float[]) a.data();
        for (int i = 0; i < d.length; i++) d[i] = r.nextFloat() * 2 - 1;
        return a;
    }
}
