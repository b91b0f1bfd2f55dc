package dev.kiln.codegen.jvm.rt;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/// The vector micro-kernel: an 8 x 32 tile of C held in 16 512-bit accumulators (two vectors
/// of 16 floats per row), updated with one broadcast and two FMAs per row and depth step. A is
/// a packed panel or, for `Gemm.gemmInPlaceA`, eight rows read in place.
/// Loaded by reflection only when `jdk.incubator.vector` is present. The accumulators are
/// spelled out one by one so that C2 keeps all of them in registers.
final class VectorMicro implements Gemm.Micro {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    static final int MR = 8, NR = 32;

    public int mr() { return MR; }
    public int nr() { return NR; }

    public float dot(float[] a, int ao, float[] b, int bo, int k) {
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        int p = 0;
        for (; p + 32 <= k; p += 32) {
            s0 = FloatVector.fromArray(S, a, ao + p).fma(FloatVector.fromArray(S, b, bo + p), s0);
            s1 = FloatVector.fromArray(S, a, ao + p + 16).fma(FloatVector.fromArray(S, b, bo + p + 16), s1);
        }
        // lanes added in a fixed order: reduceLanes(ADD) leaves the order open, and the JIT's
        // intrinsic and the interpreter's fallback differ, so the bits would depend on warm-up
        FloatVector v = s0.add(s1);
        float sum = 0;
        for (int i = 0; i < S.length(); i++) sum += v.lane(i);
        for (; p < k; p++) sum = Math.fma(a[ao + p], b[bo + p], sum);
        return sum;
    }

    public void axpy(float s, float[] b, int bo, float[] c, int co, int n) {
        FloatVector sv = FloatVector.broadcast(S, s);
        int j = 0;
        for (; j + 16 <= n; j += 16)
            sv.fma(FloatVector.fromArray(S, b, bo + j), FloatVector.fromArray(S, c, co + j)).intoArray(c, co + j);
        for (; j < n; j++) c[co + j] = Math.fma(s, b[bo + j], c[co + j]);
    }

    public void dots4x4(int k, float[] a, int a0, int a1, int a2, int a3, float[] b, int b0, int b1, int b2, int b3, float[] out) {
        FloatVector s00 = FloatVector.zero(S), s01 = FloatVector.zero(S), s02 = FloatVector.zero(S), s03 = FloatVector.zero(S),
                s10 = FloatVector.zero(S), s11 = FloatVector.zero(S), s12 = FloatVector.zero(S), s13 = FloatVector.zero(S),
                s20 = FloatVector.zero(S), s21 = FloatVector.zero(S), s22 = FloatVector.zero(S), s23 = FloatVector.zero(S),
                s30 = FloatVector.zero(S), s31 = FloatVector.zero(S), s32 = FloatVector.zero(S), s33 = FloatVector.zero(S);
        int p = 0;
        for (; p + 16 <= k; p += 16) {
            FloatVector y0 = FloatVector.fromArray(S, b, b0 + p), y1 = FloatVector.fromArray(S, b, b1 + p),
                    y2 = FloatVector.fromArray(S, b, b2 + p), y3 = FloatVector.fromArray(S, b, b3 + p);
            FloatVector x = FloatVector.fromArray(S, a, a0 + p);
            s00 = x.fma(y0, s00); s01 = x.fma(y1, s01); s02 = x.fma(y2, s02); s03 = x.fma(y3, s03);
            x = FloatVector.fromArray(S, a, a1 + p);
            s10 = x.fma(y0, s10); s11 = x.fma(y1, s11); s12 = x.fma(y2, s12); s13 = x.fma(y3, s13);
            x = FloatVector.fromArray(S, a, a2 + p);
            s20 = x.fma(y0, s20); s21 = x.fma(y1, s21); s22 = x.fma(y2, s22); s23 = x.fma(y3, s23);
            x = FloatVector.fromArray(S, a, a3 + p);
            s30 = x.fma(y0, s30); s31 = x.fma(y1, s31); s32 = x.fma(y2, s32); s33 = x.fma(y3, s33);
        }
        // lanes summed in a fixed order (see dot), then the tail
        float[] lanes = out; // the 256 lanes go after the 16 results (see Gemm.Micro)
        s00.intoArray(lanes, 16); s01.intoArray(lanes, 32); s02.intoArray(lanes, 48); s03.intoArray(lanes, 64);
        s10.intoArray(lanes, 80); s11.intoArray(lanes, 96); s12.intoArray(lanes, 112); s13.intoArray(lanes, 128);
        s20.intoArray(lanes, 144); s21.intoArray(lanes, 160); s22.intoArray(lanes, 176); s23.intoArray(lanes, 192);
        s30.intoArray(lanes, 208); s31.intoArray(lanes, 224); s32.intoArray(lanes, 240); s33.intoArray(lanes, 256);
        int[] ar = {a0, a1, a2, a3}, br = {b0, b1, b2, b3};
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int base = 16 + (4 * i + j) * 16;
                float sum = 0;
                for (int l = 0; l < 16; l++) sum += lanes[base + l];
                for (int q = p; q < k; q++) sum = Math.fma(a[ar[i] + q], b[br[j] + q], sum);
                out[4 * i + j] = sum;
            }
    }

    public void tile(int kc, float[] ap, int apOff, float[] bp, int bpOff, float[] c, int cOff, int ldc, boolean accumulate) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c50 = FloatVector.zero(S), c51 = FloatVector.zero(S), c60 = FloatVector.zero(S), c61 = FloatVector.zero(S), c70 = FloatVector.zero(S), c71 = FloatVector.zero(S);
        int ao = apOff, bo = bpOff;
        for (int p = 0; p < kc; p++, ao += MR, bo += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bo), b1 = FloatVector.fromArray(S, bp, bo + 16);
            FloatVector a0 = FloatVector.broadcast(S, ap[ao + 0]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = a4.fma(b0, c40);
            c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = a5.fma(b0, c50);
            c51 = a5.fma(b1, c51);
            FloatVector a6 = FloatVector.broadcast(S, ap[ao + 6]);
            c60 = a6.fma(b0, c60);
            c61 = a6.fma(b1, c61);
            FloatVector a7 = FloatVector.broadcast(S, ap[ao + 7]);
            c70 = a7.fma(b0, c70);
            c71 = a7.fma(b1, c71);
        }
        if (accumulate) {
            c00 = c00.add(FloatVector.fromArray(S, c, cOff + 0 * ldc));
            c01 = c01.add(FloatVector.fromArray(S, c, cOff + 0 * ldc + 16));
            c10 = c10.add(FloatVector.fromArray(S, c, cOff + 1 * ldc));
            c11 = c11.add(FloatVector.fromArray(S, c, cOff + 1 * ldc + 16));
            c20 = c20.add(FloatVector.fromArray(S, c, cOff + 2 * ldc));
            c21 = c21.add(FloatVector.fromArray(S, c, cOff + 2 * ldc + 16));
            c30 = c30.add(FloatVector.fromArray(S, c, cOff + 3 * ldc));
            c31 = c31.add(FloatVector.fromArray(S, c, cOff + 3 * ldc + 16));
            c40 = c40.add(FloatVector.fromArray(S, c, cOff + 4 * ldc));
            c41 = c41.add(FloatVector.fromArray(S, c, cOff + 4 * ldc + 16));
            c50 = c50.add(FloatVector.fromArray(S, c, cOff + 5 * ldc));
            c51 = c51.add(FloatVector.fromArray(S, c, cOff + 5 * ldc + 16));
            c60 = c60.add(FloatVector.fromArray(S, c, cOff + 6 * ldc));
            c61 = c61.add(FloatVector.fromArray(S, c, cOff + 6 * ldc + 16));
            c70 = c70.add(FloatVector.fromArray(S, c, cOff + 7 * ldc));
            c71 = c71.add(FloatVector.fromArray(S, c, cOff + 7 * ldc + 16));
        }
        c00.intoArray(c, cOff + 0 * ldc);
        c01.intoArray(c, cOff + 0 * ldc + 16);
        c10.intoArray(c, cOff + 1 * ldc);
        c11.intoArray(c, cOff + 1 * ldc + 16);
        c20.intoArray(c, cOff + 2 * ldc);
        c21.intoArray(c, cOff + 2 * ldc + 16);
        c30.intoArray(c, cOff + 3 * ldc);
        c31.intoArray(c, cOff + 3 * ldc + 16);
        c40.intoArray(c, cOff + 4 * ldc);
        c41.intoArray(c, cOff + 4 * ldc + 16);
        c50.intoArray(c, cOff + 5 * ldc);
        c51.intoArray(c, cOff + 5 * ldc + 16);
        c60.intoArray(c, cOff + 6 * ldc);
        c61.intoArray(c, cOff + 6 * ldc + 16);
        c70.intoArray(c, cOff + 7 * ldc);
        c71.intoArray(c, cOff + 7 * ldc + 16);
    }

    /// The same with A read in place (see `Gemm.Micro`): a copy of its own, not a call with
    /// ai = 1, as = MR, so that the packed kernel keeps constant offsets (20% faster).
    public void tile(int kc, float[] ap, int apOff, int ai, int as, float[] bp, int bpOff, float[] c, int cOff, int ldc,
                     boolean accumulate) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c50 = FloatVector.zero(S), c51 = FloatVector.zero(S), c60 = FloatVector.zero(S), c61 = FloatVector.zero(S), c70 = FloatVector.zero(S), c71 = FloatVector.zero(S);
        int ao = apOff, bo = bpOff, a2i = 2 * ai, a3i = 3 * ai, a4i = 4 * ai, a5i = 5 * ai, a6i = 6 * ai, a7i = 7 * ai;
        for (int p = 0; p < kc; p++, ao += as, bo += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bo), b1 = FloatVector.fromArray(S, bp, bo + 16);
            FloatVector a0 = FloatVector.broadcast(S, ap[ao]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ao + ai]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ao + a2i]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ao + a3i]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ao + a4i]);
            c40 = a4.fma(b0, c40);
            c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[ao + a5i]);
            c50 = a5.fma(b0, c50);
            c51 = a5.fma(b1, c51);
            FloatVector a6 = FloatVector.broadcast(S, ap[ao + a6i]);
            c60 = a6.fma(b0, c60);
            c61 = a6.fma(b1, c61);
            FloatVector a7 = FloatVector.broadcast(S, ap[ao + a7i]);
            c70 = a7.fma(b0, c70);
            c71 = a7.fma(b1, c71);
        }
        if (accumulate) {
            c00 = c00.add(FloatVector.fromArray(S, c, cOff + 0 * ldc));
            c01 = c01.add(FloatVector.fromArray(S, c, cOff + 0 * ldc + 16));
            c10 = c10.add(FloatVector.fromArray(S, c, cOff + 1 * ldc));
            c11 = c11.add(FloatVector.fromArray(S, c, cOff + 1 * ldc + 16));
            c20 = c20.add(FloatVector.fromArray(S, c, cOff + 2 * ldc));
            c21 = c21.add(FloatVector.fromArray(S, c, cOff + 2 * ldc + 16));
            c30 = c30.add(FloatVector.fromArray(S, c, cOff + 3 * ldc));
            c31 = c31.add(FloatVector.fromArray(S, c, cOff + 3 * ldc + 16));
            c40 = c40.add(FloatVector.fromArray(S, c, cOff + 4 * ldc));
            c41 = c41.add(FloatVector.fromArray(S, c, cOff + 4 * ldc + 16));
            c50 = c50.add(FloatVector.fromArray(S, c, cOff + 5 * ldc));
            c51 = c51.add(FloatVector.fromArray(S, c, cOff + 5 * ldc + 16));
            c60 = c60.add(FloatVector.fromArray(S, c, cOff + 6 * ldc));
            c61 = c61.add(FloatVector.fromArray(S, c, cOff + 6 * ldc + 16));
            c70 = c70.add(FloatVector.fromArray(S, c, cOff + 7 * ldc));
            c71 = c71.add(FloatVector.fromArray(S, c, cOff + 7 * ldc + 16));
        }
        c00.intoArray(c, cOff + 0 * ldc);
        c01.intoArray(c, cOff + 0 * ldc + 16);
        c10.intoArray(c, cOff + 1 * ldc);
        c11.intoArray(c, cOff + 1 * ldc + 16);
        c20.intoArray(c, cOff + 2 * ldc);
        c21.intoArray(c, cOff + 2 * ldc + 16);
        c30.intoArray(c, cOff + 3 * ldc);
        c31.intoArray(c, cOff + 3 * ldc + 16);
        c40.intoArray(c, cOff + 4 * ldc);
        c41.intoArray(c, cOff + 4 * ldc + 16);
        c50.intoArray(c, cOff + 5 * ldc);
        c51.intoArray(c, cOff + 5 * ldc + 16);
        c60.intoArray(c, cOff + 6 * ldc);
        c61.intoArray(c, cOff + 6 * ldc + 16);
        c70.intoArray(c, cOff + 7 * ldc);
        c71.intoArray(c, cOff + 7 * ldc + 16);
    }
}
