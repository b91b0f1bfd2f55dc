package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.function.Executable;

/// Shared helpers for the tensor file tests: random arrays with awkward values, and
/// bit-exact comparison (NdArray.contentEquals treats all NaNs alike).
final class TensorFixtures {
    private TensorFixtures() {}

    /// Shapes of rank 0 to 4, plus empty ones.
    static final List<int[]> SHAPES = List.of(new int[] {}, new int[] {5}, new int[] {2, 3}, new int[] {2, 1, 3},
            new int[] {2, 3, 1, 2}, new int[] {0}, new int[] {3, 0, 2});

    static NdArray random(DType dtype, int[] shape, Random rnd) {
        NdArray a = NdArray.zeros(dtype, shape);
        int n = a.size();
        switch (a.data()) {
            case float[] d -> {
                float[] special = {Float.NaN, Float.intBitsToFloat(0x7f800001), -0.0f, Float.POSITIVE_INFINITY, Float.MIN_VALUE, -Float.MAX_VALUE};
                for (int i = 0; i < n; i++) d[i] = i < special.length && rnd.nextBoolean() ? special[i] : (float) rnd.nextGaussian();
            }
            case double[] d -> {
                double[] special = {Double.NaN, Double.longBitsToDouble(0x7ff0000000000001L), -0.0, Double.NEGATIVE_INFINITY, Double.MIN_VALUE};
                for (int i = 0; i < n; i++) d[i] = i < special.length && rnd.nextBoolean() ? special[i] : rnd.nextGaussian();
            }
            case int[] d -> { for (int i = 0; i < n; i++) d[i] = i == 0 ? Integer.MIN_VALUE : rnd.nextInt(); }
            case long[] d -> { for (int i = 0; i < n; i++) d[i] = i == 0 ? Long.MIN_VALUE : rnd.nextLong(); }
            case boolean[] d -> { for (int i = 0; i < n; i++) d[i] = rnd.nextBoolean(); }
            case short[] d -> { for (int i = 0; i < n; i++) d[i] = (short) rnd.nextInt(); }   // any bit pattern
            default -> throw new IllegalStateException();
        }
        return a;
    }

    /// Same dtype, shape and bit patterns (NaN payloads included).
    static void assertSameBits(NdArray expected, NdArray actual) {
        assertEquals(expected.dtype(), actual.dtype());
        assertArrayEquals(expected.shape(), actual.shape());
        switch (expected.data()) {
            case float[] e -> {
                float[] a = (float[]) actual.data();
                for (int i = 0; i < e.length; i++) assertEquals(Float.floatToRawIntBits(e[i]), Float.floatToRawIntBits(a[i]), "element " + i);
            }
            case double[] e -> {
                double[] a = (double[]) actual.data();
                for (int i = 0; i < e.length; i++) assertEquals(Double.doubleToRawLongBits(e[i]), Double.doubleToRawLongBits(a[i]), "element " + i);
            }
            default -> assertTrue(expected.contentEquals(actual), () -> expected + " vs " + actual);
        }
    }

    /// Runs `body`, expects a TensorFileException from `source` whose message holds every fragment.
    static TensorFileException assertRefused(String source, Executable body, String... fragments) {
        TensorFileException e = assertThrows(TensorFileException.class, body);
        assertTrue(e.getMessage().startsWith(source + ": "), () -> "message does not name the source: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), () -> "message lacks '" + f + "': " + e.getMessage());
        return e;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) { System.arraycopy(p, 0, out, at, p.length); at += p.length; }
        return out;
    }

    /// `values` (each 0..255) as bytes, for writing expected file contents by hand.
    static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) b[i] = (byte) values[i];
        return b;
    }
}
