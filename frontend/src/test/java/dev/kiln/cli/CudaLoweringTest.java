package dev.kiln.cli;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.codegen.cuda.CudaBackend;
import dev.kiln.codegen.cuda.PtxCompiler;
import dev.kiln.codegen.cuda.PtxProgram;
import dev.kiln.ir.Graph;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;
import dev.kiln.passes.PassManager;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/// What `kiln demo --device cuda` hands the CUDA backend, checked without a GPU: the seed's
/// MNISTNet train step as `Kiln.compileTrainStep` builds it (forward, cross-entropy, backward,
/// Adam) and its forward pass, through the passes and fusion the frontend runs for `cuda`, lower
/// to PTX that NVIDIA's PTX compiler accepts for sm_80 and sm_90.
class CudaLoweringTest {
    static void compiles(Graph g) {
        PtxProgram p = CudaBackend.ptx(PassManager.withFusion(PassManager.Options.none()).run(g));
        assertFalse(p.launches().isEmpty());
        assumeTrue(PtxCompiler.tool() != null, () -> "no PTX compiler here: " + PtxCompiler.problem());
        for (String arch : new String[]{"sm_80", "sm_90"}) {
            var r = PtxCompiler.compile(p.ptx(), arch);
            for (var l : p.launches()) assertNotNull(r.resources().get(l.entry()), arch + ": " + l.entry());
        }
    }

    @Test void theSeedsTrainStepAndForwardLowerToValidPtx() {
        Kiln.manualSeed(0);
        var model = new DemoCommand.MnistNet();
        Tensor x = Tensor.randn(64, 1, 28, 28), y = Tensor.randint(0, 10, 64);
        TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), new Adam(model.parameters(), 1e-3), x, y);
        compiles(step.graph());
        compiles(Kiln.trace(model, x));
    }
}
