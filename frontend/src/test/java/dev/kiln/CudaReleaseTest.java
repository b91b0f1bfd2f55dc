package dev.kiln;

import dev.kiln.codegen.cuda.rt.CudaDriver;
import dev.kiln.nn.Linear;
import dev.kiln.nn.MSELoss;
import dev.kiln.optim.SGD;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/// On the GPU: `Kiln.clearCache` unloads the programs of eager ops and gives their memory back,
/// and a closed train step frees its resident state after copying it back into the model (the
/// CPU-only bookkeeping is CacheReleaseTest's).
@Tag("gpu")
class CudaReleaseTest {
    @Test void clearCacheAndClosingATrainStepFreeTheGpu() {
        CudaTest.assumeGpu();
        Kiln.clearCache();
        long base = CudaDriver.reservedBytes();
        int modules = CudaDriver.loadedModules();
        Device cuda = Device.cuda();
        Tensor a = Tensor.randn(64, 33);
        float[] want = a.mul(a).add(a).toFloatArray();
        assertArrayEquals(want, a.to(cuda).mul(a.to(cuda)).add(a.to(cuda)).toFloatArray(), 1e-5f);

        Kiln.manualSeed(5);
        Linear m = new Linear(4, 1).to(cuda);
        Tensor x = Tensor.randn(8, 4).to(cuda), y = Tensor.randn(8, 1).to(cuda);
        TrainStep step = Kiln.compileTrainStep(m, new MSELoss(), new SGD(m.parameters(), 0.1), x, y);
        float first = step.step(x, y).item();
        float second = step.step(x, y).item();
        assertTrue(second < first, "it trains");
        step.close();
        Kiln.clearCache();
        // <=: other tests' executables may be freed by the Cleaner meanwhile
        assertTrue(CudaDriver.loadedModules() <= modules, "every program unloaded");
        assertTrue(CudaDriver.reservedBytes() <= base, "every buffer given back");
        // the weights came back from the GPU before the step let go: one more step by hand gives
        // the loss the compiled step would have given
        Tensor d = m.forward(x).sub(y);
        assertTrue(d.mul(d).mean().item() < second, "the state after two steps was kept");
    }
}
