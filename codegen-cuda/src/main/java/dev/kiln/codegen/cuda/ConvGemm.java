package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;

import java.util.List;

import static dev.kiln.codegen.cuda.ConvLoops.add;
import static dev.kiln.codegen.cuda.ConvLoops.and;
import static dev.kiln.codegen.cuda.ConvLoops.c;
import static dev.kiln.codegen.cuda.ConvLoops.div;
import static dev.kiln.codegen.cuda.ConvLoops.eq;
import static dev.kiln.codegen.cuda.ConvLoops.ge;
import static dev.kiln.codegen.cuda.ConvLoops.load;
import static dev.kiln.codegen.cuda.ConvLoops.lt;
import static dev.kiln.codegen.cuda.ConvLoops.mod;
import static dev.kiln.codegen.cuda.ConvLoops.mul;
import static dev.kiln.codegen.cuda.ConvLoops.sub;
import static dev.kiln.codegen.cuda.ConvLoops.v;
import static dev.kiln.codegen.cuda.ConvLoops.within;

/// A convolution form as an implicit GEMM, one per group: `C[z][m][n] = sum_k A[z](m,k) * B[z](k,n)`,
/// where the operands are never materialized: `a` and `b` are kernel-IR expressions of the
/// element at `(gz, gm, gk)` and `(gz, gk, gn)` (im2col addressing, with padding as a lazy
/// select around the load), and `outIndex` is the output element `C[gz][gm][gn]` stands for.
/// The tiled kernel (`Sgemm.tiles`) emits these expressions for the elements it stages, and
/// `reference()` is the same GEMM as a plain loop nest, which `KirEval` checks on the CPU.
///
/// - FORWARD: `M = O/g`, `N = batch*OH*OW`, `K = C/g*KH*KW`; A is the weight, B the unfolded input.
/// - GRAD_INPUT: `M = C/g`, `N = batch*H*W`, `K = O/g*KH*KW`; A is the weight read across its
///   output channels, B the output gradient gathered at the positions that read `(h, w)`
///   (taps where `h + pad - kh*dil` is not a multiple of the stride read 0), so no atomics.
/// - GRAD_WEIGHT: `M = O/g`, `N = C/g*KH*KW`, `K = batch*OH*OW`; A is the output gradient, B
///   the unfolded input. K grows with the batch while M*N is small, so the K range is split
///   across blocks (`splitK`): the output is zeroed first and each block adds its partial sums
///   with `red.global.add` (the order of those additions varies from run to run).
///
/// `aAlongK`/`bAlongK` say along which index consecutive elements of each operand are closest
/// in memory, so that the kernel's staging loads are coalesced. Invariant: every expression
/// only reads in bounds when `gm < m`, `gn < n`, `gk < k` and `gz < groups`.
record ConvGemm(Conv conv, int groups, Expr m, Expr n, Expr k, Expr a, Expr b, int out, Expr outIndex,
                boolean aAlongK, boolean bAlongK, boolean splitK) {
    static final String Z = "gz", M = "gm", N = "gn", K = "gk";

    /// The implicit GEMM of `cv`, its loads of element type `dtype` converted to the
    /// accumulation type (f64 for f64, f32 otherwise).
    static ConvGemm of(Conv cv, DType dtype) {
        ConvGeom g = cv.geom();
        DType acc = dtype == DType.F64 ? DType.F64 : DType.F32;
        int cg = g.c() / g.groups(), og = g.o() / g.groups(), kk = g.kh() * g.kw();
        int p = g.oh() * g.ow(), hw = g.h() * g.w();
        Expr z = v(Z), m = v(M), n = v(N), k = v(K);
        Expr batch = cv.n();
        return switch (cv.form()) {
            case FORWARD -> {
                // A(m, k) = w[z*og + m][k]; B(k, n) = x[img][z*cg + c'][p*sh - ph + a*dh][q*sw - pw + b*dw]
                // with k = (c', a, b), n = (img, p, q); C(m, n) = y[img][z*og + m][p][q]
                Expr wi = add(mul(add(mul(z, c(og)), m), c((long) cg * kk)), k);
                Expr img = div(n, c(p)), pq = mod(n, c(p));
                Expr xv = input(cv, g, dtype, acc, z, cg, img, div(pq, c(g.ow())), mod(pq, c(g.ow())), div(k, c(kk)), mod(k, c(kk)));
                Expr yi = add(mul(add(mul(img, c(g.o())), add(mul(z, c(og)), m)), c(p)), pq);
                yield new ConvGemm(cv, g.groups(), c(og), mul(batch, c(p)), c((long) cg * kk),
                        load(cv.w(), wi, dtype, acc), xv, cv.y(), yi, true, false, false);
            }
            case GRAD_INPUT -> {
                // A(m, k) = w[z*og + o'][m][a][b] with k = (o', a, b); B(k, n) = dy[img][z*og + o'][p][q]
                // where h + ph - a*dh = p*sh (and the same along w), n = (img, h, w); C(m, n) = dx[img][z*cg + m][h][w]
                Expr o = div(k, c(kk)), ab = mod(k, c(kk));
                Expr wi = add(mul(add(mul(add(mul(z, c(og)), o), c(cg)), m), c(kk)), ab);
                Expr img = div(n, c(hw)), pix = mod(n, c(hw));
                Expr h = div(pix, c(g.w())), wc = mod(pix, c(g.w()));
                Expr th = sub(add(h, c(g.ph())), mul(div(ab, c(g.kw())), c(g.dh())));
                Expr tw = sub(add(wc, c(g.pw())), mul(mod(ab, c(g.kw())), c(g.dw())));
                Expr ph = div(th, c(g.sh())), pw = div(tw, c(g.sw()));
                Expr inside = and(and(and(ge(th, c(0)), ge(tw, c(0))), and(eq(mod(th, c(g.sh())), c(0)), eq(mod(tw, c(g.sw())), c(0)))),
                        and(lt(ph, c(g.oh())), lt(pw, c(g.ow()))));
                Expr yi = add(mul(add(mul(add(mul(img, c(g.o())), add(mul(z, c(og)), o)), c(g.oh())), ph), c(g.ow())), pw);
                Expr yv = new Sel(inside, load(cv.y(), yi, dtype, acc), new FloatConst(0, acc), acc);
                Expr xi = add(mul(add(mul(img, c(g.c())), add(mul(z, c(cg)), m)), c(hw)), pix);
                yield new ConvGemm(cv, g.groups(), c(cg), mul(batch, c(hw)), c((long) og * kk),
                        load(cv.w(), wi, dtype, acc), yv, cv.x(), xi, true, false, false);
            }
            case GRAD_WEIGHT -> {
                // A(m, k) = dy[img][z*og + m][p][q] with k = (img, p, q); B(k, n) = x[img][z*cg + c'][..][..]
                // with n = (c', a, b); C(m, n) = dw[z*og + m][c'][a][b]
                Expr img = div(k, c(p)), pq = mod(k, c(p));
                Expr yi = add(mul(add(mul(img, c(g.o())), add(mul(z, c(og)), m)), c(p)), pq);
                Expr xv = input(cv, g, dtype, acc, z, cg, img, div(pq, c(g.ow())), mod(pq, c(g.ow())), div(n, c(kk)), mod(n, c(kk)));
                Expr wi = add(mul(add(mul(z, c(og)), m), c((long) cg * kk)), n);
                yield new ConvGemm(cv, g.groups(), c(og), c((long) cg * kk), mul(batch, c(p)),
                        load(cv.y(), yi, dtype, acc), xv, cv.w(), wi, true, true, true);
            }
        };
    }

    /// The input element read by output position `(img, op, oq)` through tap `(ch, ab)` of
    /// group `z`, or 0 in the padding.
    private static Expr input(Conv cv, ConvGeom g, DType dtype, DType acc, Expr z, int cg, Expr img, Expr op, Expr oq, Expr ch, Expr ab) {
        Expr ih = add(sub(mul(op, c(g.sh())), c(g.ph())), mul(div(ab, c(g.kw())), c(g.dh())));
        Expr iw = add(sub(mul(oq, c(g.sw())), c(g.pw())), mul(mod(ab, c(g.kw())), c(g.dw())));
        Expr xi = add(mul(add(mul(add(mul(img, c(g.c())), add(mul(z, c(cg)), ch)), c(g.h())), ih), c(g.w())), iw);
        return new Sel(and(within(ih, g.h()), within(iw, g.w())), load(cv.x(), xi, dtype, acc), new FloatConst(0, acc), acc);
    }

    DType acc() { return a.type(); }

    /// The GEMM as a plain loop nest over `(gz, gm, gn)` with a serial sum over `gk`: the
    /// meaning the tiled kernel must reproduce (up to the order of the additions).
    Loop reference() {
        String s = "gemm_acc";
        Local sum = new Local(s, acc());
        Stmt kLoop = new Loop(K, k, List.of(new Set(s, new Bin(BinOp.ADD, sum, new Bin(BinOp.MUL, a, b, acc()), acc()))));
        Loop nLoop = new Loop(N, n, List.of(new Let(s, new FloatConst(0, acc())), kLoop, new Store(out, outIndex, sum)));
        return new Loop(Z, c(groups), List.of(new Loop(M, m, List.of(nLoop))));
    }
}
