package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.nn.Linear;
import dev.kiln.nn.MSELoss;
import dev.kiln.nn.Module;
import dev.kiln.optim.SGD;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/// Who holds a compiled executable, checked with a backend whose executables count their holds
/// (as a CUDA executable does with device memory): the compile cache holds each entry and lets
/// go when the entry is dropped (`Kiln.clearCache`, `setBackend`); a one-off eager call holds
/// it only while it runs; a compiled model or train step holds it until it is closed or
/// unreachable. An executable is freed after its last holder, and never used after that.
class CacheReleaseTest {
    /// Runs the interpreter; counts holds like `CudaPlanExecutable` and refuses to run when freed.
    static final class Counted implements Executable {
        final Graph graph;
        int holds = 1;
        boolean freed;

        Counted(Graph graph) { this.graph = graph; }

        @Override public synchronized List<NdArray> run(List<NdArray> inputs) {
            assertFalse(freed, "ran after it was freed");
            return Interpreter.run(graph, inputs);
        }

        @Override public synchronized Executable retain() {
            assertFalse(freed, "retained after it was freed");
            holds++;
            return this;
        }

        @Override public synchronized void close() {
            assertTrue(holds > 0, "closed more often than held");
            if (--holds == 0) freed = true;
        }

        synchronized int holds() { return holds; }
    }

    final List<Counted> compiled = new ArrayList<>();
    Backend previous;

    @BeforeEach void useCountingBackend() {
        previous = Kiln.backend();
        Kiln.setBackend(new Backend() {
            @Override public String name() { return "counting"; }
            @Override public Executable compile(Graph graph) {
                Counted c = new Counted(graph);
                synchronized (compiled) {
                    compiled.add(c);
                }
                return c;
            }
        });
    }

    @AfterEach void restore() { Kiln.setBackend(previous); }

    @Test void eagerGraphsAreHeldByTheCacheAloneAndFreedWithIt() {
        Tensor a = Tensor.of(new float[]{1, 2, 3});
        float[] got = a.mul(a).add(a).toFloatArray();
        assertArrayEquals(new float[]{2, 6, 12}, got);
        assertFalse(compiled.isEmpty());
        for (Counted c : compiled) assertEquals(1, c.holds(), "only the cache holds an eager graph after its call");
        Kiln.clearCache();
        for (Counted c : compiled) assertTrue(c.freed, "clearCache frees what only the cache held");
    }

    @Test void aCompiledModelKeepsItsExecutableAcrossClearCacheUntilUnreachable() throws Exception {
        Kiln.manualSeed(3);
        Module m = new Linear(4, 2);
        Tensor x = Tensor.randn(3, 4);
        float[] want = m.forward(x).toFloatArray();
        CompiledModel cm = Kiln.compile(m, x);
        Counted exe = compiled.getLast();
        assertEquals(2, exe.holds(), "the cache and the model");
        Kiln.clearCache();
        assertFalse(exe.freed, "the model still holds it");
        assertEquals(1, exe.holds());
        assertArrayEquals(want, cm.forward(x).toFloatArray(), 1e-6f);
        cm = null;
        for (int i = 0; i < 200 && !exe.freed; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertTrue(exe.freed, "an unreachable model lets go (Cleaner)");
    }

    @Test void aTrainStepLetsGoWhenClosed() {
        Kiln.manualSeed(4);
        Module m = new Linear(4, 1);
        Tensor x = Tensor.randn(5, 4), y = Tensor.randn(5, 1);
        TrainStep step = Kiln.compileTrainStep(m, new MSELoss(), new SGD(m.parameters(), 0.1), x, y);
        Counted exe = compiled.getLast();
        float first = step.step(x, y).item();
        assertTrue(step.step(x, y).item() < first, "it trains");
        assertEquals(2, exe.holds(), "the cache and the step");
        step.close();
        step.close();
        assertEquals(1, exe.holds(), "closing twice lets go once");
        KilnException e = assertThrows(KilnException.class, () -> step.step(x, y));
        assertTrue(e.getMessage().endsWith("error: train step: it was closed"), e.getMessage());
        Kiln.clearCache();
        assertTrue(exe.freed);
    }

    @Test void setBackendClosesTheCachedEntries() {
        Tensor a = Tensor.of(new float[]{1, 2});
        a.add(a).toFloatArray();
        Counted exe = compiled.getLast();
        Kiln.setBackend(previous);
        assertTrue(exe.freed);
    }
}
