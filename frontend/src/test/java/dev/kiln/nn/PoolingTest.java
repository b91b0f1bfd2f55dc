package dev.kiln.nn;

import dev.kiln.Kiln;
import dev.kiln.KilnException;
import dev.kiln.Tensor;
import dev.kiln.ir.IrError;
import dev.kiln.runtime.DType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PoolingTest {
    /// Average of `kh x kw` windows with stride equal to the window, floor mode, by a plain loop.
    static double[] avgPool(double[] x, int n, int c, int h, int w, int kh, int kw) {
        int oh = h / kh, ow = w / kw;
        double[] out = new double[n * c * oh * ow];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    double s = 0;
                    for (int a = 0; a < kh; a++) for (int b = 0; b < kw; b++) s += x[p * h * w + (i * kh + a) * w + j * kw + b];
                    out[(p * oh + i) * ow + j] = s / (kh * kw);
                }
        return out;
    }

    static double[] random(int size, long seed) {
        java.util.Random r = new java.util.Random(seed);
        double[] x = new double[size];
        for (int i = 0; i < size; i++) x[i] = r.nextGaussian();
        return x;
    }

    @Test void avgPool2dAveragesWindowsAndDropsTheRemainder() {
        double[] x = random(2 * 3 * 7 * 6, 1);                    // 7 rows: the last one fills no window
        Tensor t = Tensor.of(x).view(2, 3, 7, 6);
        Tensor y = new AvgPool2d(2).forward(t);
        assertArrayEquals(new int[]{2, 3, 3, 3}, y.shape());
        assertArrayEquals(avgPool(x, 2, 3, 7, 6, 2, 2), y.toDoubleArray(), 1e-15);
        assertArrayEquals(new float[]{2.5f}, new AvgPool2d(2).forward(Tensor.of(new float[][]{{1, 2}, {3, 4}}).view(1, 1, 2, 2))
                .toFloatArray());                                 // by hand
    }

    @Test void adaptiveAvgPool2dUsesTheWindowsThatDivideTheInput() {
        double[] x = random(2 * 2 * 6 * 4, 2);
        Tensor t = Tensor.of(x).view(2, 2, 6, 4);
        assertArrayEquals(avgPool(x, 2, 2, 6, 4, 2, 2), new AdaptiveAvgPool2d(3, 2).forward(t).toDoubleArray(), 1e-15);
        Tensor global = new AdaptiveAvgPool2d(1).forward(t);
        assertArrayEquals(new int[]{2, 2, 1, 1}, global.shape());
        assertArrayEquals(avgPool(x, 2, 2, 6, 4, 6, 4), global.toDoubleArray(), 1e-15);
        IrError e = assertThrows(IrError.class, () -> new AdaptiveAvgPool2d(4).forward(t));
        assertTrue(e.getMessage().matches("PoolingTest\\.java:\\d+: error: 'adaptive_avg_pool2d' output size \\[4,4\\] must divide the "
                + "input's height and width, got an input \\[2,2,6,4\\] \\(only sizes that divide it are supported\\)"), e.getMessage());
    }

    @Test void gradientsMatchFiniteDifferences() {
        double[] x = random(2 * 2 * 4 * 5, 3);
        GradCheck.check(t -> new AvgPool2d(2).forward(t), x, new int[]{2, 2, 4, 5}, 1e-6);
        GradCheck.check(t -> new AdaptiveAvgPool2d(2, 1).forward(t), x, new int[]{2, 2, 4, 5}, 1e-6);
    }

    @Test void compiledMatchesEagerForAnyBatch() {
        Kiln.manualSeed(7);
        Module m = new Sequential(new Conv2d(1, 4, 3, 1, 1), new ReLU(), new AvgPool2d(2), new Conv2d(4, 4, 3, 1, 1),
                new AdaptiveAvgPool2d(1), new Flatten(), new Linear(4, 3));
        var cm = Kiln.compile(m, Tensor.randn(4, 1, 8, 8));
        for (int n : new int[]{4, 2}) {
            Tensor x = Tensor.randn(n, 1, 8, 8);
            assertArrayEquals(m.forward(x).toFloatArray(), cm.forward(x).toFloatArray(), 1e-5f);
        }
    }

    @Test void errorsAndPrinting() {
        IrError e = assertThrows(IrError.class, () -> new AvgPool2d(2).forward(Tensor.zeros(3, 4, 4)));
        assertTrue(e.getMessage().endsWith("'avg_pool2d' expects an [N,C,H,W] input, got [3,4,4]"), e.getMessage());
        e = assertThrows(IrError.class, () -> new AvgPool2d(2).forward(Tensor.zeros(DType.I64, 1, 1, 4, 4)));
        assertTrue(e.getMessage().endsWith("'avg_pool2d' expects a float tensor, got i64[1,1,4,4]"), e.getMessage());
        assertThrows(KilnException.class, () -> new AvgPool2d(2, 1));
        assertEquals("AvgPool2d(kernel_size=2, stride=2, padding=0)", new AvgPool2d(2).toString());
        assertEquals("AdaptiveAvgPool2d(output_size=1)", new AdaptiveAvgPool2d(1).toString());
    }

    static class Tower extends Module {
        final ModuleList layers = register("layers", new ModuleList(List.of(new Linear(3, 4), new Linear(4, 4))));

        Tower() { layers.append(new Linear(4, 2)); }

        @Override public Tensor forward(Tensor x) {
            for (Module m : layers) x = m.forward(x).relu();
            return x;
        }
    }

    @Test void moduleListRegistersItsModules() {
        Tower t = new Tower();
        assertEquals(List.of("layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias"),
                List.copyOf(t.stateDict().keySet()));
        assertEquals(3, t.layers.size());
        assertSame(t.layers.get(2), t.layers.children().get("2"));
        assertArrayEquals(new int[]{5, 2}, t.forward(Tensor.randn(5, 3)).shape());
        assertThrows(KilnException.class, () -> t.layers.forward(Tensor.randn(5, 3)));
        var e = assertThrows(KilnException.class, () -> t.layers.get(3));
        assertTrue(e.getMessage().contains("index 3 is out of range for 3 modules"), e.getMessage());
    }
}
