package dev.kiln.nn;

import dev.kiln.CompiledModel;
import dev.kiln.Kiln;
import dev.kiln.KilnException;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.ir.IrError;
import dev.kiln.optim.SGD;
import dev.kiln.runtime.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class NormalizationTest {
    /// Values `[n, c, h*w]` of a pseudo-random `[n, c, h, w]` input, and the input itself.
    static double[][][] values(int n, int c, int hw, long seed) {
        java.util.Random r = new java.util.Random(seed);
        double[][][] v = new double[n][c][hw];
        for (double[][] a : v) for (double[] b : a) for (int k = 0; k < hw; k++) b[k] = r.nextGaussian() * 2 + 0.5;
        return v;
    }

    static Tensor tensor(double[][][] v, int h, int w) {
        int n = v.length, c = v[0].length;
        double[] flat = new double[n * c * h * w];
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) System.arraycopy(v[i][j], 0, flat, (i * c + j) * h * w, h * w);
        return Tensor.of(flat).view(n, c, h, w).to(DType.F32);
    }

    /// Per-channel mean and biased variance, by a plain loop.
    static double[][] channelStats(double[][][] v) {
        int n = v.length, c = v[0].length, hw = v[0][0].length;
        double[] mean = new double[c], var = new double[c];
        for (int j = 0; j < c; j++) {
            for (double[][] a : v) for (double x : a[j]) mean[j] += x;
            mean[j] /= n * hw;
            for (double[][] a : v) for (double x : a[j]) var[j] += (x - mean[j]) * (x - mean[j]);
            var[j] /= n * hw;
        }
        return new double[][]{mean, var};
    }

    static void assertNormalized(double[][][] v, double[] mean, double[] var, double[] w, double[] b, double eps, float[] got) {
        int n = v.length, c = v[0].length, hw = v[0][0].length;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int k = 0; k < hw; k++) {
                    double want = (v[i][j][k] - mean[j]) / Math.sqrt(var[j] + eps) * w[j] + b[j];
                    assertEquals(want, got[(i * c + j) * hw + k], 2e-5 * Math.max(1, Math.abs(want)), "at " + i + "," + j + "," + k);
                }
    }

    @Test void batchNorm2dTrainsWithBatchStatisticsAndTracksRunningOnes() {
        BatchNorm2d bn = new BatchNorm2d(3);
        double[] w = {1.5, -0.5, 2}, b = {0.1, 0.2, -0.3};
        bn.weight.copy_(Tensor.of(w));
        bn.bias.copy_(Tensor.of(b));
        double[] rm = {0, 0, 0}, rv = {1, 1, 1};
        for (int step = 0; step < 2; step++) {
            double[][][] v = values(2, 3, 4, step);
            float[] got = bn.forward(tensor(v, 2, 2)).toFloatArray();
            double[][] s = channelStats(v);
            assertNormalized(v, s[0], s[1], w, b, 1e-5, got);
            int count = 2 * 4;
            for (int j = 0; j < 3; j++) {                     // PyTorch: the unbiased variance goes into running_var
                rm[j] = 0.9 * rm[j] + 0.1 * s[0][j];
                rv[j] = 0.9 * rv[j] + 0.1 * s[1][j] * count / (count - 1);
            }
        }
        assertArrayEquals(rm, toDoubles(bn.runningMean), 1e-6);
        assertArrayEquals(rv, toDoubles(bn.runningVar), 1e-6);
        assertEquals(2, bn.numBatchesTracked.itemLong());

        bn.eval();                                           // now the running statistics normalize
        double[][][] v = values(3, 3, 4, 9);
        assertNormalized(v, rm, rv, w, b, 1e-5, bn.forward(tensor(v, 2, 2)).toFloatArray());
        assertEquals(2, bn.numBatchesTracked.itemLong(), "eval mode updates nothing");
    }

    static double[] toDoubles(Tensor t) { return t.toDoubleArray(); }

    /// With a null momentum the running statistics are the plain average over the batches seen
    /// (PyTorch's `momentum=None`): factor 1/1, then 1/2, then 1/3.
    @Test void batchNormWithoutMomentumAveragesCumulatively() {
        BatchNorm2d bn = new BatchNorm2d(2, 1e-5, null, true, true);
        double[] sumMean = new double[2], sumVar = new double[2];
        for (int step = 0; step < 3; step++) {
            double[][][] v = values(3, 2, 4, 20 + step);
            bn.forward(tensor(v, 2, 2));
            double[][] s = channelStats(v);
            for (int j = 0; j < 2; j++) {
                sumMean[j] += s[0][j];
                sumVar[j] += s[1][j] * 12 / 11;
            }
        }
        for (int j = 0; j < 2; j++) {
            assertEquals(sumMean[j] / 3, bn.runningMean.toDoubleArray()[j], 1e-6);
            assertEquals(sumVar[j] / 3, bn.runningVar.toDoubleArray()[j], 1e-6);
        }
        assertEquals("BatchNorm2d(2, eps=1.0E-5, momentum=None, affine=True, track_running_stats=True)", bn.toString());
    }

    @Test void batchNormWithoutRunningStatisticsUsesTheBatchInEvalMode() {
        BatchNorm1d bn = new BatchNorm1d(2, 1e-3, 0.1, false, false);
        assertEquals(Map.of(), bn.stateDict());
        bn.eval();
        double[][][] v = {{{1}, {10}}, {{3}, {-2}}, {{8}, {4}}};     // [3, 2] as [n][c][1]
        Tensor x = Tensor.of(new float[][]{{1, 10}, {3, -2}, {8, 4}});
        double[][] s = channelStats(v);
        assertNormalized(v, s[0], s[1], new double[]{1, 1}, new double[]{0, 0}, 1e-3, bn.forward(x).toFloatArray());
    }

    @Test void batchNorm1dNormalizesSequencesPerChannel() {
        BatchNorm1d bn = new BatchNorm1d(3);
        double[][][] v = values(4, 3, 5, 7);                    // [N, C, L]
        float[] got = bn.forward(tensor(v, 1, 5).view(4, 3, 5)).toFloatArray();
        double[][] s = channelStats(v);
        assertNormalized(v, s[0], s[1], new double[]{1, 1, 1}, new double[]{0, 0, 0}, 1e-5, got);
        for (int j = 0; j < 3; j++) assertEquals(0.1 * s[1][j] * 20 / 19 + 0.9, bn.runningVar.toDoubleArray()[j], 1e-6);
    }

    @Test void batchNormGradientMatchesFiniteDifferences() {
        BatchNorm2d bn = new BatchNorm2d(2, 1e-5, 0.1, true, false);
        bn.weight.copy_(Tensor.of(new float[]{1.5f, -0.7f}));
        double[] x0 = new double[2 * 2 * 3];
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < x0.length; i++) x0[i] = r.nextGaussian();
        GradCheck.check(x -> bn.forward(x), x0, new int[]{2, 2, 3, 1}, 1e-5);
        GradCheck.check(x -> new BatchNorm1d(3).forward(x), x0, new int[]{4, 3}, 1e-5);
    }

    static class ConvBn extends Module {
        final Conv2d conv = register("conv", new Conv2d(2, 3, 3, 1, 1));
        final BatchNorm2d bn;
        final Linear fc;

        ConvBn() { this(0.1); }

        ConvBn(Double momentum) {
            bn = register("bn", new BatchNorm2d(3, 1e-5, momentum, true, true));
            fc = register("fc", new Linear(3 * 4 * 4, 2));
        }

        @Override public Tensor forward(Tensor x) {
            Tensor h = bn.forward(conv.forward(x)).relu();
            return fc.forward(h.view(h.size(0), -1));
        }
    }

    /// A compiled step updates the running statistics as the eager loop does, also for a
    /// last, smaller batch (the count per channel follows the symbolic batch size), with a
    /// momentum and with the cumulative average.
    @Test void compiledTrainStepUpdatesRunningStatistics() {
        compiledTrainStepUpdatesRunningStatistics(0.1);
        compiledTrainStepUpdatesRunningStatistics(null);
    }

    void compiledTrainStepUpdatesRunningStatistics(Double momentum) {
        Kiln.manualSeed(21);
        ConvBn eager = new ConvBn(momentum);
        Kiln.manualSeed(21);
        ConvBn compiled = new ConvBn(momentum);
        var loss = new CrossEntropyLoss();
        SGD oe = new SGD(eager.parameters(), 0.1, 0.9), oc = new SGD(compiled.parameters(), 0.1, 0.9);
        TrainStep step = Kiln.compileTrainStep(compiled, loss, oc, Tensor.rand(6, 2, 4, 4), Tensor.of(new long[]{0, 1, 0, 1, 0, 1}));
        for (int i = 0; i < 3; i++) {
            int n = i == 2 ? 3 : 6;
            Tensor x = Tensor.randn(n, 2, 4, 4), y = Tensor.randint(0, 2, n);
            oe.zeroGrad();
            Tensor le = loss.forward(eager.forward(x), y);
            le.backward();
            oe.step();
            assertEquals(le.item(), step.step(x, y).item(), 1e-5, "step " + i);
        }
        var pe = eager.stateDict();
        compiled.stateDict().forEach((k, v) -> assertArrayEquals(pe.get(k).toDoubleArray(), v.toDoubleArray(), 1e-5, k));
        assertEquals(3, compiled.bn.numBatchesTracked.itemLong());
        assertNotEquals(0, compiled.bn.runningMean.toFloatArray()[0]);
    }

    /// A BatchNorm the model calls but never registered: its buffers have no state-dict name.
    @Test void compiledTrainStepRefusesUnregisteredBuffers() {
        BatchNorm1d loose = new BatchNorm1d(4);
        Module m = new Module() {
            final Linear fc = register("fc", new Linear(4, 4));

            @Override public Tensor forward(Tensor x) { return loose.forward(fc.forward(x)); }
        };
        var e = assertThrows(KilnException.class, () -> Kiln.compileTrainStep(m, new MSELoss(), new SGD(m.parameters(), 0.1),
                Tensor.randn(3, 4), Tensor.randn(3, 4)));
        assertTrue(e.getMessage().endsWith("compileTrainStep: BatchNorm1d updates a buffer that is not in the model's state dict "
                + "(register the module in the model)"), e.getMessage());
    }

    @Test void compiledForwardNeedsEvalMode() {
        Kiln.manualSeed(22);
        ConvBn m = new ConvBn();
        Tensor x = Tensor.randn(4, 2, 4, 4);
        var e = assertThrows(KilnException.class, () -> Kiln.compile(m, x));
        assertTrue(e.getMessage().matches("NormalizationTest\\.java:\\d+: error: BatchNorm2d 'bn' is in training mode and updates its "
                + "buffers .*; call eval\\(\\) on the model before compiling.*"), e.getMessage());
        assertEquals(0, m.bn.numBatchesTracked.itemLong(), "a refused trace changes nothing");
        m.forward(x);                                        // one eager training step's statistics, then eval
        m.eval();
        CompiledModel cm = Kiln.compile(m, x);
        assertArrayEquals(m.forward(x).toFloatArray(), cm.forward(x).toFloatArray(), 1e-5f);
    }

    @Test void buffersAreInTheStateDictAndRoundTrip(@TempDir Path dir) {
        Kiln.manualSeed(23);
        ConvBn m = new ConvBn();
        m.forward(Tensor.randn(4, 2, 4, 4));
        m.forward(Tensor.randn(4, 2, 4, 4));
        assertEquals(List.of("conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                "bn.num_batches_tracked", "fc.weight", "fc.bias"), List.copyOf(m.stateDict().keySet()));
        assertEquals(List.of(m.conv.weight, m.conv.bias, m.bn.weight, m.bn.bias, m.fc.weight, m.fc.bias), m.parameters());
        assertEquals(DType.I64, m.bn.numBatchesTracked.dtype());
        Kiln.save(m.stateDict(), dir.resolve("m.safetensors"));
        ConvBn fresh = new ConvBn();
        fresh.loadStateDict(Kiln.load(dir.resolve("m.safetensors")));
        assertArrayEquals(m.bn.runningMean.toFloatArray(), fresh.bn.runningMean.toFloatArray());
        assertArrayEquals(m.bn.runningVar.toFloatArray(), fresh.bn.runningVar.toFloatArray());
        assertEquals(2, fresh.bn.numBatchesTracked.itemLong());
        m.eval();
        fresh.eval();
        Tensor x = Tensor.randn(2, 2, 4, 4);
        assertArrayEquals(m.forward(x).toFloatArray(), fresh.forward(x).toFloatArray());

        // a checkpoint holds the buffers too
        m.train();
        SGD opt = new SGD(m.parameters(), 0.1);
        dev.kiln.Checkpoint.save(dir.resolve("c.safetensors"), m, opt, 1, 0);
        ConvBn resumed = new ConvBn();
        dev.kiln.Checkpoint.load(dir.resolve("c.safetensors"), resumed, new SGD(resumed.parameters(), 0.1));
        assertArrayEquals(m.bn.runningVar.toFloatArray(), resumed.bn.runningVar.toFloatArray());
        assertEquals(2, resumed.bn.numBatchesTracked.itemLong());
    }

    @Test void batchNormErrorsNameExpectedAndGiven() {
        IrError e = assertThrows(IrError.class, () -> new BatchNorm2d(3).forward(Tensor.zeros(2, 4, 5, 5)));
        assertTrue(e.getMessage().matches("NormalizationTest\\.java:\\d+: error: 'batch_norm' BatchNorm2d\\(3\\) expects 3 channels "
                + "\\(axis 1\\), got an input \\[2,4,5,5\\]"), e.getMessage());
        e = assertThrows(IrError.class, () -> new BatchNorm2d(3).forward(Tensor.zeros(2, 3)));
        assertTrue(e.getMessage().endsWith("'batch_norm' BatchNorm2d expects an input [N,C,H,W], got [2,3]"), e.getMessage());
        e = assertThrows(IrError.class, () -> new BatchNorm1d(3).forward(Tensor.zeros(1, 3)));
        assertTrue(e.getMessage().endsWith("expects more than 1 value per channel when training, got an input [1,3]"), e.getMessage());
        assertEquals("BatchNorm2d(3, eps=1.0E-5, momentum=0.1, affine=True, track_running_stats=True)", new BatchNorm2d(3).toString());
    }

    // ---- LayerNorm ------------------------------------------------------------------------------

    @Test void layerNormNormalizesTheLastDimensions() {
        java.util.Random r = new java.util.Random(4);
        double[] x = new double[2 * 3 * 4];
        for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian() * 3 + 1;
        for (int k : new int[]{1, 2}) {                       // normalizedShape [4], then [3, 4]
            int[] shape = k == 1 ? new int[]{4} : new int[]{3, 4};
            int size = k == 1 ? 4 : 12;
            LayerNorm ln = new LayerNorm(shape);
            double[] w = new double[size], b = new double[size];
            for (int i = 0; i < size; i++) {
                w[i] = 1 + 0.1 * i;
                b[i] = 0.05 * i - 0.2;
            }
            ln.weight.copy_(Tensor.of(w).view(shape));
            ln.bias.copy_(Tensor.of(b).view(shape));
            float[] got = ln.forward(Tensor.of(x).view(2, 3, 4).to(DType.F32)).toFloatArray();
            for (int s = 0; s < x.length / size; s++) {
                double mean = 0, var = 0;
                for (int i = 0; i < size; i++) mean += x[s * size + i] / size;
                for (int i = 0; i < size; i++) var += Math.pow(x[s * size + i] - mean, 2) / size;
                for (int i = 0; i < size; i++) {
                    double want = (x[s * size + i] - mean) / Math.sqrt(var + 1e-5) * w[i] + b[i];
                    assertEquals(want, got[s * size + i], 2e-5 * Math.max(1, Math.abs(want)), "shape " + k + " at " + (s * size + i));
                }
            }
        }
    }

    @Test void layerNormGradientAndCompiledMatch() {
        LayerNorm ln = new LayerNorm(new int[]{3}, 1e-5, true);
        ln.weight.copy_(Tensor.of(new float[]{2, -1, 0.5f}));
        double[] x0 = {0.3, -1.2, 0.7, 2.0, -0.4, 1.1, 0.05, 0.9, -2.2, 1.7, 0.2, -0.6};
        GradCheck.check(ln::forward, x0, new int[]{4, 3}, 1e-5);
        GradCheck.check(x -> new LayerNorm(new int[]{2, 3}, 1e-5, false).forward(x), x0, new int[]{2, 2, 3}, 1e-5);
        Kiln.manualSeed(5);
        Module m = new Sequential(new Linear(3, 6), new LayerNorm(6), new GELU(), new Linear(6, 2));
        Tensor x = Tensor.randn(5, 3);
        assertArrayEquals(m.forward(x).toFloatArray(), Kiln.compile(m, Tensor.randn(2, 3)).forward(x).toFloatArray(), 1e-5f);
    }

    @Test void layerNormErrorsAndPrinting() {
        IrError e = assertThrows(IrError.class, () -> new LayerNorm(4, 5).forward(Tensor.zeros(2, 3, 5)));
        assertTrue(e.getMessage().matches("NormalizationTest\\.java:\\d+: error: 'layer_norm' expects an input whose last dimensions "
                + "are \\[4,5\\] \\(normalized_shape\\), got \\[2,3,5\\]"), e.getMessage());
        assertEquals("LayerNorm((10,), eps=1.0E-5, elementwise_affine=True)", new LayerNorm(10).toString());
        assertEquals(List.of("weight", "bias"), List.copyOf(new LayerNorm(10).stateDict().keySet()));
        assertEquals(0, new LayerNorm(new int[]{10}, 1e-5, false).numParameters());
        assertEquals(List.of("weight"), List.copyOf(new LayerNorm(new int[]{10}, 1e-5, true, false).stateDict().keySet()));
    }
}
