package dev.kiln.cli;

import dev.kiln.codegen.cuda.CudaBackend;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/// `--backend cuda` and `--device cuda` on a machine without a GPU: one line saying why, a
/// non-zero exit, no stack trace. (On a GPU machine these commands run; the frontend's GPU tests
/// cover what they compute.)
class CudaCliTest {
    static final Path MLP = Examples.file("mlp.kir"), DATA = Examples.data();

    static void assumeNoGpu() { assumeFalse(CudaBackend.available(), "a GPU is usable here"); }

    static void assertNoGpuLine(MainTest.Result r, String prefix) {
        assertEquals(1, r.code(), r.err());
        assertEquals(List.of(prefix + CudaBackend.unavailableReason()), r.errLines());
        assertEquals("", r.out());
    }

    @Test void irRunOnCudaWithoutAGpuIsOneLine() {
        assumeNoGpu();
        assertNoGpuLine(MainTest.run("ir", "run", MLP.toString(), "--input-dir", DATA.toString(), "--backend", "cuda"),
                "kiln: error: cuda: no usable GPU here: ");
    }

    @Test void runAndBenchOnCudaWithoutAGpuAreOneLine() {
        assumeNoGpu();
        assertNoGpuLine(MainTest.run("bench", MLP.toString(), "--backend", "cuda"),
                "kiln: error: cuda: no usable GPU here: ");
    }

    @Test void demoOnCudaWithoutAGpuIsOneLine() {
        assumeNoGpu();
        assertNoGpuLine(MainTest.run("demo", "--device", "cuda", "--epochs", "1"), "kiln: error: cuda: no usable GPU here: ");
    }

    /// On a GPU (run by the GPU suite): `ir run --backend cuda` writes what the interpreter writes.
    @org.junit.jupiter.api.Tag("gpu")
    @Test void irRunOnCudaMatchesTheInterpreter(@org.junit.jupiter.api.io.TempDir Path dir) {
        org.junit.jupiter.api.Assumptions.assumeTrue(CudaBackend.available(), () -> "GPU tests skipped: " + CudaBackend.unavailableReason());
        for (String backend : List.of("interp", "cuda")) {
            MainTest.Result r = MainTest.run("ir", "run", MLP.toString(), "--input-dir", DATA.toString(), "--backend", backend,
                    "--output", dir.resolve(backend).toString());
            assertEquals(0, r.code(), r.err());
        }
        for (int i = 0; i < 2; i++) {
            var want = dev.kiln.runtime.Npy.read(dir.resolve("interp/mlp." + i + ".npy"));
            var got = dev.kiln.runtime.Npy.read(dir.resolve("cuda/mlp." + i + ".npy"));
            for (int k = 0; k < want.size(); k++)
                assertEquals(want.getDouble(k), got.getDouble(k), 1e-4 * (1 + Math.abs(want.getDouble(k))), "result " + i + " element " + k);
        }
    }

    @Test void unknownBackendListsCuda() {
        MainTest.Result r = MainTest.run("ir", "run", MLP.toString(), "--backend", "tpu");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown backend 'tpu' for --backend (expected interp, jvm or cuda)"), r.err());
    }
}
