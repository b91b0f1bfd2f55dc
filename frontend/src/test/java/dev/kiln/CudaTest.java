package dev.kiln;

import dev.kiln.codegen.cuda.CudaBackend;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/// The frontend on the GPU: every result on `cuda` is compared with the same computation on the
/// CPU (the JVM backend). Tagged `gpu`: skipped, saying why, where no GPU is usable, and run by
/// the GPU suite (scripts/gpu-check.sh) on a machine with one. The tests of what happens without
/// a GPU run only there.
@Tag("gpu")
class CudaTest {
    private static boolean told;

    static void assumeGpu() {
        if (!CudaBackend.available() && !told) {
            told = true;
            System.out.println("[gpu tests skipped] " + CudaBackend.unavailableReason());
        }
        assumeTrue(CudaBackend.available(), () -> "GPU tests skipped: " + CudaBackend.unavailableReason());
    }

    static void assertClose(NdArray want, NdArray got, double tol, String what) {
        assertArrayEquals(want.shape(), got.shape(), what);
        for (int i = 0; i < want.size(); i++) {
            double a = want.getDouble(i), b = got.getDouble(i);
            assertTrue(Math.abs(a - b) <= tol * (1 + Math.abs(a)), what + " at " + i + ": cpu " + a + ", cuda " + b);
        }
    }

    // ---- without a GPU ------------------------------------------------------------------------

    @Test void withoutAGpuCudaIsRefusedInOneLine() {
        assumeFalse(CudaBackend.available(), "a GPU is usable here");
        String why = CudaBackend.unavailableReason();
        var e = assertThrows(KilnException.class, () -> Device.cuda());
        assertTrue(e.getMessage().contains("device 'cuda:0' is not available: " + why), e.getMessage());
        assertTrue(e.getMessage().startsWith("CudaTest.java:"), e.getMessage()); // the user's line
        assertEquals(1, e.getMessage().lines().count());
        assertThrows(KilnException.class, () -> Tensor.zeros(2).cuda());
        var b = assertThrows(KilnException.class, () -> Backend.named("cuda"));
        assertTrue(b.getMessage().contains("backend 'cuda' is not available: " + why), b.getMessage());
        assertEquals(Device.cpu(), Device.best());
        assertFalse(Device.cudaAvailable());
    }

    // ---- on the GPU ---------------------------------------------------------------------------

    @Test void devicesAndBackend() {
        assumeGpu();
        assertEquals("cuda:0", Device.cuda().toString());
        assertEquals(Device.cuda(), Device.best());
        assertEquals("cuda", Backend.named("cuda").name());
        var e = assertThrows(KilnException.class, () -> Device.cuda(1));
        assertTrue(e.getMessage().contains("Kiln uses one GPU per process, cuda:0"), e.getMessage());
    }

    @Test void eagerOpsOnCudaMatchTheCpu() {
        assumeGpu();
        Kiln.manualSeed(1);
        Tensor x = Tensor.randn(64, 30), w = Tensor.randn(30, 20), bias = Tensor.randn(20);
        Tensor cpu = x.matmul(w).add(bias).relu().softmax(1).sum(0);
        Tensor xc = x.cuda(), wc = w.cuda(), bc = bias.to(Device.cuda());
        Tensor gpu = xc.matmul(wc).add(bc).relu().softmax(1).sum(0);
        assertEquals(Device.cuda(), gpu.device());
        assertClose(cpu.toNdArray(), gpu.toNdArray(), 1e-4, "matmul+bias+relu+softmax+sum");
        // a Java number, a rank-0 CPU tensor, goes with a cuda tensor (as in PyTorch)
        assertClose(x.mul(2).add(1).toNdArray(), xc.mul(2).add(Tensor.scalar(1f)).toNdArray(), 1e-6, "scalar ops");
        assertEquals(Device.cuda(), Tensor.zerosLike(xc).device());
    }

    @Test void mixingDevicesNamesBothAndTheLine() {
        assumeGpu();
        Tensor a = Tensor.ones(3).cuda(), b = Tensor.ones(3);
        var e = assertThrows(KilnException.class, () -> a.add(b));
        assertTrue(e.getMessage().startsWith("CudaTest.java:"), e.getMessage());
        assertTrue(e.getMessage().contains("'add' operand #1 is on cpu, operand #0 is on cuda:0"), e.getMessage());
    }

    @Test void toDeviceRoundTripsAndCarriesGradients() {
        assumeGpu();
        Kiln.manualSeed(2);
        Tensor x = Tensor.randn(5, 7);
        Tensor back = x.cuda().cpu();
        assertEquals(Device.cpu(), back.device());
        assertArrayEquals(x.toFloatArray(), back.toFloatArray());
        assertArrayEquals(x.toFloatArray(), x.cuda().mul(1).cpu().toFloatArray()); // computed on the GPU, read on the CPU
        Tensor leaf = Tensor.randn(4).requiresGrad(true);
        Tensor onGpu = leaf.cuda();
        assertFalse(onGpu.isLeaf());
        onGpu.mul(onGpu).sum().backward(); // d/dx sum(x^2) = 2x, computed on the GPU
        assertClose(leaf.mul(2).toNdArray(), leaf.grad().toNdArray(), 1e-6, "gradient through to(cuda)");
    }

    @Test void compiledModelOnCudaMatchesTheCpu() {
        assumeGpu();
        Kiln.manualSeed(3);
        var model = new CompileTest.Mlp();
        Tensor x = Tensor.randn(9, 4);
        NdArray cpu = Kiln.compile(model, x).forward(x).toNdArray();
        model.to(Device.cuda());
        CompiledModel m = Kiln.compile(model, x.cuda());
        assertEquals(Device.cuda(), m.device());
        assertClose(cpu, m.forward(x.cuda()).toNdArray(), 1e-5, "compiled forward");
        var e = assertThrows(KilnException.class, () -> m.forward(x));
        assertTrue(e.getMessage().contains("input #0 is on cpu, but the model was compiled for cuda:0"), e.getMessage());
    }

    /// The same seeded model trained for a few steps on each device: equal losses, weights and
    /// Adam moments, through a smaller last batch, an outside change of a weight between steps,
    /// and a read of the weights in the middle (the resident state copied back, then kept).
    @Test void compiledTrainStepOnCudaMatchesTheCpu() {
        assumeGpu();
        List<Float> cpuLosses = train(Device.cpu()), gpuLosses = train(Device.cuda());
        assertEquals(cpuLosses.size(), gpuLosses.size());
        for (int i = 0; i < cpuLosses.size(); i++)
            assertEquals(cpuLosses.get(i), gpuLosses.get(i), 1e-4 * (1 + Math.abs(cpuLosses.get(i))), "loss of step " + i);
        assertClose(lastState.get(Device.cpu().toString()), lastState.get(Device.cuda().toString()), 1e-4, "fc1.weight after training");
        assertClose(lastMoment.get(Device.cpu().toString()), lastMoment.get(Device.cuda().toString()), 1e-4, "Adam's exp_avg of fc1.weight");
    }

    /// BatchNorm's running statistics stay on the GPU between steps like the weights, and a
    /// scheduler's learning rate reaches every step: equal losses and buffers on both devices.
    @Test void batchNormTrainStepWithSchedulerOnCudaMatchesTheCpu() {
        assumeGpu();
        Map<String, NdArray> cpu = new java.util.HashMap<>(), gpu = new java.util.HashMap<>();
        List<Float> cpuLosses = trainBatchNorm(Device.cpu(), cpu), gpuLosses = trainBatchNorm(Device.cuda(), gpu);
        for (int i = 0; i < cpuLosses.size(); i++)
            assertEquals(cpuLosses.get(i), gpuLosses.get(i), 1e-4 * (1 + Math.abs(cpuLosses.get(i))), "loss of step " + i);
        assertEquals(6, gpu.get("1.num_batches_tracked").getLong(0));
        cpu.forEach((k, v) -> assertClose(v, gpu.get(k), 1e-4, k));
    }

    private static List<Float> trainBatchNorm(Device device, Map<String, NdArray> state) {
        Kiln.manualSeed(5);
        Tensor x = Tensor.randn(40, 4), y = Tensor.randint(0, 3, 40);
        var model = new dev.kiln.nn.Sequential(new dev.kiln.nn.Linear(4, 8), new dev.kiln.nn.BatchNorm1d(8), new dev.kiln.nn.GELU(),
                new dev.kiln.nn.Linear(8, 3)).<dev.kiln.nn.Sequential>to(device);
        var opt = new dev.kiln.optim.AdamW(model.parameters(), 1e-2);
        var sched = new dev.kiln.optim.StepLR(opt, 2, 0.5);
        TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), opt, x.slice(0, 0, 16).to(device), y.slice(0, 0, 16).to(device));
        List<Float> losses = new ArrayList<>();
        for (int s = 0; s < 6; s++) {
            int from = (s * 16) % 40, to = Math.min(from + 16, 40);    // batches of 16, 16, 8, ...
            losses.add(step.step(x.slice(0, from, to).to(device), y.slice(0, from, to).to(device)).item());
            sched.step();
        }
        model.stateDict().forEach((k, v) -> state.put(k, v.toNdArray()));
        return losses;
    }

    private final Map<String, NdArray> lastState = new java.util.HashMap<>(), lastMoment = new java.util.HashMap<>();

    private List<Float> train(Device device) {
        Kiln.manualSeed(4);
        Tensor x = Tensor.randn(40, 4), y = Tensor.randint(0, 3, 40);
        var model = new CompileTest.Mlp().<CompileTest.Mlp>to(device);
        var opt = new Adam(model.parameters(), 1e-2);
        TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), opt, x.slice(0, 0, 16).to(device), y.slice(0, 0, 16).to(device));
        List<Float> losses = new ArrayList<>();
        for (int s = 0; s < 9; s++) {
            int from = (s * 16) % 40, to = Math.min(from + 16, 40);    // batches of 16, 16, 8, ...
            losses.add(step.step(x.slice(0, from, to).to(device), y.slice(0, from, to).to(device)).item());
            if (s == 3) losses.add(model.fc1.weight.sum().item());      // read in the middle
            if (s == 5) model.fc2.bias.copy_(Tensor.full(0.5, 3));     // changed from outside
        }
        assertEquals(9, opt.stepCount());
        lastState.put(device.toString(), model.stateDict().get("fc1.weight").toNdArray());
        lastMoment.put(device.toString(), opt.state().get("0.exp_avg").toNdArray());
        return losses;
    }
}
