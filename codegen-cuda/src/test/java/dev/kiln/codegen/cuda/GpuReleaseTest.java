package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.rt.CudaDriver;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// Device memory and modules go back when an executable is closed (after its last holder),
/// when it becomes unreachable (the Cleaner), and not while a resident loop's captured graph
/// still reads them. Each test uses a graph of its own, so its module is loaded by it alone.
/// Memory is compared with `<=`: other tests' executables may be freed by the Cleaner meanwhile.
@Tag("gpu")
class GpuReleaseTest {
    static Graph scaled(String name, int width) {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", width));
        return b.build(name, b.relu(b.mul(x, x)));
    }

    @Test void closingAfterTheLastHolderFreesMemoryAndModule() {
        GpuParityTest.assumeGpu();
        CudaDriver.trimCache();
        long base = CudaDriver.reservedBytes();
        Graph g = scaled("release_close", 13);
        List<NdArray> in = GpuParityTest.randomInputs(g, Map.of("B", 4096), 1);
        CudaExecutable exe = CudaBackend.compile(g);
        List<NdArray> want = Interpreter.run(g, in);
        GpuParityTest.compare("first run", want.getFirst(), exe.run(in).getFirst());
        assertTrue(CudaDriver.reservedBytes() > base);
        String ptx = exe.ptx().ptx();
        assertEquals(1, CudaDriver.moduleUsers(ptx));
        exe.retain().close();
        GpuParityTest.compare("still held", want.getFirst(), exe.run(in).getFirst());
        exe.close();
        assertEquals(0, CudaDriver.moduleUsers(ptx), "the module is unloaded");
        assertThrows(IllegalStateException.class, () -> exe.run(in));
        exe.close(); // nothing more to drop
        CudaDriver.trimCache();
        assertTrue(CudaDriver.reservedBytes() <= base, "every buffer went back");
    }

    @Test void aResidentLoopOutlivesItsExecutable() {
        GpuParityTest.assumeGpu();
        CudaDriver.trimCache();
        long base = CudaDriver.reservedBytes();
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 16)), w = b.param("w", f32(16, 5));
        Value y = b.matmul(x, w);
        Value w2 = b.sub(w, b.mul(b.matmul(b.transpose(x, dev.kiln.ir.Axes.of(1, 0)), y), b.constant(0.001, w.type())));
        Graph g = b.build("release_resident", b.reduceSum(b.mul(y, y), dev.kiln.ir.Axes.of(0, 1)), w2);
        List<NdArray> all = GpuParityTest.randomInputs(g, Map.of("B", 32), 2);
        CudaExecutable exe = CudaBackend.compile(g);
        CudaExecutable.Resident loop = exe.resident(all, new int[]{1}, new int[]{1});
        String ptx = exe.ptx().ptx();
        exe.close(); // the loop's captured graph still reads the executable's memory
        assertEquals(1, CudaDriver.moduleUsers(ptx));
        List<NdArray> ref = new ArrayList<>(all);
        for (int step = 0; step < 3; step++) {
            List<NdArray> want = Interpreter.run(g, ref);
            GpuParityTest.compare("step " + step, want.getFirst(), loop.step(List.of(ref.getFirst())).getFirst());
            ref.set(1, want.get(1));
        }
        GpuParityTest.compare("state", ref.get(1), loop.state().getFirst());
        loop.close();
        assertEquals(0, CudaDriver.moduleUsers(ptx));
        assertThrows(IllegalStateException.class, () -> loop.step(List.of(ref.getFirst())));
        CudaDriver.trimCache();
        assertTrue(CudaDriver.reservedBytes() <= base);
    }

    @Test void anUnreachableExecutableIsFreedByTheCleaner() throws Exception {
        GpuParityTest.assumeGpu();
        String ptx = runAndDrop(scaled("release_cleaner", 17));
        for (int i = 0; i < 300 && CudaDriver.moduleUsers(ptx) > 0; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertEquals(0, CudaDriver.moduleUsers(ptx), "the Cleaner unloaded the module");
    }

    /// Runs `g` once and drops the executable unclosed; returns its PTX.
    private static String runAndDrop(Graph g) {
        CudaExecutable exe = CudaBackend.compile(g);
        exe.run(GpuParityTest.randomInputs(g, Map.of("B", 64), 3));
        assertEquals(1, CudaDriver.moduleUsers(exe.ptx().ptx()));
        return exe.ptx().ptx();
    }
}
