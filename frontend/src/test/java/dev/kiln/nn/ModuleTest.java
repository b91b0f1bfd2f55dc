package dev.kiln.nn;

import dev.kiln.Kiln;
import dev.kiln.KilnException;
import dev.kiln.Tensor;
import dev.kiln.ir.IrError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ModuleTest {
    static class MnistNet extends Module {
        final Sequential conv = register("conv", new Sequential(
                new Conv2d(1, 4, 3, 1, 1), new ReLU(), new MaxPool2d(2),
                new Conv2d(4, 8, 3, 1, 1), new ReLU(), new MaxPool2d(2)));
        final Linear fc = register("fc", new Linear(8 * 2 * 2, 10));

        @Override public Tensor forward(Tensor x) {
            x = conv.forward(x);
            return fc.forward(x.view(x.size(0), -1));
        }
    }

    @Test void stateDictUsesPyTorchNamesInOrder() {
        MnistNet net = new MnistNet();
        assertEquals(List.of("conv.0.weight", "conv.0.bias", "conv.3.weight", "conv.3.bias", "fc.weight", "fc.bias"),
                List.copyOf(net.stateDict().keySet()));
        assertEquals(6, net.parameters().size());
        assertArrayEquals(new int[]{4, 1, 3, 3}, net.stateDict().get("conv.0.weight").shape());
        assertEquals(4 * 9 + 4 + 8 * 36 + 8 + 32 * 10 + 10, net.numParameters());
        assertArrayEquals(new int[]{3, 10}, net.forward(Tensor.rand(3, 1, 8, 8)).shape());
    }

    @Test void printsLikePyTorch() {
        assertEquals("""
                MnistNet(
                  (conv): Sequential(
                    (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
                    (1): ReLU()
                    (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
                    (3): Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
                    (4): ReLU()
                    (5): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
                  )
                  (fc): Linear(in_features=32, out_features=10, bias=True)
                )""", new MnistNet().toString());
    }

    @Test void initializationFollowsPyTorchBounds() {
        Kiln.manualSeed(3);
        Linear l = new Linear(400, 50);
        double bound = 1 / Math.sqrt(400);            // kaiming_uniform(a=sqrt(5)) and the bias rule agree
        double max = 0;
        for (float v : l.weight.toFloatArray()) max = Math.max(max, Math.abs(v));
        assertTrue(max <= bound && max > 0.95 * bound, "max |w| " + max);
        for (float v : l.bias.toFloatArray()) assertTrue(Math.abs(v) <= bound);
        Conv2d c = new Conv2d(6, 4, 3, 1, 0, 1, 2, true);  // groups: fan_in = 6/2 * 3 * 3
        double cb = 1 / Math.sqrt(27), cmax = 0;
        for (float v : c.weight.toFloatArray()) cmax = Math.max(cmax, Math.abs(v));
        assertTrue(cmax <= cb && cmax > 0.8 * cb, "max |w| " + cmax);
        Kiln.manualSeed(3);
        assertArrayEquals(l.weight.toFloatArray(), new Linear(400, 50).weight.toFloatArray());
    }

    @Test void conv2dAndPoolingComputeByHand() {
        Conv2d c = new Conv2d(1, 1, 2, 1, 0);
        c.weight.copy_(Tensor.of(new float[][][][]{{{{1, 2}, {3, 4}}}}));
        c.bias.copy_(Tensor.of(new float[]{10}));
        Tensor x = Tensor.arange(9).to(dev.kiln.runtime.DType.F32).view(1, 1, 3, 3);   // 0..8
        // out[0,0] = 0*1 + 1*2 + 3*3 + 4*4 + 10 = 37, and so on
        assertArrayEquals(new float[]{37, 47, 67, 77}, c.forward(x).toFloatArray());
        Conv2d strided = new Conv2d(1, 1, 1, 2, 1);                       // padding 1, stride 2 -> [1,1,3,3]
        assertArrayEquals(new int[]{1, 1, 3, 3}, strided.forward(x.view(1, 1, 3, 3)).shape());
        Tensor p = new MaxPool2d(2).forward(Tensor.arange(25).to(dev.kiln.runtime.DType.F32).view(1, 1, 5, 5));
        assertArrayEquals(new float[]{6, 8, 16, 18}, p.toFloatArray());  // floor mode drops row and column 4
    }

    @Test void dropoutOnlyInTraining() {
        Dropout d = new Dropout(0.5);
        Tensor x = Tensor.ones(1000);
        float[] y = d.forward(x).toFloatArray();
        int zeros = 0;
        for (float v : y) {
            assertTrue(v == 0 || v == 2);
            if (v == 0) zeros++;
        }
        assertTrue(zeros > 400 && zeros < 600, zeros + " zeros");
        assertFalse(java.util.Arrays.equals(y, d.forward(x).toFloatArray()), "a new mask each call");
        d.eval();
        assertArrayEquals(x.toFloatArray(), d.forward(x).toFloatArray());
        assertFalse(d.isTraining());
    }

    @Test void lossesComputeByHand() {
        Tensor logits = Tensor.of(new float[][]{{1, 2, 3}, {1, 1, 1}});
        Tensor target = Tensor.of(new long[]{2, 0});
        double l0 = -Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3))), l1 = Math.log(3);
        assertEquals((l0 + l1) / 2, new CrossEntropyLoss().forward(logits, target).item(), 1e-6);
        assertEquals(l0 + l1, new CrossEntropyLoss(Reduction.SUM).forward(logits, target).item(), 1e-5);
        assertEquals((l0 + l1) / 2, new NLLLoss().forward(logits.logSoftmax(1), target).item(), 1e-6);
        Tensor a = Tensor.of(new float[]{0, 0, 0}), b = Tensor.of(new float[]{0.5f, -2, 3});
        assertEquals((0.25 + 4 + 9) / 3, new MSELoss().forward(a, b).item(), 1e-6);
        assertEquals((0.125 + 1.5 + 2.5) / 3, new SmoothL1Loss().forward(a, b).item(), 1e-6);
    }

    @Test void badLossInputsFailWithTheirShapesAndDtypes() {
        Tensor logits = Tensor.rand(4, 3);
        IrError e = assertThrows(IrError.class, () -> new CrossEntropyLoss().forward(logits, Tensor.rand(4)));
        assertTrue(e.getMessage().matches("ModuleTest\\.java:\\d+: error: 'cross_entropy' target has dtype f32, expected integer class indices.*"),
                e.getMessage());
        IrError s = assertThrows(IrError.class, () -> new CrossEntropyLoss().forward(logits, Tensor.of(new long[]{0, 1})));
        assertTrue(s.getMessage().contains("target has shape [2], expected [4] for input [4,3]"), s.getMessage());
        IrError m = assertThrows(IrError.class, () -> new MSELoss().forward(Tensor.rand(3), Tensor.rand(4)));
        assertTrue(m.getMessage().contains("'mse_loss' target has shape [4], incompatible with input [3]"), m.getMessage());
    }

    @Test void shapeErrorInsideAModuleNamesTheLayer() {
        Module net = new Sequential(new Linear(784, 128), new ReLU(), new Linear(10, 10));
        IrError e = assertThrows(IrError.class, () -> net.forward(Tensor.rand(32, 784)));
        assertTrue(e.getMessage().contains(" in 2: error: 'matmul' operand #1 has shape [10,10], incompatible with operand #0 [32,128]"),
                e.getMessage());
    }

    @Test void stateDictRoundTripsThroughSafetensors(@TempDir Path dir) {
        Kiln.manualSeed(5);
        MnistNet a = new MnistNet();
        Path f = dir.resolve("net.safetensors");
        Kiln.save(a.stateDict(), f);
        Kiln.manualSeed(6);
        MnistNet b = new MnistNet();
        Tensor x = Tensor.rand(2, 1, 8, 8);
        assertFalse(java.util.Arrays.equals(a.forward(x).toFloatArray(), b.forward(x).toFloatArray()));
        Map<String, Tensor> loaded = Kiln.load(f);
        assertEquals(List.copyOf(a.stateDict().keySet()), List.copyOf(loaded.keySet()));
        b.loadStateDict(loaded);
        assertArrayEquals(a.forward(x).toFloatArray(), b.forward(x).toFloatArray());
    }

    @Test void loadStateDictChecksKeysAndShapes() {
        Linear l = new Linear(3, 2);
        var e = assertThrows(KilnException.class, () -> l.loadStateDict(Map.of("weight", Tensor.zeros(2, 3))));
        assertTrue(e.getMessage().contains("missing keys [bias]"), e.getMessage());
        var s = assertThrows(KilnException.class, () -> l.loadStateDict(Map.of("weight", Tensor.zeros(3, 3), "bias", Tensor.zeros(2))));
        assertTrue(s.getMessage().contains("size mismatch for weight: the state dict has shape [3,3], the parameter in the current model has shape [2,3]"),
                s.getMessage());
    }
}
