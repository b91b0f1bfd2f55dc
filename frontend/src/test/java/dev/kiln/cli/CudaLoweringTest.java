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

    /// The layers, losses and optimizers composed in the frontend lower like the seed's: a train
    /// step with BatchNorm (its running statistics as results), GELU, SiLU, ELU, both average
    /// pools, LayerNorm, BCE with logits and AdamW, and the model's forward pass in eval mode.
    @Test void newerLayersTrainStepAndForwardLowerToValidPtx() {
        Kiln.manualSeed(1);
        var model = new dev.kiln.nn.Sequential(new dev.kiln.nn.Conv2d(1, 4, 3, 1, 1), new dev.kiln.nn.BatchNorm2d(4),
                new dev.kiln.nn.GELU(), new dev.kiln.nn.AvgPool2d(2), new dev.kiln.nn.Conv2d(4, 8, 3, 1, 1), new dev.kiln.nn.SiLU(),
                new dev.kiln.nn.AdaptiveAvgPool2d(1), new dev.kiln.nn.Flatten(), new dev.kiln.nn.LayerNorm(8), new dev.kiln.nn.ELU(),
                new dev.kiln.nn.Linear(8, 3));
        Tensor x = Tensor.randn(16, 1, 8, 8), y = Tensor.rand(16, 3);
        TrainStep step = Kiln.compileTrainStep(model, new dev.kiln.nn.BCEWithLogitsLoss(), new dev.kiln.optim.AdamW(model.parameters()), x, y);
        compiles(step.graph());
        model.eval();
        compiles(Kiln.trace(model, x));
    }
}
