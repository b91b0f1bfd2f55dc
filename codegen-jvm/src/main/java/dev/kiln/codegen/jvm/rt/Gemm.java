package dev.kiln.codegen.jvm.rt;

/// Single-precision matrix multiply, `C = op(A) @ op(B)` (or `C += ...`), row-major, tuned in
/// the usual way: B is packed into column panels of `NR` and A into row panels of `MR` per
/// cache block (`KC_MAX` deep at most, `MC` rows), and a register-blocked micro-kernel computes an
/// `MR x NR` tile of C from two panels. Two micro-kernels exist: one written with
/// `jdk.incubator.vector` (FMA on whole registers), chosen when that module is present at run
/// time, and a scalar one whose loops HotSpot's C2 vectorizes, which needs nothing. Packing
/// handles transposed operands, so a transpose never costs a copy of its own.
///
/// Thread-safety: all scratch is per thread (ThreadLocal), so concurrent calls are safe;
/// `sgemmBatch` splits work across the pool of the executable that calls it (`Pool.current()`).
public final class Gemm {
    private Gemm() {}

    /// The micro-kernel: `MR x NR` tile of C at `c[cOff]` (row stride `ldc`) from an A panel
    /// (`kc` steps of `MR` values) and a B panel (`kc` steps of `NR` values).
    interface Micro {
        int mr();
        int nr();
        void tile(int kc, float[] ap, int apOff, float[] bp, int bpOff, float[] c, int cOff, int ldc, boolean accumulate);
        /// The same with A read where it is: element (i, p) at `a[aOff + i*ai + p*as]` (a
        /// row-major A in place: ai = lda, as = 1).
        void tile(int kc, float[] a, int aOff, int ai, int as, float[] bp, int bpOff, float[] c, int cOff, int ldc, boolean accumulate);
        /// `sum_p a[ao+p] * b[bo+p]` for p < k.
        float dot(float[] a, int ao, float[] b, int bo, int k);
        /// `c[co+j] += s * b[bo+j]` for j < n.
        void axpy(float s, float[] b, int bo, float[] c, int co, int n);
        /// A 4 x 4 block of dot products, `out[4*i + j] = sum_p a[ai+p] * b[bj+p]` for p < k,
        /// with rows `a0..a3` of A and `b0..b3` of B (offsets may repeat, for a ragged block):
        /// each step loads 8 values for 16 products, where one dot at a time loads 2 for 1.
        /// `out` holds `DOTS_SCRATCH` floats; past the first 16 it is the kernel's scratch.
        void dots4x4(int k, float[] a, int a0, int a1, int a2, int a3, float[] b, int b0, int b1, int b2, int b3, float[] out);
    }

    /// Cache blocks: depth at most KC_MAX, split into equal blocks (k = 288 is one block of 288,
    /// not 256 + 32, which would reload every C tile for a 32-deep pass); MC rows of A stay in
    /// L2, a KC x NR panel of B in L1.
    static final int KC_MAX = 384, MC = 192, NC = 3072;

    private static final Micro MICRO = choose();

    static Micro vectorOrNull() {
        try {
            return (Micro) Class.forName("dev.kiln.codegen.jvm.rt.VectorMicro").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            return null;
        }
    }

    private static Micro choose() {
        boolean wanted = !"false".equals(System.getProperty("kiln.vector"));
        if (wanted && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            try {
                return (Micro) Class.forName("dev.kiln.codegen.jvm.rt.VectorMicro").getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException | LinkageError e) {
                // fall through to the portable kernel
            }
        }
        return new ScalarMicro();
    }

    /// Which micro-kernel this JVM uses: "vector" or "scalar".
    public static String kernelName() { return MICRO instanceof ScalarMicro ? "scalar" : "vector"; }

    private static final class Scratch {
        float[] a = new float[0], b = new float[0], tile = new float[0], transposed = new float[0];
        final float[] dots = new float[DOTS_SCRATCH];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /// `batch` independent products: matrix `i` of C (`m x n`) from matrix `i` of A (`m x k`,
    /// stored `k x m` when `ta`) and of B (`k x n`, stored `n x k` when `tb`). Parallel over
    /// the batch when it is large enough, otherwise over row blocks of each product.
    public static void sgemmBatch(float[] c, float[] a, float[] b, int batch, int m, int n, int k, boolean ta, boolean tb) {
        sgemmBatch(c, a, b, batch, m, n, k, ta, tb, Pool.current(), null, -1, null, null, 0, 0);
    }

    public static void sgemmBatch(float[] c, float[] a, float[] b, int batch, int m, int n, int k, boolean ta, boolean tb,
                                  Pool pool) {
        sgemmBatch(c, a, b, batch, m, n, k, ta, tb, pool, null, -1, null, null, 0, 0);
    }

    /// As above, then runs task `epi` of `code` (an epilogue that rewrites C in place) over
    /// outer iterations `[r0*perRow, r1*perRow)` as soon as global rows `[r0, r1)` of C
    /// (counting across the batch) are final, while they are still in cache; with `perRow`
    /// 0 it runs once over `[0, extent)` at the end. `epi` < 0: no epilogue.
    public static void sgemmBatch(float[] c, float[] a, float[] b, int batch, int m, int n, int k, boolean ta, boolean tb,
                                  KernelSet code, int epi, Object[] bufs, int[] dims, int perRow, int extent) {
        sgemmBatch(c, a, b, batch, m, n, k, ta, tb, Pool.current(), code, epi, bufs, dims, perRow, extent);
    }

    static void sgemmBatch(float[] c, float[] a, float[] b, int batch, int m, int n, int k, boolean ta, boolean tb,
                           Pool pool, KernelSet code, int epi, Object[] bufs, int[] dims, int perRow, int extent) {
        if (batch > 0 && m > 0 && n > 0) {
            int lda = ta ? m : k, ldb = tb ? k : n;
            long flops = 2L * batch * m * n * k;
            int threads = flops < 2_000_000 ? 1 : pool.size();
            boolean rowsEpi = epi >= 0 && perRow > 0;
            if (threads <= 1 || batch >= threads) {
                int parts = Math.min(threads, batch);
                pool.run(parts, part -> {
                    for (int i = part; i < batch; i += parts) {
                        gemm(m, n, k, a, i * m * k, lda, ta, b, i * k * n, ldb, tb, c, i * m * n, n, false);
                        if (rowsEpi) code.run(epi, bufs, dims, i * m * perRow, (i + 1) * m * perRow);
                    }
                });
            } else {
                // split each product's rows (or columns when there are few rows) across threads
                for (int i = 0; i < batch; i++) {
                    int ao = i * m * k, bo = i * k * n, co = i * m * n, base = i * m;
                    if (m >= n || m >= 64 * threads) {
                        int step = ((m + threads - 1) / threads + 7) / 8 * 8;
                        pool.run(threads, part -> {
                            int r0 = Math.min(m, part * step), r1 = Math.min(m, r0 + step);
                            if (r0 >= r1) return;
                            gemm(r1 - r0, n, k, a, ao + (ta ? r0 : r0 * lda), lda, ta, b, bo, ldb, tb, c, co + r0 * n, n, false);
                            if (rowsEpi) code.run(epi, bufs, dims, (base + r0) * perRow, (base + r1) * perRow);
                        });
                    } else {
                        int step = ((n + threads - 1) / threads + 31) / 32 * 32;
                        pool.run(threads, part -> {
                            int c0 = Math.min(n, part * step), c1 = Math.min(n, c0 + step);
                            if (c0 < c1) gemm(m, c1 - c0, k, a, ao, lda, ta, b, bo + (tb ? c0 * ldb : c0), ldb, tb, c, co + c0, n, false);
                        });
                        if (rowsEpi) code.run(epi, bufs, dims, base * perRow, (base + m) * perRow);
                    }
                }
            }
        }
        if (epi >= 0 && perRow <= 0 && extent > 0) code.run(epi, bufs, dims, 0, extent);
    }

    /// One product split over the pool by rows of C (for one large matrix, e.g. a
    /// convolution of a single image); `epilogue` runs on each finished row block.
    static void gemmParallel(int m, int n, int k, float[] a, int aOff, int lda, boolean ta, float[] b, int bOff, int ldb, boolean tb,
                             float[] c, int cOff, int ldc, boolean accumulate, Pool pool) {
        int threads = 2L * m * n * k < 1_000_000 ? 1 : Math.min(pool.size(), Math.max(1, m / 8));
        if (threads <= 1) {
            gemm(m, n, k, a, aOff, lda, ta, b, bOff, ldb, tb, c, cOff, ldc, accumulate);
            return;
        }
        int step = ((m + threads - 1) / threads + 7) / 8 * 8;
        pool.run(threads, part -> {
            int r0 = Math.min(m, part * step), r1 = Math.min(m, r0 + step);
            if (r0 < r1) gemm(r1 - r0, n, k, a, aOff + (ta ? r0 : r0 * lda), lda, ta, b, bOff, ldb, tb, c, cOff + r0 * ldc, ldc, accumulate);
        });
    }

    /// One product on the calling thread: `C[m x n] (+)= op(A) @ op(B)` where element (i,p) of
    /// op(A) is `a[aOff + i*lda + p]` (`a[aOff + p*lda + i]` when `ta`), and likewise for B.
    public static void gemm(int m, int n, int k, float[] a, int aOff, int lda, boolean ta,
                            float[] b, int bOff, int ldb, boolean tb, float[] c, int cOff, int ldc, boolean accumulate) {
        gemm(m, n, k, a, aOff, lda, ta, b, bOff, ldb, tb, c, cOff, ldc, accumulate, MICRO);
    }

    /// The same with a given micro-kernel (tests run both).
    static void gemm(int m, int n, int k, float[] a, int aOff, int lda, boolean ta,
                     float[] b, int bOff, int ldb, boolean tb, float[] c, int cOff, int ldc, boolean accumulate, Micro mk) {
        gemm(m, n, k, a, aOff, lda, ta, b, bOff, ldb, tb, c, cOff, ldc, accumulate, mk, null);
    }

    /// A packed once, for many products that share it (a convolution's weight, image after
    /// image): every (depth block, row block) of op(A) in `gemm`'s panel layout.
    public static final class PackedA {
        float[] data = new float[0];
        int m, k;
        int srcOff, lda;
        boolean ta;
        long version = -1;

        /// Packs op(A) (`m x k`) unless this already holds exactly that, packed for the same
        /// `version` (the caller's count of changes to the values: a new call, new weights).
        public PackedA pack(int m, int k, float[] a, int aOff, int lda, boolean ta, long version) {
            // the version names one call, so the source array is the same; not keeping a
            // reference to it lets a dropped model's weights be collected
            if (this.version == version && this.m == m && this.k == k && srcOff == aOff && this.lda == lda && this.ta == ta)
                return this;
            int mr = MICRO.mr(), rows = roundUp(Math.max(m, 1), mr), step = kcStep(k);
            if (data.length < rows * k) data = new float[rows * k];
            for (int pc = 0; pc < k; pc += step) {
                int kc = Math.min(step, k - pc);
                for (int ic = 0; ic < m; ic += MC) {
                    int mc = Math.min(MC, m - ic);
                    packA(a, aOff, lda, ta, ic, mc, pc, kc, mr, data, pc * rows + ic * kc);
                }
            }
            this.m = m; this.k = k; srcOff = aOff; this.lda = lda; this.ta = ta; this.version = version;
            return this;
        }
    }

    /// `c[co+j] += b[bo+j]` for j < n, with the vector kernel when there is one (an FMA by
    /// 1.0 rounds exactly like the addition).
    static void addTo(float[] b, int bo, float[] c, int co, int n) { MICRO.axpy(1f, b, bo, c, co, n); }

    static int kcStep(int k) {
        int blocks = Math.max(1, (k + KC_MAX - 1) / KC_MAX);
        return (k + blocks - 1) / blocks;
    }

    /// `C (+)= A @ op(B)` with A already packed by `pa`.
    public static void gemm(PackedA pa, int n, float[] b, int bOff, int ldb, boolean tb, float[] c, int cOff, int ldc, boolean accumulate) {
        gemm(pa.m, n, pa.k, null, 0, 0, false, b, bOff, ldb, tb, c, cOff, ldc, accumulate, MICRO, pa);
    }

    /// `C (+)= A @ op(B)` with a row-major A read in place rather than packed (see `gemm` with
    /// `inPlaceA`), for an A read by few column panels, e.g. an unfolded image multiplied by
    /// the gradient of a few dozen channels. Packs A after all where its rows, a multiple of
    /// 128 floats (512 bytes) apart, would fall into at most 8 sets of the L1 cache.
    static void gemmInPlaceA(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, boolean tb,
                             float[] c, int cOff, int ldc, boolean accumulate, Micro mk) {
        gemm(m, n, k, a, aOff, lda, false, b, bOff, ldb, tb, c, cOff, ldc, accumulate, mk, null, (lda & 127) != 0);
    }

    static void gemmInPlaceA(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, boolean tb,
                             float[] c, int cOff, int ldc, boolean accumulate) {
        gemmInPlaceA(m, n, k, a, aOff, lda, b, bOff, ldb, tb, c, cOff, ldc, accumulate, MICRO);
    }

    static void gemm(int m, int n, int k, float[] a, int aOff, int lda, boolean ta,
                     float[] b, int bOff, int ldb, boolean tb, float[] c, int cOff, int ldc, boolean accumulate, Micro mk,
                     PackedA pa) {
        gemm(m, n, k, a, aOff, lda, ta, b, bOff, ldb, tb, c, cOff, ldc, accumulate, mk, pa, false);
    }

    /// As `gemm`, with the option to read a row-major A where it is instead of packing it
    /// (`inPlaceA`, not with `ta` or `pa`): whole row panels are read in place, only a ragged
    /// last panel is packed. Worth it where few column panels read A, so that packing it costs
    /// as much as the arithmetic it feeds.
    static void gemm(int m, int n, int k, float[] a, int aOff, int lda, boolean ta,
                     float[] b, int bOff, int ldb, boolean tb, float[] c, int cOff, int ldc, boolean accumulate, Micro mk,
                     PackedA pa, boolean inPlaceA) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            return;
        }
        int mr = mk.mr(), nr = mk.nr();
        if (pa == null && (m < mr / 2 || n < nr / 2) && !inPlaceA) {
            if (!ta && tb && k >= DOTS_MIN_K) dotBlocks(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, mk);
            else if (n < nr / 2 && n >= mr / 2 && m >= nr) transposed(m, n, k, a, aOff, lda, ta, b, bOff, ldb, tb, c, cOff, ldc, accumulate, mk);
            else skinny(m, n, k, a, aOff, lda, ta, b, bOff, ldb, tb, c, cOff, ldc, accumulate, mk);
            return;
        }
        Scratch s = SCRATCH.get();
        int kcStep = kcStep(k), rowsAll = roundUp(m, mr);
        int kcMax = kcStep, ncMax = Math.min(NC, roundUp(n, nr)), mcMax = Math.min(MC, roundUp(m, mr));
        if (s.b.length < kcMax * ncMax) s.b = new float[kcMax * ncMax];
        if (s.a.length < kcMax * mcMax) s.a = new float[kcMax * mcMax];
        if (s.tile.length < mr * nr) s.tile = new float[mr * nr];
        float[] ap = s.a, bp = s.b, tile = s.tile;
        boolean directA = inPlaceA && pa == null && !ta;
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            for (int pc = 0; pc < k; pc += kcStep) {
                int kc = Math.min(kcStep, k - pc);
                boolean acc = accumulate || pc > 0;
                packB(b, bOff, ldb, tb, pc, kc, jc, nc, nr, bp);
                for (int ic = 0; ic < m; ic += MC) {
                    int mc = Math.min(MC, m - ic), mcWhole = mc / mr * mr;
                    float[] apk;
                    int apBase;
                    if (pa != null) {
                        apk = pa.data;
                        apBase = pc * rowsAll + ic * kc;
                    } else if (directA) {
                        apk = ap;
                        apBase = -mcWhole * kc; // the ragged panel, packed at ap[0]
                        if (mcWhole < mc) packA(a, aOff, lda, false, ic + mcWhole, mc - mcWhole, pc, kc, mr, ap, 0);
                    } else {
                        apk = ap;
                        apBase = 0;
                        packA(a, aOff, lda, ta, ic, mc, pc, kc, mr, ap, 0);
                    }
                    for (int jr = 0; jr < nc; jr += nr) {
                        int nw = Math.min(nr, nc - jr);
                        int bpOff = jr * kc;
                        for (int ir = 0; ir < mc; ir += mr) {
                            int mw = Math.min(mr, mc - ir);
                            // a whole row panel of an in-place A is read where it is
                            boolean inPlace = directA && mw == mr;
                            int apOff = apBase + ir * kc, aAt = aOff + (ic + ir) * lda + pc;
                            int cAt = cOff + (ic + ir) * ldc + jc + jr;
                            if (mw == mr && nw == nr) {
                                if (inPlace) mk.tile(kc, a, aAt, lda, 1, bp, bpOff, c, cAt, ldc, acc);
                                else mk.tile(kc, apk, apOff, bp, bpOff, c, cAt, ldc, acc);
                            } else {
                                if (inPlace) mk.tile(kc, a, aAt, lda, 1, bp, bpOff, tile, 0, nr, false);
                                else mk.tile(kc, apk, apOff, bp, bpOff, tile, 0, nr, false);
                                for (int i = 0; i < mw; i++)
                                    for (int j = 0; j < nw; j++) {
                                        int at = cAt + i * ldc + j;
                                        c[at] = acc ? c[at] + tile[i * nr + j] : tile[i * nr + j];
                                    }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Depth from which `dotBlocks` beats one dot at a time: below it the 16 sums of a block
    /// cost more than its few vector steps.
    static final int DOTS_MIN_K = 32;
    /// Floats of `Micro.dots4x4`'s `out`: 16 results, then 16 vectors of 16 lanes.
    static final int DOTS_SCRATCH = 16 + 16 * 16;

    /// Few rows or columns, both operands contiguous along the depth (`A @ B^T`, e.g. a linear
    /// layer's forward at a small batch, or a weight gradient with few patch rows): dot
    /// products in 4 x 4 blocks, a ragged block repeating its last row or column.
    static void dotBlocks(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                          float[] c, int cOff, int ldc, boolean accumulate, Micro mk) {
        float[] out = SCRATCH.get().dots;
        for (int i0 = 0; i0 < m; i0 += 4) {
            int mw = Math.min(4, m - i0);
            int ar = aOff + i0 * lda, a1 = ar + Math.min(1, mw - 1) * lda, a2 = ar + Math.min(2, mw - 1) * lda,
                    a3 = ar + Math.min(3, mw - 1) * lda;
            for (int j0 = 0; j0 < n; j0 += 4) {
                int nw = Math.min(4, n - j0);
                int br = bOff + j0 * ldb;
                mk.dots4x4(k, a, ar, a1, a2, a3, b, br, br + Math.min(1, nw - 1) * ldb, br + Math.min(2, nw - 1) * ldb,
                        br + Math.min(3, nw - 1) * ldb, out);
                for (int i = 0; i < mw; i++)
                    for (int j = 0; j < nw; j++) {
                        int at = cOff + (i0 + i) * ldc + j0 + j;
                        c[at] = accumulate ? c[at] + out[4 * i + j] : out[4 * i + j];
                    }
            }
        }
    }

    /// Many rows and few columns (`n` under half a tile), e.g. a linear layer's weight
    /// gradient `X^T @ G`: padding `n` to a tile's width would waste most of it, so this
    /// computes `C^T = op(B)^T @ op(A)^T` (`n` now the rows, which tiles pad far less) into
    /// scratch, then transposes it into C.
    static void transposed(int m, int n, int k, float[] a, int aOff, int lda, boolean ta, float[] b, int bOff, int ldb, boolean tb,
                           float[] c, int cOff, int ldc, boolean accumulate, Micro mk) {
        Scratch s = SCRATCH.get();
        if (s.transposed.length < n * m) s.transposed = new float[n * m];
        float[] t = s.transposed;
        // op(B)^T (n x k) is B read with the opposite transpose flag, and likewise op(A)^T
        gemm(n, m, k, b, bOff, ldb, !tb, a, aOff, lda, !ta, t, 0, m, false, mk, null, false);
        for (int i = 0; i < m; i++) {
            int co = cOff + i * ldc;
            for (int j = 0; j < n; j++) c[co + j] = accumulate ? c[co + j] + t[j * m + i] : t[j * m + i];
        }
    }

    /// Few rows or few columns: padding to whole tiles would waste most of the work, so
    /// compute directly with dot products (B transposed) or row updates (axpy).
    static void skinny(int m, int n, int k, float[] a, int aOff, int lda, boolean ta, float[] b, int bOff, int ldb, boolean tb,
                       float[] c, int cOff, int ldc, boolean accumulate, Micro mk) {
        for (int i = 0; i < m; i++) {
            int co = cOff + i * ldc;
            if (!ta && tb) {
                for (int j = 0; j < n; j++) {
                    float d = mk.dot(a, aOff + i * lda, b, bOff + j * ldb, k);
                    c[co + j] = accumulate ? c[co + j] + d : d;
                }
            } else if (!tb) {
                if (!accumulate) java.util.Arrays.fill(c, co, co + n, 0f);
                for (int p = 0; p < k; p++) {
                    float s = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    mk.axpy(s, b, bOff + p * ldb, c, co, n);
                }
            } else {
                for (int j = 0; j < n; j++) {
                    float d = 0;
                    for (int p = 0; p < k; p++) d = Math.fma(a[aOff + p * lda + i], b[bOff + j * ldb + p], d);
                    c[co + j] = accumulate ? c[co + j] + d : d;
                }
            }
        }
    }

    static int roundUp(int x, int m) { return (x + m - 1) / m * m; }

    /// Packs rows [ic, ic+mc) x depth [pc, pc+kc) of op(A) into panels of `mr` rows at
    /// `ap[dst]`: panel q holds, for each p, the `mr` values of rows q*mr.. (zero past the
    /// edge). Writes are sequential; reads walk `mr` rows side by side.
    static void packA(float[] a, int aOff, int lda, boolean ta, int ic, int mc, int pc, int kc, int mr, float[] ap, int dst0) {
        for (int ir = 0; ir < mc; ir += mr) {
            int mw = Math.min(mr, mc - ir), base = dst0 + ir * kc;
            if (ta) {
                for (int p = 0; p < kc; p++) {
                    int src = aOff + (pc + p) * lda + ic + ir, dst = base + p * mr;
                    for (int i = 0; i < mw; i++) ap[dst + i] = a[src + i]; // too short for arraycopy's call
                    for (int i = mw; i < mr; i++) ap[dst + i] = 0f;
                }
            } else {
                int src = aOff + (ic + ir) * lda + pc;
                for (int p = 0; p < kc; p++) {
                    int dst = base + p * mr;
                    for (int i = 0; i < mw; i++) ap[dst + i] = a[src + i * lda + p];
                    for (int i = mw; i < mr; i++) ap[dst + i] = 0f;
                }
            }
        }
    }

    /// Packs depth [pc, pc+kc) x columns [jc, jc+nc) of op(B) into panels of `nr` columns.
    static void packB(float[] b, int bOff, int ldb, boolean tb, int pc, int kc, int jc, int nc, int nr, float[] bp) {
        for (int jr = 0; jr < nc; jr += nr) {
            int nw = Math.min(nr, nc - jr), base = jr * kc;
            if (!tb) {
                for (int p = 0; p < kc; p++) {
                    int src = bOff + (pc + p) * ldb + jc + jr, dst = base + p * nr;
                    System.arraycopy(b, src, bp, dst, nw);
                    for (int j = nw; j < nr; j++) bp[dst + j] = 0f;
                }
            } else {
                // sequential writes; the reads walk nw rows of B side by side
                int src = bOff + (jc + jr) * ldb + pc;
                for (int p = 0; p < kc; p++) {
                    int dst = base + p * nr;
                    for (int j = 0; j < nw; j++) bp[dst + j] = b[src + j * ldb + p];
                    for (int j = nw; j < nr; j++) bp[dst + j] = 0f;
                }
            }
        }
    }

    /// The portable micro-kernel: a 4 x 16 tile kept in a small array; the inner loop over 16
    /// columns is what C2 turns into vector FMAs.
    static final class ScalarMicro implements Micro {
        static final int MR = 4, NR = 16;
        public int mr() { return MR; }
        public int nr() { return NR; }

        public float dot(float[] a, int ao, float[] b, int bo, int k) {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int p = 0;
            for (; p + 3 < k; p += 4) {
                s0 = Math.fma(a[ao + p], b[bo + p], s0);
                s1 = Math.fma(a[ao + p + 1], b[bo + p + 1], s1);
                s2 = Math.fma(a[ao + p + 2], b[bo + p + 2], s2);
                s3 = Math.fma(a[ao + p + 3], b[bo + p + 3], s3);
            }
            for (; p < k; p++) s0 = Math.fma(a[ao + p], b[bo + p], s0);
            return (s0 + s1) + (s2 + s3);
        }

        public void axpy(float s, float[] b, int bo, float[] c, int co, int n) {
            for (int j = 0; j < n; j++) c[co + j] = Math.fma(s, b[bo + j], c[co + j]);
        }

        public void dots4x4(int k, float[] a, int a0, int a1, int a2, int a3, float[] b, int b0, int b1, int b2, int b3,
                            float[] out) {
            float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0,
                    s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
            for (int p = 0; p < k; p++) {
                float x0 = a[a0 + p], x1 = a[a1 + p], x2 = a[a2 + p], x3 = a[a3 + p];
                float y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p], y3 = b[b3 + p];
                s00 = Math.fma(x0, y0, s00); s01 = Math.fma(x0, y1, s01); s02 = Math.fma(x0, y2, s02); s03 = Math.fma(x0, y3, s03);
                s10 = Math.fma(x1, y0, s10); s11 = Math.fma(x1, y1, s11); s12 = Math.fma(x1, y2, s12); s13 = Math.fma(x1, y3, s13);
                s20 = Math.fma(x2, y0, s20); s21 = Math.fma(x2, y1, s21); s22 = Math.fma(x2, y2, s22); s23 = Math.fma(x2, y3, s23);
                s30 = Math.fma(x3, y0, s30); s31 = Math.fma(x3, y1, s31); s32 = Math.fma(x3, y2, s32); s33 = Math.fma(x3, y3, s33);
            }
            out[0] = s00; out[1] = s01; out[2] = s02; out[3] = s03;
            out[4] = s10; out[5] = s11; out[6] = s12; out[7] = s13;
            out[8] = s20; out[9] = s21; out[10] = s22; out[11] = s23;
            out[12] = s30; out[13] = s31; out[14] = s32; out[15] = s33;
        }

        public void tile(int kc, float[] ap, int apOff, float[] bp, int bpOff, float[] c, int cOff, int ldc, boolean accumulate) {
            tile(kc, ap, apOff, 1, MR, bp, bpOff, c, cOff, ldc, accumulate);
        }

        public void tile(int kc, float[] ap, int apOff, int ai, int as, float[] bp, int bpOff, float[] c, int cOff, int ldc,
                         boolean accumulate) {
            float[] t = new float[MR * NR]; // scalar-replaced by escape analysis
            for (int p = 0; p < kc; p++) {
                int bo = bpOff + p * NR, ao = apOff + p * as;
                float a0 = ap[ao], a1 = ap[ao + ai], a2 = ap[ao + 2 * ai], a3 = ap[ao + 3 * ai];
                for (int j = 0; j < NR; j++) {
                    float bj = bp[bo + j];
                    t[j] = Math.fma(a0, bj, t[j]);
                    t[NR + j] = Math.fma(a1, bj, t[NR + j]);
                    t[2 * NR + j] = Math.fma(a2, bj, t[2 * NR + j]);
                    t[3 * NR + j] = Math.fma(a3, bj, t[3 * NR + j]);
                }
            }
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++) {
                    int at = cOff + i * ldc + j;
                    c[at] = accumulate ? c[at] + t[i * NR + j] : t[i * NR + j];
                }
        }
    }
}
