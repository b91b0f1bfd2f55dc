package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.Ptx.RegClass;

/// The f32 matrix multiply `c[z] = op(a[z]) @ op(b[z])` (see `Kir.Gemm`), one entry per
/// transpose combination. Shared-memory tiled and register-blocked: a block of 256 threads
/// computes a 64x64 tile of C, looping over K in steps of 16; each step stages a 64x16 tile of
/// A and a 16x64 tile of B in shared memory (k-major, zero-filled past the edges), then each
/// thread accumulates its 4x4 outputs from two 4-wide shared loads per k with `fma.rn.f32`.
/// Exact fp32 arithmetic (no tf32); the sum runs in k order per output, as a plain loop would.
///
/// Grid: x over column tiles, y over row tiles, z over the batch (strided past 65535).
/// Parameters: c, a, b (global addresses), batch, m, n, k (s32).
final class Sgemm {
    private Sgemm() {}

    static final int TILE = 64, BK = 16, THREADS = 256, PER = 4;

    static String name(boolean transA, boolean transB) { return "kiln_sgemm_" + (transA ? "t" : "n") + (transB ? "t" : "n"); }

    static String entry(boolean transA, boolean transB) {
        EntryWriter w = new EntryWriter(name(transA, transB));
        String[] ptr = new String[3];
        String[] names = {"c", "a", "b"};
        for (int i = 0; i < 3; i++) {
            String raw = w.reg(RegClass.B64);
            ptr[i] = w.reg(RegClass.B64);
            w.op("ld.param.u64 " + raw + ", [" + w.param("u64", names[i]) + "];");
            w.op("cvta.to.global.u64 " + ptr[i] + ", " + raw + ";");
        }
        String batch = w.reg(RegClass.B32), m = w.reg(RegClass.B32), n = w.reg(RegClass.B32), k = w.reg(RegClass.B32);
        for (String[] p : new String[][]{{batch, "batch"}, {m, "m"}, {n, "n"}, {k, "k"}})
            w.op("ld.param.s32 " + p[0] + ", [" + w.param("s32", p[1]) + "];");
        int aOff = w.shared(BK * TILE * 4), bOff = w.shared(BK * TILE * 4);
        String tid = w.reg(RegClass.B32), tx = w.reg(RegClass.B32), ty = w.reg(RegClass.B32), row0 = w.reg(RegClass.B32),
                col0 = w.reg(RegClass.B32), z = w.reg(RegClass.B32), smem = w.reg(RegClass.B32);
        w.op("mov.u32 " + tid + ", %tid.x;");
        w.op("and.b32 " + tx + ", " + tid + ", 15;");
        w.op("shr.u32 " + ty + ", " + tid + ", 4;");
        w.op("mov.u32 " + col0 + ", %ctaid.x;");
        w.op("shl.b32 " + col0 + ", " + col0 + ", 6;");
        w.op("mov.u32 " + row0 + ", %ctaid.y;");
        w.op("shl.b32 " + row0 + ", " + row0 + ", 6;");
        w.op("mov.u32 " + z + ", %ctaid.z;");
        w.op("mov.u32 " + smem + ", smem;");

        // where this thread stages its A and B elements: (row, k) of A and (k, col) of B for
        // j = 0..3, as offsets from the tile origin; the loads are coalesced along the stored rows
        String aRow = w.reg(RegClass.B32), aK = w.reg(RegClass.B32), bK = w.reg(RegClass.B32), bCol = w.reg(RegClass.B32);
        int aRowStep, aKStep, bKStep, bColStep;
        if (!transA) { w.op("shr.u32 " + aRow + ", " + tid + ", 4;"); w.op("and.b32 " + aK + ", " + tid + ", 15;"); aRowStep = 16; aKStep = 0; }
        else { w.op("and.b32 " + aRow + ", " + tid + ", 63;"); w.op("shr.u32 " + aK + ", " + tid + ", 6;"); aRowStep = 0; aKStep = 4; }
        if (!transB) { w.op("shr.u32 " + bK + ", " + tid + ", 6;"); w.op("and.b32 " + bCol + ", " + tid + ", 63;"); bKStep = 4; bColStep = 0; }
        else { w.op("and.b32 " + bK + ", " + tid + ", 15;"); w.op("shr.u32 " + bCol + ", " + tid + ", 4;"); bKStep = 0; bColStep = 16; }

        String zloop = w.label("batch"), done = w.label("done"), p = w.reg(RegClass.PRED);
        String nz = w.reg(RegClass.B32);
        w.op("mov.u32 " + nz + ", %nctaid.z;");
        w.op("setp.ge.s32 " + p + ", " + z + ", " + batch + ";");
        w.op("@" + p + " bra " + done + ";");
        w.place(zloop);
        // this batch's matrices
        String[] base = new String[3];
        String[][] sizes = {{m, n}, {m, k}, {k, n}};
        for (int i = 0; i < 3; i++) {
            String mn = w.reg(RegClass.B32), off = w.reg(RegClass.B64), zz = w.reg(RegClass.B64);
            base[i] = w.reg(RegClass.B64);
            w.op("mul.lo.s32 " + mn + ", " + sizes[i][0] + ", " + sizes[i][1] + ";");
            w.op("mul.wide.s32 " + zz + ", " + mn + ", 4;");
            w.op("cvt.u64.u32 " + off + ", " + z + ";");
            w.op("mul.lo.u64 " + off + ", " + off + ", " + zz + ";");
            w.op("add.s64 " + base[i] + ", " + ptr[i] + ", " + off + ";");
        }
        String[] acc = new String[PER * PER];
        for (int i = 0; i < acc.length; i++) {
            acc[i] = w.reg(RegClass.F32);
            w.op("mov.f32 " + acc[i] + ", 0f00000000;");
        }
        String k0 = w.reg(RegClass.B32), kloop = w.label("k"), kend = w.label("k_end");
        w.op("mov.u32 " + k0 + ", 0;");
        w.op("setp.ge.s32 " + p + ", " + k0 + ", " + k + ";");
        w.op("@" + p + " bra " + kend + ";");
        w.place(kloop);
        for (int j = 0; j < 4; j++) {
            // A element (row0 + aRow + j*aRowStep, k0 + aK + j*aKStep) -> As[kk][mm]
            stage(w, base[1], smem, aOff, row0, aRow, j * aRowStep, k0, aK, j * aKStep, m, k, transA);
            // B element (k0 + bK + j*bKStep, col0 + bCol + j*bColStep) -> Bs[kk][nn]
            stage(w, base[2], smem, bOff, col0, bCol, j * bColStep, k0, bK, j * bKStep, n, k, !transB);
        }
        w.op("bar.sync 0;");
        String aAddr = w.reg(RegClass.B32), bAddr = w.reg(RegClass.B32);
        w.op("mad.lo.u32 " + aAddr + ", " + ty + ", " + PER * 4 + ", " + smem + ";");
        w.op("mad.lo.u32 " + bAddr + ", " + tx + ", " + PER * 4 + ", " + smem + ";");
        String[] av = new String[PER], bv = new String[PER];
        for (int kk = 0; kk < BK; kk++) {
            for (int i = 0; i < PER; i++) { av[i] = w.reg(RegClass.F32); bv[i] = w.reg(RegClass.F32); }
            w.op("ld.shared.v4.f32 {" + String.join(", ", av) + "}, [" + aAddr + "+" + (aOff + kk * TILE * 4) + "];");
            w.op("ld.shared.v4.f32 {" + String.join(", ", bv) + "}, [" + bAddr + "+" + (bOff + kk * TILE * 4) + "];");
            for (int i = 0; i < PER; i++)
                for (int j = 0; j < PER; j++)
                    w.op("fma.rn.f32 " + acc[i * PER + j] + ", " + av[i] + ", " + bv[j] + ", " + acc[i * PER + j] + ";");
        }
        w.op("bar.sync 0;");
        w.op("add.s32 " + k0 + ", " + k0 + ", " + BK + ";");
        w.op("setp.lt.s32 " + p + ", " + k0 + ", " + k + ";");
        w.op("@" + p + " bra " + kloop + ";");
        w.place(kend);
        // write the 4x4 outputs that fall inside C
        for (int i = 0; i < PER; i++) {
            String r = w.reg(RegClass.B32), rowOk = w.reg(RegClass.PRED);
            w.op("mad.lo.s32 " + r + ", " + ty + ", " + PER + ", " + row0 + ";");
            w.op("add.s32 " + r + ", " + r + ", " + i + ";");
            w.op("setp.lt.s32 " + rowOk + ", " + r + ", " + m + ";");
            for (int j = 0; j < PER; j++) {
                String c = w.reg(RegClass.B32), ok = w.reg(RegClass.PRED), idx = w.reg(RegClass.B32), off = w.reg(RegClass.B64),
                        addr = w.reg(RegClass.B64);
                w.op("mad.lo.s32 " + c + ", " + tx + ", " + PER + ", " + col0 + ";");
                w.op("add.s32 " + c + ", " + c + ", " + j + ";");
                w.op("setp.lt.and.s32 " + ok + ", " + c + ", " + n + ", " + rowOk + ";");
                w.op("mad.lo.s32 " + idx + ", " + r + ", " + n + ", " + c + ";");
                w.op("mul.wide.s32 " + off + ", " + idx + ", 4;");
                w.op("add.s64 " + addr + ", " + base[0] + ", " + off + ";");
                w.op("@" + ok + " st.global.f32 [" + addr + "], " + acc[i * PER + j] + ";");
            }
        }
        w.op("add.s32 " + z + ", " + z + ", " + nz + ";");
        w.op("setp.lt.s32 " + p + ", " + z + ", " + batch + ";");
        w.op("@" + p + " bra " + zloop + ";");
        w.place(done);
        w.op("ret;");
        return w.text();
    }

    /// Loads one element of an operand tile (zero outside the matrix) and stores it in shared
    /// memory at `[kk][t]`, where `t` is the element's offset along the tile's M (or N) side.
    /// `outer`/`t` name the M-or-N coordinate (tile origin, offset), `k0`/`kk` the K one;
    /// `kMajor` says the operand is stored with K as its row index (`[K, size]`), else `[size, K]`.
    private static void stage(EntryWriter w, String base, String smem, int tileOff, String origin, String t, int tStep,
                              String k0, String kk, int kStep, String size, String k, boolean kMajor) {
        String ti = w.reg(RegClass.B32), ki = w.reg(RegClass.B32), gi = w.reg(RegClass.B32), gk = w.reg(RegClass.B32);
        w.op("add.s32 " + ti + ", " + t + ", " + tStep + ";");
        w.op("add.s32 " + ki + ", " + kk + ", " + kStep + ";");
        w.op("add.s32 " + gi + ", " + origin + ", " + ti + ";");
        w.op("add.s32 " + gk + ", " + k0 + ", " + ki + ";");
        String ok = w.reg(RegClass.PRED), ok2 = w.reg(RegClass.PRED);
        w.op("setp.lt.s32 " + ok + ", " + gi + ", " + size + ";");
        w.op("setp.lt.and.s32 " + ok2 + ", " + gk + ", " + k + ", " + ok + ";");
        String idx = w.reg(RegClass.B32), off = w.reg(RegClass.B64), addr = w.reg(RegClass.B64), v = w.reg(RegClass.F32);
        if (kMajor) w.op("mad.lo.s32 " + idx + ", " + gk + ", " + size + ", " + gi + ";");
        else w.op("mad.lo.s32 " + idx + ", " + gi + ", " + k + ", " + gk + ";");
        w.op("mul.wide.s32 " + off + ", " + idx + ", 4;");
        w.op("add.s64 " + addr + ", " + base + ", " + off + ";");
        w.op("mov.f32 " + v + ", 0f00000000;");
        w.op("@" + ok2 + " ld.global.f32 " + v + ", [" + addr + "];");
        String s = w.reg(RegClass.B32);
        w.op("mad.lo.u32 " + s + ", " + ki + ", " + TILE + ", " + ti + ";");
        w.op("mad.lo.u32 " + s + ", " + s + ", 4, " + smem + ";");
        w.op("st.shared.f32 [" + s + "+" + tileOff + "], " + v + ";");
    }
}
