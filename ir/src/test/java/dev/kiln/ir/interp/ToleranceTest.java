package dev.kiln.ir.interp;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ToleranceTest {
    @Test void f32BoundIsRelativeToTheLargestFiniteMagnitude() {
        NdArray want = NdArray.of(new float[]{0.5f, -300f, Float.POSITIVE_INFINITY}, 3);
        assertEquals(2e-5 * 300, Tolerance.bound(want), 0);
        // below 1 in magnitude the bound is absolute: 2e-5
        assertEquals(2e-5, Tolerance.bound(NdArray.of(new float[]{0.25f, 0.5f}, 2)), 0);
        // just inside and just outside 300 * 2e-5 = 0.006 at an element far smaller than the largest
        assertNull(Tolerance.mismatch(want, NdArray.of(new float[]{0.505f, -300f, Float.POSITIVE_INFINITY}, 3)));
        assertEquals("element 0: want 0.5, got 0.5070000290870667, tolerance 0.006",
                Tolerance.mismatch(want, NdArray.of(new float[]{0.507f, -300f, Float.POSITIVE_INFINITY}, 3)));
    }

    @Test void eachDtypeHasItsBound() {
        assertEquals(1e-12 * 4, Tolerance.bound(NdArray.of(new double[]{-4, 2}, 2)), 0);
        NdArray half = NdArray.zeros(DType.F16, 1);
        half.setDouble(0, 8);
        assertEquals(0x1p-10 * 8, Tolerance.bound(half), 0);
        assertEquals(0x1p-7, Tolerance.bound(NdArray.zeros(DType.BF16, 2)), 0);
        assertEquals(0, Tolerance.bound(NdArray.of(new long[]{5, 1_000_000}, 2)), 0);
    }

    @Test void nanMatchesOnlyNanAndInfinityOnlyItself() {
        NdArray want = NdArray.of(new float[]{Float.NaN, Float.NEGATIVE_INFINITY}, 2);
        assertNull(Tolerance.mismatch(want, NdArray.of(new float[]{Float.NaN, Float.NEGATIVE_INFINITY}, 2)));
        assertTrue(Tolerance.mismatch(want, NdArray.of(new float[]{0f, Float.NEGATIVE_INFINITY}, 2)).startsWith("element 0: want NaN, got 0.0"));
        assertTrue(Tolerance.mismatch(want, NdArray.of(new float[]{Float.NaN, Float.POSITIVE_INFINITY}, 2)).startsWith("element 1: want -Infinity, got Infinity"));
        assertTrue(Tolerance.mismatch(NdArray.of(new float[]{1f}, 1), NdArray.of(new float[]{Float.NaN}, 1)).startsWith("element 0"));
    }

    @Test void integersAndBoolsAreExact() {
        assertEquals("element 1: want 7, got 8", Tolerance.mismatch(NdArray.of(new int[]{1, 7}, 2), NdArray.of(new int[]{1, 8}, 2)));
        assertEquals("element 0: want 1, got 0", Tolerance.mismatch(NdArray.of(new boolean[]{true}, 1), NdArray.of(new boolean[]{false}, 1)));
        assertNull(Tolerance.mismatch(NdArray.of(new long[]{-3}, 1), NdArray.of(new long[]{-3}, 1)));
    }

    @Test void dtypeShapeAndCountAreChecked() {
        assertEquals("dtype: want f32, got f64", Tolerance.mismatch(NdArray.of(new float[]{1f}, 1), NdArray.of(new double[]{1}, 1)));
        assertEquals("shape: want [2], got [1, 2]", Tolerance.mismatch(NdArray.of(new float[]{1f, 2f}, 2), NdArray.of(new float[]{1f, 2f}, 1, 2)));
        NdArray a = NdArray.of(new float[]{1f}, 1);
        assertEquals("want 2 results, got 1", Tolerance.mismatch(List.of(a, a), List.of(a)));
        assertEquals("result #1 element 0: want 1.0, got 2.0, tolerance 2.0E-5",
                Tolerance.mismatch(List.of(a, a), List.of(a, NdArray.of(new float[]{2f}, 1))));
    }
}
