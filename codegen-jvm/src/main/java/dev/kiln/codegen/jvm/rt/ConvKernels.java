package dev.kiln.codegen.jvm.rt;

import dev.kiln.runtime.NdArray;

/// The three forms of 2-D convolution (PyTorch's cross-correlation, NCHW, grouped): f32 by
/// im2col and `Gemm`, in parallel over images; other float dtypes by a direct loop in double
/// (the interpreter's arithmetic), which is slow but exact.
///
/// - forward: `y[n] = W @ col(x[n])` per group;
/// - gradient of the input: `dcol = W^T @ g[n]`, scattered back by col2im;
///   both on several narrow images at once when ungrouped (see `imagesPerGemm`);
/// - gradient of the weight: `dW = sum_n g[n] @ col(x[n])^T`, each thread summing its images
///   into a private buffer that is then added to the result under a lock.
///
/// Thread-safety: scratch is per thread; calls on different outputs may run concurrently.
public final class ConvKernels {
    private ConvKernels() {}

    public static final int FORWARD = 0, GRAD_INPUT = 1, GRAD_WEIGHT = 2;
    /// dtype codes: 0 = f32, 1 = f64, 2 = f16, 3 = bf16.
    public static final int F32 = 0, F64 = 1, F16 = 2, BF16 = 3;

    private static final class Scratch {
        float[] col = new float[0], part = new float[0], stack = new float[0];
        final Gemm.PackedA weight = new Gemm.PackedA();
    }
    /// Numbers the calls, so a weight packed by an earlier call (whose values may have changed
    /// since: an optimizer updates weights in place) is never reused.
    private static final java.util.concurrent.atomic.AtomicLong CALLS = new java.util.concurrent.atomic.AtomicLong();
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /// Runs one convolution form, then task `epi` of `code` (an in-place epilogue on the
    /// output) on each image's outer iterations `[i*perImage, (i+1)*perImage)` right after
    /// that image is done, or once over `[0, extent)` at the end when `perImage` is 0.
    public static void run(int form, int dtype, Object x, Object w, Object y, int n, int c, int h, int wd, int o, int kh, int kw,
                           int oh, int ow, int sh, int sw, int ph, int pw, int dh, int dw, int groups,
                           KernelSet code, int epi, Object[] bufs, int[] dims, int perImage, int extent) {
        Geom q = new Geom(n, c, h, wd, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups);
        boolean perImg = epi >= 0 && perImage > 0;
        if (dtype != F32) {
            reference(form, dtype, x, w, y, q);
        } else {
            float[] xf = (float[]) x, wf = (float[]) w, yf = (float[]) y;
            Pool pool = Pool.current();
            long flops = 2L * n * o * (c / groups) * kh * kw * oh * ow;
            // few images: each image's product is split instead (see forward/gradInput)
            int threads = flops < 1_000_000 || n < pool.size() ? 1 : pool.size();
            Pool inner = threads == 1 ? pool : null;
            // images per product: 1 unless the unfolded image is narrow (see imagesPerGemm)
            int per = imagesPerGemm(q, threads);
            int batches = (n + per - 1) / per;
            switch (form) {
                // one part per batch of images: whoever runs takes the next batch, so a
                // descheduled thread holds up at most one batch
                case FORWARD, GRAD_INPUT -> {
                    long call = CALLS.incrementAndGet(); // the weights may have changed since the last call
                    boolean fwd = form == FORWARD;
                    pool.run(threads == 1 ? 1 : batches, part -> {
                        for (int bi = threads == 1 ? 0 : part; bi < (threads == 1 ? batches : part + 1); bi++) {
                            int i0 = bi * per, i1 = Math.min(n, i0 + per);
                            if (fwd) {
                                if (per == 1) forward(q, xf, wf, yf, i0, inner, call);
                                else forwardBatch(q, xf, wf, yf, i0, i1, inner, call);
                            } else if (per == 1) gradInput(q, xf, wf, yf, i0, inner, call);
                            else gradInputBatch(q, xf, wf, yf, i0, i1, inner, call);
                            if (perImg) for (int i = i0; i < i1; i++) code.run(epi, bufs, dims, i * perImage, (i + 1) * perImage);
                        }
                    });
                }
                case GRAD_WEIGHT -> {
                    java.util.Arrays.fill(wf, 0f);
                    int parts = Math.min(threads == 1 ? 1 : pool.size(), Math.max(1, n));
                    pool.run(parts, part -> gradWeight(q, xf, wf, yf, part, parts));
                }
                default -> throw new IllegalArgumentException("conv form " + form);
            }
        }
        if (epi >= 0 && dtype != F32 && perImg) for (int i = 0; i < n; i++) code.run(epi, bufs, dims, i * perImage, (i + 1) * perImage);
        if (epi >= 0 && !perImg && extent > 0) code.run(epi, bufs, dims, 0, extent);
    }

    record Geom(int n, int c, int h, int w, int o, int kh, int kw, int oh, int ow, int sh, int sw, int ph, int pw,
                int dh, int dw, int groups) {
        int cg() { return c / groups; }
        int og() { return o / groups; }
        int rows() { return cg() * kh * kw; }
        int cols() { return oh * ow; }
        boolean direct() { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
    }

    private static float[] col(Geom q) { return col(q, 1); }

    /// Scratch for `images` unfolded side by side: `rows x (images * cols)`.
    private static float[] col(Geom q, int images) {
        Scratch s = SCRATCH.get();
        int need = q.rows() * q.cols() * images;
        if (s.col.length < need) s.col = new float[need];
        return s.col;
    }

    /// Scratch for `images` outputs (or output gradients) side by side: `o x (images * cols)`.
    private static float[] stack(Geom q, int images) {
        Scratch s = SCRATCH.get();
        int need = q.o * q.cols() * images;
        if (s.stack.length < need) s.stack = new float[need];
        return s.stack;
    }

    /// Columns one product should span, about: a narrow unfolded image (conv2 of MNISTNet:
    /// 196 columns for a 64 x 288 weight) leaves the product short on columns, with a ragged
    /// last panel and the weight's panels reloaded per image; several images side by side
    /// give one wider product. 784 measured best-or-equal on that layer (from 392 to 1568
    /// columns, its unfolded scratch 0.9 MB); not tuned for other shapes.
    static final int BATCH_COLS = 784;

    /// Images per product: several only for an ungrouped convolution through im2col whose
    /// images are narrower than BATCH_COLS, and never so many that some thread gets none.
    static int imagesPerGemm(Geom q, int threads) {
        if (q.groups != 1 || q.direct()) return 1;
        int per = Math.max(1, BATCH_COLS / Math.max(1, q.cols()));
        return Math.max(1, Math.min(per, q.n / Math.max(1, threads)));
    }

    /// Unfolds the input patches of image `img`, group `g`: row (c,a,b), column (p,q).
    static void im2col(Geom q, float[] x, int img, int g, float[] col) { im2col(q, x, img, g, col, 0, q.cols()); }

    /// The same into the columns `[colOff, colOff + cols)` of a `col` whose rows are `ld` apart (one
    /// image of several unfolded side by side).
    static void im2col(Geom q, float[] x, int img, int g, float[] col, int colOff, int ld) {
        if (q.sh == 1 && q.sw == 1 && q.dh == 1 && q.dw == 1 && q.oh == q.h && q.ow == q.w) {
            im2colSame(q, x, img, g, col, colOff, ld);
            return;
        }
        for (int ci = 0; ci < q.cg(); ci++) {
            int xBase = ((img * q.c) + g * q.cg() + ci) * q.h * q.w;
            for (int a = 0; a < q.kh; a++)
                for (int b = 0; b < q.kw; b++) {
                    int row = (ci * q.kh + a) * q.kw + b, dst = row * ld + colOff;
                    for (int p = 0; p < q.oh; p++) {
                        int ih = p * q.sh - q.ph + a * q.dh;
                        int at = dst + p * q.ow;
                        if (ih < 0 || ih >= q.h) {
                            java.util.Arrays.fill(col, at, at + q.ow, 0f);
                            continue;
                        }
                        int src = xBase + ih * q.w;
                        int off = b * q.dw - q.pw;
                        if (q.sw == 1) {
                            // contiguous run: valid iw = s + off for s in [lo, hi)
                            int lo = Math.max(0, -off), hi = Math.min(q.ow, q.w - off);
                            for (int s = 0; s < Math.min(lo, q.ow); s++) col[at + s] = 0f;
                            if (lo < hi) System.arraycopy(x, src + lo + off, col, at + lo, hi - lo);
                            for (int s = Math.max(hi, lo); s < q.ow; s++) col[at + s] = 0f;
                        } else {
                            for (int s = 0; s < q.ow; s++) {
                                int iw = s * q.sw + off;
                                col[at + s] = iw >= 0 && iw < q.w ? x[src + iw] : 0f;
                            }
                        }
                    }
                }
        }
    }

    /// im2col for a stride-1 convolution whose output has the input's size: each row is the
    /// channel plane shifted by (a - ph, b - pw), so it is one bulk copy, then the columns that
    /// wrapped around a row edge and the rows past the top or bottom are zeroed.
    static void im2colSame(Geom q, float[] x, int img, int g, float[] col, int colOff, int ld) {
        int h = q.h, w = q.w, plane = h * w;
        for (int ci = 0; ci < q.cg(); ci++) {
            int xBase = ((img * q.c) + g * q.cg() + ci) * plane;
            for (int a = 0; a < q.kh; a++)
                for (int b = 0; b < q.kw; b++) {
                    int dst = ((ci * q.kh + a) * q.kw + b) * ld + colOff;
                    int dy = a - q.ph, dx = b - q.pw, shift = dy * w + dx;
                    int lo = Math.max(0, -shift), hi = Math.min(plane, plane - shift);
                    if (lo > 0) java.util.Arrays.fill(col, dst, dst + Math.min(lo, plane), 0f);
                    if (lo < hi) System.arraycopy(x, xBase + lo + shift, col, dst + lo, hi - lo);
                    if (hi < plane) java.util.Arrays.fill(col, dst + Math.max(hi, 0), dst + plane, 0f);
                    // rows whose source row is outside the image
                    for (int p = 0; p < Math.min(h, -dy); p++) java.util.Arrays.fill(col, dst + p * w, dst + p * w + w, 0f);
                    for (int p = Math.max(0, h - dy); p < h; p++) java.util.Arrays.fill(col, dst + p * w, dst + p * w + w, 0f);
                    // columns whose source column wrapped to the neighbouring row
                    if (dx > 0) for (int p = 0; p < h; p++) for (int t = w - dx; t < w; t++) col[dst + p * w + t] = 0f;
                    if (dx < 0) for (int p = 0; p < h; p++) for (int t = 0; t < Math.min(w, -dx); t++) col[dst + p * w + t] = 0f;
                }
        }
    }

    /// col2im for a same-size stride-1 convolution: the columns that wrapped around a row edge
    /// are zeroed in `col` (scratch), so each row adds back as one long shifted loop; adding
    /// +0 changes no sum, and the order of the additions is the general path's.
    static void col2imSame(Geom q, float[] col, int colOff, int ld, int img, int g, float[] dx) {
        int h = q.h, w = q.w, plane = h * w;
        for (int ci = 0; ci < q.cg(); ci++) {
            int xBase = ((img * q.c) + g * q.cg() + ci) * plane;
            for (int a = 0; a < q.kh; a++)
                for (int b = 0; b < q.kw; b++) {
                    int src = ((ci * q.kh + a) * q.kw + b) * ld + colOff;
                    int dy = a - q.ph, dxs = b - q.pw, shift = dy * w + dxs;
                    if (dxs > 0) for (int p = 0; p < h; p++) for (int t = w - dxs; t < w; t++) col[src + p * w + t] = 0f;
                    if (dxs < 0) for (int p = 0; p < h; p++) for (int t = 0; t < Math.min(w, -dxs); t++) col[src + p * w + t] = 0f;
                    // output rows whose source row is inside the image, and in-plane targets
                    int lo = Math.max(Math.max(0, -dy) * w, -shift), hi = Math.min(Math.min(h, h - dy) * w, plane - shift);
                    if (lo < hi) Gemm.addTo(col, src + lo, dx, xBase + shift + lo, hi - lo);
                }
        }
    }

    /// Adds the columns back onto image `img`, group `g` of `dx` (the adjoint of im2col).
    static void col2im(Geom q, float[] col, int img, int g, float[] dx) { col2im(q, col, 0, q.cols(), img, g, dx); }

    /// The same from the columns `[colOff, colOff + cols)` of a `col` whose rows are `ld` apart.
    static void col2im(Geom q, float[] col, int colOff, int ld, int img, int g, float[] dx) {
        if (q.sh == 1 && q.sw == 1 && q.dh == 1 && q.dw == 1 && q.oh == q.h && q.ow == q.w) {
            col2imSame(q, col, colOff, ld, img, g, dx);
            return;
        }
        for (int ci = 0; ci < q.cg(); ci++) {
            int xBase = ((img * q.c) + g * q.cg() + ci) * q.h * q.w;
            for (int a = 0; a < q.kh; a++)
                for (int b = 0; b < q.kw; b++) {
                    int row = (ci * q.kh + a) * q.kw + b, src = row * ld + colOff;
                    for (int p = 0; p < q.oh; p++) {
                        int ih = p * q.sh - q.ph + a * q.dh;
                        if (ih < 0 || ih >= q.h) continue;
                        int dst = xBase + ih * q.w, at = src + p * q.ow, off = b * q.dw - q.pw;
                        if (q.sw == 1) {
                            int lo = Math.max(0, -off), hi = Math.min(q.ow, q.w - off);
                            for (int s = lo; s < hi; s++) dx[dst + s + off] += col[at + s];
                        } else {
                            for (int s = 0; s < q.ow; s++) {
                                int iw = s * q.sw + off;
                                if (iw >= 0 && iw < q.w) dx[dst + iw] += col[at + s];
                            }
                        }
                    }
                }
        }
    }

    /// Whether `pool` (or null) would split a product: with one thread (the single-threaded
    /// path hands its pool down) the weight packed once per call is reused instead.
    static boolean split(Pool pool) { return pool != null && pool.size() > 1; }

    /// Image `img`; `pool` (or null) splits its product when there are fewer images than threads.
    static void forward(Geom q, float[] x, float[] w, float[] y, int img, Pool pool, long call) {
        int cols = q.cols(), rows = q.rows();
        for (int g = 0; g < q.groups; g++) {
            float[] src;
            int srcOff;
            if (q.direct()) {
                src = x;
                srcOff = (img * q.c + g * q.cg()) * q.h * q.w;
            } else {
                src = col(q);
                srcOff = 0;
                im2col(q, x, img, g, src);
            }
            int yOff = (img * q.o + g * q.og()) * cols;
            if (!split(pool) && q.groups == 1) {
                // the weight is the same for every image: packed once per call and thread
                Gemm.PackedA pw = SCRATCH.get().weight.pack(q.og(), rows, w, 0, rows, false, call);
                Gemm.gemm(pw, cols, src, srcOff, cols, false, y, yOff, cols, false);
            } else if (split(pool)) Gemm.gemmParallel(q.og(), cols, rows, w, g * q.og() * rows, rows, false, src, srcOff, cols, false, y, yOff, cols, false, pool);
            else Gemm.gemm(q.og(), cols, rows, w, g * q.og() * rows, rows, false, src, srcOff, cols, false, y, yOff, cols, false);
        }
    }

    static void gradInput(Geom q, float[] dx, float[] w, float[] gy, int img, Pool pool, long call) {
        int cols = q.cols(), rows = q.rows();
        int xOff = img * q.c * q.h * q.w;
        java.util.Arrays.fill(dx, xOff, xOff + q.c * q.h * q.w, 0f);
        for (int g = 0; g < q.groups; g++) {
            int gOff = (img * q.o + g * q.og()) * cols;
            if (q.direct()) {
                int dst = (img * q.c + g * q.cg()) * q.h * q.w;
                Gemm.gemm(rows, cols, q.og(), w, g * q.og() * rows, rows, true, gy, gOff, cols, false, dx, dst, cols, true);
            } else {
                float[] col = col(q);
                if (split(pool)) Gemm.gemmParallel(rows, cols, q.og(), w, g * q.og() * rows, rows, true, gy, gOff, cols, false, col, 0, cols, false, pool);
                else if (q.groups == 1) {
                    // W^T is the same for every image: packed once per call and thread
                    Gemm.PackedA pw = SCRATCH.get().weight.pack(rows, q.og(), w, 0, rows, true, call);
                    Gemm.gemm(pw, cols, gy, gOff, cols, false, col, 0, cols, false);
                } else Gemm.gemm(rows, cols, q.og(), w, g * q.og() * rows, rows, true, gy, gOff, cols, false, col, 0, cols, false);
                col2im(q, col, img, g, dx);
            }
        }
    }

    /// Images `[i0, i1)` (ungrouped, through im2col) as one product: unfolded side by side into
    /// `col` (rows x images*cols), `W @ col` into a scratch of outputs side by side, whose rows
    /// are then copied to each image's output.
    static void forwardBatch(Geom q, float[] x, float[] w, float[] y, int i0, int i1, Pool pool, long call) {
        int cols = q.cols(), rows = q.rows(), o = q.o, ld = (i1 - i0) * cols;
        float[] col = col(q, i1 - i0), out = stack(q, i1 - i0);
        for (int i = i0; i < i1; i++) im2col(q, x, i, 0, col, (i - i0) * cols, ld);
        if (!split(pool)) {
            Gemm.PackedA pw = SCRATCH.get().weight.pack(o, rows, w, 0, rows, false, call);
            Gemm.gemm(pw, ld, col, 0, ld, false, out, 0, ld, false);
        } else Gemm.gemmParallel(o, ld, rows, w, 0, rows, false, col, 0, ld, false, out, 0, ld, false, pool);
        for (int i = i0; i < i1; i++)
            for (int r = 0; r < o; r++) System.arraycopy(out, r * ld + (i - i0) * cols, y, (i * o + r) * cols, cols);
    }

    /// Images `[i0, i1)` as one product: their output gradients gathered side by side,
    /// `W^T @ gstack` into `col`, then each image's columns scattered back by col2im.
    static void gradInputBatch(Geom q, float[] dx, float[] w, float[] gy, int i0, int i1, Pool pool, long call) {
        int cols = q.cols(), rows = q.rows(), o = q.o, ld = (i1 - i0) * cols, plane = q.c * q.h * q.w;
        float[] col = col(q, i1 - i0), gs = gather(q, gy, i0, i1);
        if (!split(pool)) {
            Gemm.PackedA pw = SCRATCH.get().weight.pack(rows, o, w, 0, rows, true, call);
            Gemm.gemm(pw, ld, gs, 0, ld, false, col, 0, ld, false);
        } else Gemm.gemmParallel(rows, ld, o, w, 0, rows, true, gs, 0, ld, false, col, 0, ld, false, pool);
        java.util.Arrays.fill(dx, i0 * plane, i1 * plane, 0f);
        for (int i = i0; i < i1; i++) col2im(q, col, (i - i0) * cols, ld, i, 0, dx);
    }

    /// The output gradients of images `[i0, i1)` side by side: `o x (images * cols)` scratch.
    private static float[] gather(Geom q, float[] gy, int i0, int i1) {
        int cols = q.cols(), o = q.o, ld = (i1 - i0) * cols;
        float[] gs = stack(q, i1 - i0);
        for (int i = i0; i < i1; i++)
            for (int r = 0; r < o; r++) System.arraycopy(gy, (i * o + r) * cols, gs, r * ld + (i - i0) * cols, cols);
        return gs;
    }

    /// This part's images, summed as `dW^T = sum_n col(x[n]) @ g[n]^T` into a private buffer
    /// (one `rows x og` block per group), which is then added, transposed, to `dw` under a lock.
    /// The unfolded image is read in place (its rows are the product's rows), and only the
    /// gradient, a quarter of its size or less, is packed: the other way round (`g @ col^T`)
    /// would pack the unfolded image by a transposing copy that costs as much as the product.
    /// One image per product: batching images into one deeper product (as forward and
    /// gradInput do) measured no faster here, the gather of the gradients eating the gain.
    static void gradWeight(Geom q, float[] x, float[] dw, float[] gy, int part, int parts) {
        int cols = q.cols(), rows = q.rows(), og = q.og(), size = q.o * rows;
        Scratch s = SCRATCH.get();
        if (s.part.length < size) s.part = new float[size];
        float[] acc = s.part;
        java.util.Arrays.fill(acc, 0, size, 0f);
        boolean any = false;
        // the larger operand is read in place: the unfolded image (dW^T = col @ g^T) unless the
        // gradient has more rows (few input channels: dW = g @ col^T, by dot products when skinny)
        boolean transposed = rows >= og;
        for (int img = part; img < q.n; img += parts) {
            any = true;
            for (int g = 0; g < q.groups; g++) {
                float[] src;
                int srcOff;
                if (q.direct()) {
                    src = x;
                    srcOff = (img * q.c + g * q.cg()) * q.h * q.w;
                } else {
                    src = col(q);
                    srcOff = 0;
                    im2col(q, x, img, g, src);
                }
                int gOff = (img * q.o + g * og) * cols;
                if (transposed) Gemm.gemmInPlaceA(rows, og, cols, src, srcOff, cols, gy, gOff, cols, true, acc, g * rows * og, og, true);
                else Gemm.gemm(og, rows, cols, gy, gOff, cols, false, src, srcOff, cols, true, acc, g * og * rows, rows, true);
            }
        }
        if (!any) return;
        synchronized (dw) {
            if (!transposed) for (int i = 0; i < size; i++) dw[i] += acc[i];
            else for (int g = 0; g < q.groups; g++)
                for (int o = 0; o < og; o++) {
                    int dst = (g * og + o) * rows, src = g * rows * og + o;
                    for (int r = 0; r < rows; r++) dw[dst + r] += acc[src + r * og];
                }
        }
    }

    // ---- reference path (f64, f16, bf16) -------------------------------------------------

    private static void reference(int form, int dtype, Object x, Object w, Object y, Geom q) {
        double[] xd = toDouble(x, dtype), wd = toDouble(w, dtype), yd = toDouble(y, dtype);
        double[] acc = new double[switch (form) { case FORWARD -> yd.length; case GRAD_INPUT -> xd.length; default -> wd.length; }];
        int og = q.og(), cg = q.cg();
        for (int ni = 0; ni < q.n; ni++)
            for (int oi = 0; oi < q.o; oi++) {
                int g = oi / og;
                for (int ci = 0; ci < cg; ci++) {
                    int xc = g * cg + ci;
                    for (int a = 0; a < q.kh; a++)
                        for (int b = 0; b < q.kw; b++) {
                            int wi = ((oi * cg + ci) * q.kh + a) * q.kw + b;
                            for (int p = 0; p < q.oh; p++) {
                                int ih = p * q.sh - q.ph + a * q.dh;
                                if (ih < 0 || ih >= q.h) continue;
                                for (int s = 0; s < q.ow; s++) {
                                    int iw = s * q.sw - q.pw + b * q.dw;
                                    if (iw < 0 || iw >= q.w) continue;
                                    int xi = ((ni * q.c + xc) * q.h + ih) * q.w + iw, yi = ((ni * q.o + oi) * q.oh + p) * q.ow + s;
                                    switch (form) {
                                        case FORWARD -> acc[yi] += xd[xi] * wd[wi];
                                        case GRAD_INPUT -> acc[xi] += yd[yi] * wd[wi];
                                        default -> acc[wi] += xd[xi] * yd[yi];
                                    }
                                }
                            }
                        }
                }
            }
        fromDouble(acc, switch (form) { case FORWARD -> y; case GRAD_INPUT -> x; default -> w; }, dtype);
    }

    private static double[] toDouble(Object a, int dtype) {
        return switch (a) {
            case double[] d -> d;
            case float[] f -> { double[] d = new double[f.length]; for (int i = 0; i < f.length; i++) d[i] = f[i]; yield d; }
            case short[] s -> {
                double[] d = new double[s.length];
                for (int i = 0; i < s.length; i++) d[i] = dtype == F16 ? Float.float16ToFloat(s[i]) : NdArray.bf16ToFloat(s[i]);
                yield d;
            }
            default -> throw new IllegalArgumentException("conv2d storage " + a.getClass().getSimpleName());
        };
    }

    private static void fromDouble(double[] acc, Object out, int dtype) {
        switch (out) {
            case double[] d -> System.arraycopy(acc, 0, d, 0, acc.length);
            case float[] f -> { for (int i = 0; i < acc.length; i++) f[i] = (float) acc[i]; }
            case short[] s -> {
                for (int i = 0; i < acc.length; i++)
                    s[i] = dtype == F16 ? Float.floatToFloat16((float) acc[i]) : NdArray.floatToBf16((float) acc[i]);
            }
            default -> throw new IllegalArgumentException("conv2d storage " + out.getClass().getSimpleName());
        }
    }
}
