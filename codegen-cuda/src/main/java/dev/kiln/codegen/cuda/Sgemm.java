package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.Ptx.RegClass;
import dev.kiln.codegen.cuda.PtxGen.Precision;

/// The f32 matrix multiply `c[z] = op(a[z]) @ op(b[z])` (see `Kir.Gemm`), one entry per
/// transpose combination and precision, and the tiled GEMM body it shares with the implicit-GEMM
/// convolutions (`tiles`, whose operands are read through `Operands`).
///
/// Shared-memory tiled and register-blocked: a block of 256 threads computes a 64x64 tile of C,
/// looping over K in steps of 16; each step stages a 64x16 tile of A and a 16x64 tile of B in
/// shared memory (k-major, zero-filled past the edges). Then either
/// - fp32 (the default, exact): each thread accumulates its 4x4 outputs from two 4-wide shared
///   loads per k with `fma.rn.f32`, the sum running in k order per output as a plain loop would;
/// - tf32 or bf16 (explicit options): each of the 8 warps computes a 32x16 sub-tile with
///   tensor-core `mma.sync.aligned.m16n8k8.row.col.f32.{tf32,bf16}...f32`, accumulating in f32.
///   tf32 operands are rounded (`cvt.rna.tf32.f32`) as they are staged; bf16 ones are staged as
///   f32 and rounded in pairs (`cvt.rn.bf16x2.f32`) as the fragments are loaded, since a bf16
///   fragment register packs two neighbours along K. The shared rows are padded (72 floats for
///   tf32, 68 for bf16) so that fragment loads do not collide on banks.
///
/// Grid: x over column tiles, y over row tiles, z over the batch (strided past 65535), times
/// the K splits when the body splits K. Parameters of the matmul entries: c, a, b (global
/// addresses), batch, m, n, k (s32).
final class Sgemm {
    private Sgemm() {}

    static final int TILE = 64, BK = 16, THREADS = 256, PER = 4;

    /// How the tiled body reads its operands and writes its result, emitted inline. Rows and
    /// columns are absolute (the tile origin added); `ok` says the element lies inside the
    /// matrix (and, for A and B, inside this block's K range).
    interface Operands {
        /// Code at the top of each batch iteration, for batch (or group) index `z`.
        void batch(String z);
        /// The f32 register holding `A(row, k)` when `ok`, 0 otherwise.
        String a(String row, String k, String ok);
        /// The f32 register holding `B(k, col)` when `ok`, 0 otherwise.
        String b(String k, String col, String ok);
        /// Writes (or, with split K, adds) `value` to `C(row, col)` when `ok`.
        void store(String row, String col, String value, String ok);
    }

    static String name(boolean transA, boolean transB, Precision precision) {
        return "kiln_sgemm_" + (precision == Precision.FP32 ? "" : precision.label() + "_") + (transA ? "t" : "n") + (transB ? "t" : "n");
    }

    static String entry(boolean transA, boolean transB, Precision precision) {
        EntryWriter w = new EntryWriter(name(transA, transB, precision));
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
        tiles(w, batch, m, n, k, null, !transA, transB, precision, new Matrices(w, ptr, m, n, k, transA, transB));
        return w.text();
    }

    /// Dense row-major matrices, packed per batch: `a` is `[m,k]` (`[k,m]` when transposed),
    /// `b` is `[k,n]` (`[n,k]` when transposed), `c` is `[m,n]`.
    private static final class Matrices implements Operands {
        final EntryWriter w;
        final String[] ptr, base = new String[3];
        final String m, n, k;
        final boolean transA, transB;

        Matrices(EntryWriter w, String[] ptr, String m, String n, String k, boolean transA, boolean transB) {
            this.w = w; this.ptr = ptr; this.m = m; this.n = n; this.k = k; this.transA = transA; this.transB = transB;
        }

        public void batch(String z) {
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
        }

        public String a(String row, String kk, String ok) { return element(base[1], transA ? kk : row, transA ? m : k, transA ? row : kk, ok); }

        public String b(String kk, String col, String ok) { return element(base[2], transB ? col : kk, transB ? k : n, transB ? kk : col, ok); }

        public void store(String row, String col, String value, String ok) {
            String idx = w.reg(RegClass.B32), off = w.reg(RegClass.B64), addr = w.reg(RegClass.B64);
            w.op("mad.lo.s32 " + idx + ", " + row + ", " + n + ", " + col + ";");
            w.op("mul.wide.s32 " + off + ", " + idx + ", 4;");
            w.op("add.s64 " + addr + ", " + base[0] + ", " + off + ";");
            w.op("@" + ok + " st.global.f32 [" + addr + "], " + value + ";");
        }

        /// `base[r * stride + c]` when `ok`, else 0.
        String element(String base, String r, String stride, String c, String ok) {
            String idx = w.reg(RegClass.B32), off = w.reg(RegClass.B64), addr = w.reg(RegClass.B64), v = w.reg(RegClass.F32);
            w.op("mad.lo.s32 " + idx + ", " + r + ", " + stride + ", " + c + ";");
            w.op("mul.wide.s32 " + off + ", " + idx + ", 4;");
            w.op("add.s64 " + addr + ", " + base + ", " + off + ";");
            w.op("mov.f32 " + v + ", 0f00000000;");
            w.op("@" + ok + " ld.global.f32 " + v + ", [" + addr + "];");
            return v;
        }
    }

    /// The tiled GEMM body: `C[z] = A[z] @ B[z]` for `z < batch`, sizes `m x k` and `k x n` (s32
    /// registers). With `splits` (an s32 register, or null), grid z runs over `batch * splits`
    /// and block `(z, s)` sums only its share of K (whole BK steps), leaving the combination to
    /// `ops.store`. `aAlongK`/`bAlongK` pick the staging map: consecutive threads read
    /// consecutive k (else consecutive rows of A / columns of B), to match the operand's layout.
    static void tiles(EntryWriter w, String batch, String m, String n, String k, String splits, boolean aAlongK, boolean bAlongK,
                      Precision precision, Operands ops) {
        int ld = switch (precision) { case FP32 -> TILE; case TF32 -> TILE + 8; case BF16 -> TILE + 4; }; // shared row length, in floats
        int aOff = w.shared(BK * ld * 4), bOff = w.shared(BK * ld * 4);
        String tid = w.reg(RegClass.B32), row0 = w.reg(RegClass.B32), col0 = w.reg(RegClass.B32), z = w.reg(RegClass.B32),
                smem = w.reg(RegClass.B32);
        w.op("mov.u32 " + tid + ", %tid.x;");
        w.op("mov.u32 " + col0 + ", %ctaid.x;");
        w.op("shl.b32 " + col0 + ", " + col0 + ", 6;");
        w.op("mov.u32 " + row0 + ", %ctaid.y;");
        w.op("shl.b32 " + row0 + ", " + row0 + ", 6;");
        w.op("mov.u32 " + z + ", %ctaid.z;");
        w.op("mov.u32 " + smem + ", smem;");

        // where this thread stages its A and B elements: (row, k) of A and (k, col) of B for
        // j = 0..3, as offsets from the tile origin
        String aRow = w.reg(RegClass.B32), aK = w.reg(RegClass.B32), bK = w.reg(RegClass.B32), bCol = w.reg(RegClass.B32);
        int aRowStep, aKStep, bKStep, bColStep;
        if (aAlongK) { w.op("shr.u32 " + aRow + ", " + tid + ", 4;"); w.op("and.b32 " + aK + ", " + tid + ", 15;"); aRowStep = 16; aKStep = 0; }
        else { w.op("and.b32 " + aRow + ", " + tid + ", 63;"); w.op("shr.u32 " + aK + ", " + tid + ", 6;"); aRowStep = 0; aKStep = 4; }
        if (!bAlongK) { w.op("shr.u32 " + bK + ", " + tid + ", 6;"); w.op("and.b32 " + bCol + ", " + tid + ", 63;"); bKStep = 4; bColStep = 0; }
        else { w.op("and.b32 " + bK + ", " + tid + ", 15;"); w.op("shr.u32 " + bCol + ", " + tid + ", 4;"); bKStep = 0; bColStep = 16; }

        String zloop = w.label("batch"), done = w.label("done"), p = w.reg(RegClass.PRED);
        String nz = w.reg(RegClass.B32), total = batch;
        w.op("mov.u32 " + nz + ", %nctaid.z;");
        if (splits != null) {
            total = w.reg(RegClass.B32);
            w.op("mul.lo.s32 " + total + ", " + batch + ", " + splits + ";");
        }
        w.op("setp.ge.s32 " + p + ", " + z + ", " + total + ";");
        w.op("@" + p + " bra " + done + ";");
        w.place(zloop);
        String k0 = w.reg(RegClass.B32), kEnd = k;
        if (splits == null) {
            ops.batch(z);
            w.op("mov.u32 " + k0 + ", 0;");
        } else {
            // block (g, s) sums k in [s*chunk, min(k, (s+1)*chunk)), chunk = ceil(ceil(k/BK)/splits)*BK
            String g = w.reg(RegClass.B32), s = w.reg(RegClass.B32), chunk = w.reg(RegClass.B32);
            kEnd = w.reg(RegClass.B32);
            w.op("div.u32 " + g + ", " + z + ", " + splits + ";");
            w.op("rem.u32 " + s + ", " + z + ", " + splits + ";");
            ops.batch(g);
            w.op("add.s32 " + chunk + ", " + k + ", " + (BK - 1) + ";");
            w.op("shr.u32 " + chunk + ", " + chunk + ", 4;");
            w.op("add.s32 " + chunk + ", " + chunk + ", " + splits + ";");
            w.op("sub.s32 " + chunk + ", " + chunk + ", 1;");
            w.op("div.u32 " + chunk + ", " + chunk + ", " + splits + ";");
            w.op("shl.b32 " + chunk + ", " + chunk + ", 4;");
            w.op("mul.lo.s32 " + k0 + ", " + s + ", " + chunk + ";");
            w.op("add.s32 " + kEnd + ", " + k0 + ", " + chunk + ";");
            w.op("min.s32 " + kEnd + ", " + kEnd + ", " + k + ";");
        }
        // (inside the batch loop: the accumulators start at 0 for each batch)
        Compute compute = precision == Precision.FP32 ? new Fma(w, tid, smem, aOff, bOff) : new TensorCores(w, tid, smem, aOff, bOff, ld, precision);
        String kloop = w.label("k"), kend = w.label("k_end");
        w.op("setp.ge.s32 " + p + ", " + k0 + ", " + kEnd + ";");
        w.op("@" + p + " bra " + kend + ";");
        w.place(kloop);
        for (int j = 0; j < 4; j++) {
            // A element (row0 + aRow + j*aRowStep, k0 + aK + j*aKStep) -> As[kk][mm]
            String[] at = coordinates(w, row0, aRow, j * aRowStep, k0, aK, j * aKStep, m, kEnd);
            stage(w, ops.a(at[0], at[1], at[2]), smem, aOff, at[3], at[4], ld, precision == Precision.TF32);
            // B element (k0 + bK + j*bKStep, col0 + bCol + j*bColStep) -> Bs[kk][nn]
            String[] bt = coordinates(w, col0, bCol, j * bColStep, k0, bK, j * bKStep, n, kEnd);
            stage(w, ops.b(bt[1], bt[0], bt[2]), smem, bOff, bt[3], bt[4], ld, precision == Precision.TF32);
        }
        w.op("bar.sync 0;");
        compute.step();
        w.op("bar.sync 0;");
        w.op("add.s32 " + k0 + ", " + k0 + ", " + BK + ";");
        w.op("setp.lt.s32 " + p + ", " + k0 + ", " + kEnd + ";");
        w.op("@" + p + " bra " + kloop + ";");
        w.place(kend);
        compute.store(ops, row0, col0, m, n);
        w.op("add.s32 " + z + ", " + z + ", " + nz + ";");
        w.op("setp.lt.s32 " + p + ", " + z + ", " + total + ";");
        w.op("@" + p + " bra " + zloop + ";");
        w.place(done);
        w.op("ret;");
    }

    /// The absolute coordinates of one staged element and whether it is inside: `{outer, k, ok,
    /// t, kk}` where `outer = origin + t`, `t = tOff + tStep` (its offset in the tile along M or
    /// N), `k = k0 + kk`, `kk = kOff + kStep`; `ok` is `outer < size && k < kEnd`.
    private static String[] coordinates(EntryWriter w, String origin, String tOff, int tStep, String k0, String kOff, int kStep,
                                        String size, String kEnd) {
        String ti = w.reg(RegClass.B32), ki = w.reg(RegClass.B32), gi = w.reg(RegClass.B32), gk = w.reg(RegClass.B32);
        w.op("add.s32 " + ti + ", " + tOff + ", " + tStep + ";");
        w.op("add.s32 " + ki + ", " + kOff + ", " + kStep + ";");
        w.op("add.s32 " + gi + ", " + origin + ", " + ti + ";");
        w.op("add.s32 " + gk + ", " + k0 + ", " + ki + ";");
        String ok = w.reg(RegClass.PRED), ok2 = w.reg(RegClass.PRED);
        w.op("setp.lt.s32 " + ok + ", " + gi + ", " + size + ";");
        w.op("setp.lt.and.s32 " + ok2 + ", " + gk + ", " + kEnd + ", " + ok + ";");
        return new String[]{gi, gk, ok2, ti, ki};
    }

    /// Stores a staged value at `[kk][t]` of the tile at `tileOff` (rows of `ld` floats), as a
    /// tf32 bit pattern when `tf32`.
    private static void stage(EntryWriter w, String v, String smem, int tileOff, String t, String kk, int ld, boolean tf32) {
        String s = w.reg(RegClass.B32);
        w.op("mad.lo.u32 " + s + ", " + kk + ", " + ld + ", " + t + ";");
        w.op("mad.lo.u32 " + s + ", " + s + ", 4, " + smem + ";");
        if (tf32) {
            String r = w.reg(RegClass.B32);
            w.op("cvt.rna.tf32.f32 " + r + ", " + v + ";");
            w.op("st.shared.b32 [" + s + "+" + tileOff + "], " + r + ";");
        } else w.op("st.shared.f32 [" + s + "+" + tileOff + "], " + v + ";");
    }

    /// The arithmetic on one staged BK step, and the final write of the block's outputs.
    private sealed interface Compute permits Fma, TensorCores {
        void step();
        void store(Operands ops, String row0, String col0, String m, String n);
    }

    /// fp32: thread (ty, tx) = (tid / 16, tid % 16) owns rows `ty*4 + i` and columns `tx*4 + j`.
    private static final class Fma implements Compute {
        final EntryWriter w;
        final String ty, tx, aAddr, bAddr;
        final int aOff, bOff;
        final String[] acc = new String[PER * PER];

        Fma(EntryWriter w, String tid, String smem, int aOff, int bOff) {
            this.w = w; this.aOff = aOff; this.bOff = bOff;
            ty = w.reg(RegClass.B32); tx = w.reg(RegClass.B32); aAddr = w.reg(RegClass.B32); bAddr = w.reg(RegClass.B32);
            w.op("and.b32 " + tx + ", " + tid + ", 15;");
            w.op("shr.u32 " + ty + ", " + tid + ", 4;");
            w.op("mad.lo.u32 " + aAddr + ", " + ty + ", " + PER * 4 + ", " + smem + ";");
            w.op("mad.lo.u32 " + bAddr + ", " + tx + ", " + PER * 4 + ", " + smem + ";");
            for (int i = 0; i < acc.length; i++) {
                acc[i] = w.reg(RegClass.F32);
                w.op("mov.f32 " + acc[i] + ", 0f00000000;");
            }
        }

        public void step() {
            String[] av = new String[PER], bv = new String[PER];
            for (int kk = 0; kk < BK; kk++) {
                for (int i = 0; i < PER; i++) { av[i] = w.reg(RegClass.F32); bv[i] = w.reg(RegClass.F32); }
                w.op("ld.shared.v4.f32 {" + String.join(", ", av) + "}, [" + aAddr + "+" + (aOff + kk * TILE * 4) + "];");
                w.op("ld.shared.v4.f32 {" + String.join(", ", bv) + "}, [" + bAddr + "+" + (bOff + kk * TILE * 4) + "];");
                for (int i = 0; i < PER; i++)
                    for (int j = 0; j < PER; j++)
                        w.op("fma.rn.f32 " + acc[i * PER + j] + ", " + av[i] + ", " + bv[j] + ", " + acc[i * PER + j] + ";");
            }
        }

        public void store(Operands ops, String row0, String col0, String m, String n) {
            for (int i = 0; i < PER; i++) {
                String r = w.reg(RegClass.B32), rowOk = w.reg(RegClass.PRED);
                w.op("mad.lo.s32 " + r + ", " + ty + ", " + PER + ", " + row0 + ";");
                w.op("add.s32 " + r + ", " + r + ", " + i + ";");
                w.op("setp.lt.s32 " + rowOk + ", " + r + ", " + m + ";");
                for (int j = 0; j < PER; j++) {
                    String c = w.reg(RegClass.B32), ok = w.reg(RegClass.PRED);
                    w.op("mad.lo.s32 " + c + ", " + tx + ", " + PER + ", " + col0 + ";");
                    w.op("add.s32 " + c + ", " + c + ", " + j + ";");
                    w.op("setp.lt.and.s32 " + ok + ", " + c + ", " + n + ", " + rowOk + ";");
                    ops.store(r, c, acc[i * PER + j], ok);
                }
            }
        }
    }

    /// Tensor cores: warp `wp` (of 8) owns rows `(wp / 4)*32 + [0, 32)` and columns
    /// `(wp % 4)*16 + [0, 16)` of the tile: 2x2 m16n8 tiles. In each, lane `l` with
    /// `g = l / 4`, `t = l % 4` holds, per the PTX ISA's m16n8k8 fragment layouts (as (row, k)
    /// of A, (k, column) of B):
    /// - tf32: A `(g, t) (g+8, t) (g, t+4) (g+8, t+4)`, B `(t, g) (t+4, g)`, one per register;
    /// - bf16: A `(g, 2t..2t+1) (g+8, 2t..2t+1)`, B `(2t..2t+1, g)`, two per register, the lower
    ///   k in the low half;
    /// and the f32 accumulators C `(g, 2t) (g, 2t+1) (g+8, 2t) (g+8, 2t+1)`.
    private static final class TensorCores implements Compute {
        final EntryWriter w;
        final String g, t, wm, wn, aAddr, bAddr;
        final int aOff, bOff, ld;
        final boolean bf16;
        final String[][] acc = new String[4][4]; // [i*2 + j][c]

        TensorCores(EntryWriter w, String tid, String smem, int aOff, int bOff, int ld, Precision precision) {
            this.w = w; this.aOff = aOff; this.bOff = bOff; this.ld = ld;
            bf16 = precision == Precision.BF16;
            g = w.reg(RegClass.B32); t = w.reg(RegClass.B32); wm = w.reg(RegClass.B32); wn = w.reg(RegClass.B32);
            aAddr = w.reg(RegClass.B32); bAddr = w.reg(RegClass.B32);
            String lane = w.reg(RegClass.B32), warp = w.reg(RegClass.B32), s = w.reg(RegClass.B32);
            w.op("and.b32 " + lane + ", " + tid + ", 31;");
            w.op("shr.u32 " + warp + ", " + tid + ", 5;");
            w.op("shr.u32 " + g + ", " + lane + ", 2;");
            w.op("and.b32 " + t + ", " + lane + ", 3;");
            w.op("shr.u32 " + wm + ", " + warp + ", 2;");
            w.op("shl.b32 " + wm + ", " + wm + ", 5;");
            w.op("and.b32 " + wn + ", " + warp + ", 3;");
            w.op("shl.b32 " + wn + ", " + wn + ", 4;");
            // the lane's first k: kt = t (tf32) or 2t (bf16); aAddr = smem + 4*(kt*ld + wm + g), bAddr = smem + 4*(kt*ld + wn + g)
            w.op("mad.lo.u32 " + s + ", " + t + ", " + (bf16 ? 2 * ld : ld) + ", " + g + ";");
            w.op("add.u32 " + aAddr + ", " + s + ", " + wm + ";");
            w.op("mad.lo.u32 " + aAddr + ", " + aAddr + ", 4, " + smem + ";");
            w.op("add.u32 " + bAddr + ", " + s + ", " + wn + ";");
            w.op("mad.lo.u32 " + bAddr + ", " + bAddr + ", 4, " + smem + ";");
            for (String[] a : acc)
                for (int c = 0; c < 4; c++) {
                    a[c] = w.reg(RegClass.F32);
                    w.op("mov.f32 " + a[c] + ", 0f00000000;");
                }
        }

        public void step() {
            for (int ks = 0; ks < BK; ks += 8) {
                String[][] af = new String[2][], bf = new String[2][];
                for (int i = 0; i < 2; i++) af[i] = bf16 ? aBf16(ks, i) : aTf32(ks, i);
                for (int j = 0; j < 2; j++) bf[j] = bf16 ? bBf16(ks, j) : bTf32(ks, j);
                String shape = bf16 ? "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 " : "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 ";
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) {
                        String d = "{" + String.join(", ", acc[i * 2 + j]) + "}";
                        w.op(shape + d + ", {" + String.join(", ", af[i]) + "}, {" + String.join(", ", bf[j]) + "}, " + d + ";");
                    }
            }
        }

        /// A's tf32 fragment of m-tile `i`: `(g + 8*(r%2), t + 4*(r/2))` in register r.
        private String[] aTf32(int ks, int i) {
            String[] f = new String[4];
            for (int r = 0; r < 4; r++) f[r] = load(aAddr, aOff + 4 * ((ks + 4 * (r / 2)) * ld + i * 16 + 8 * (r % 2)));
            return f;
        }

        /// B's tf32 fragment of n-tile `j`: `(k = t + 4r, n = g)` in register r.
        private String[] bTf32(int ks, int j) {
            String[] f = new String[2];
            for (int r = 0; r < 2; r++) f[r] = load(bAddr, bOff + 4 * ((ks + 4 * r) * ld + j * 8));
            return f;
        }

        /// A's bf16 fragment of m-tile `i`: rows `g + 8r`, k `2t` (low half) and `2t+1` (high).
        private String[] aBf16(int ks, int i) {
            String[] f = new String[2];
            for (int r = 0; r < 2; r++) f[r] = pair(aAddr, aOff + 4 * (ks * ld + i * 16 + 8 * r));
            return f;
        }

        /// B's bf16 fragment of n-tile `j`: column `g`, k `2t` (low half) and `2t+1` (high).
        private String[] bBf16(int ks, int j) {
            return new String[]{pair(bAddr, bOff + 4 * (ks * ld + j * 8))};
        }

        private String load(String base, int off) {
            String r = w.reg(RegClass.B32);
            w.op("ld.shared.b32 " + r + ", [" + base + "+" + off + "];");
            return r;
        }

        /// Two f32 neighbours along k (`off` and one shared row further) rounded to bf16 and
        /// packed, the first in the low half (`cvt`'s first source goes to the high half).
        private String pair(String base, int off) {
            String lo = w.reg(RegClass.F32), hi = w.reg(RegClass.F32), r = w.reg(RegClass.B32);
            w.op("ld.shared.f32 " + lo + ", [" + base + "+" + off + "];");
            w.op("ld.shared.f32 " + hi + ", [" + base + "+" + (off + 4 * ld) + "];");
            w.op("cvt.rn.bf16x2.f32 " + r + ", " + hi + ", " + lo + ";");
            return r;
        }

        public void store(Operands ops, String row0, String col0, String m, String n) {
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    for (int c = 0; c < 4; c++) {
                        String r = w.reg(RegClass.B32), col = w.reg(RegClass.B32), rowOk = w.reg(RegClass.PRED), ok = w.reg(RegClass.PRED);
                        // row = row0 + wm + 16i + g + 8*(c/2), col = col0 + wn + 8j + 2t + c%2
                        w.op("add.s32 " + r + ", " + row0 + ", " + wm + ";");
                        w.op("add.s32 " + r + ", " + r + ", " + g + ";");
                        w.op("add.s32 " + r + ", " + r + ", " + (16 * i + 8 * (c / 2)) + ";");
                        w.op("add.s32 " + col + ", " + col0 + ", " + wn + ";");
                        w.op("mad.lo.s32 " + col + ", " + t + ", 2, " + col + ";");
                        w.op("add.s32 " + col + ", " + col + ", " + (8 * j + c % 2) + ";");
                        w.op("setp.lt.s32 " + rowOk + ", " + r + ", " + m + ";");
                        w.op("setp.lt.and.s32 " + ok + ", " + col + ", " + n + ", " + rowOk + ";");
                        ops.store(r, col, acc[i * 2 + j][c], ok);
                    }
        }
    }
}
