package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.List;

/// The three convolution forms as direct loop nests in kernel IR, so that they go through the
/// same PTX emission (and mapping to threads or blocks) as every other kernel:
/// - FORWARD: one output element `y[n,o,p,q]` per iteration, summing over `(c', kh, kw)`;
/// - GRAD_INPUT: one input element `x[n,c,h,w]` per iteration, gathering the output positions
///   that read it (those where `h + pad - kh*dil` is a multiple of the stride), so no atomics;
/// - GRAD_WEIGHT: one weight `w[o,c',kh,kw]` per iteration, summing over `(n, p, q)`: a long
///   reduction over the batch, which `PtxGen` maps to a block per weight.
///
/// Out-of-bounds taps are a `Sel` around the product (the load sits in the arm the IR only
/// evaluates when in bounds). Accumulation is in f64 for f64 and in f32 otherwise (f16/bf16
/// round once at the store). Invariant: the nest writes every element of the output once.
final class ConvLoops {
    private ConvLoops() {}

    static Expr c(long v) { return new IntConst(v, DType.I32); }
    static Local v(String name) { return new Local(name, DType.I32); }
    static Expr add(Expr a, Expr b) { return new Bin(BinOp.ADD, a, b, DType.I32); }
    static Expr sub(Expr a, Expr b) { return new Bin(BinOp.SUB, a, b, DType.I32); }
    static Expr mul(Expr a, Expr b) { return new Bin(BinOp.MUL, a, b, DType.I32); }
    static Expr div(Expr a, Expr b) { return new Bin(BinOp.DIV, a, b, DType.I32); }
    static Expr mod(Expr a, Expr b) { return new Bin(BinOp.MOD, a, b, DType.I32); }
    static Expr ge(Expr a, Expr b) { return new Bin(BinOp.GE, a, b, DType.BOOL); }
    static Expr lt(Expr a, Expr b) { return new Bin(BinOp.LT, a, b, DType.BOOL); }
    static Expr eq(Expr a, Expr b) { return new Bin(BinOp.EQ, a, b, DType.BOOL); }
    static Expr and(Expr a, Expr b) { return new Bin(BinOp.AND, a, b, DType.BOOL); }
    static Expr within(Expr i, int size) { return and(ge(i, c(0)), lt(i, c(size))); }

    static Expr load(int buffer, Expr index, DType stored, DType acc) {
        Expr l = new Load(buffer, index, stored);
        return stored == acc ? l : new Convert(l, acc);
    }

    /// The loop nest computing `cv`'s output; `dtype` is the element type of all three tensors.
    static Loop of(Conv cv, DType dtype) {
        ConvGeom g = cv.geom();
        DType acc = dtype == DType.F64 ? DType.F64 : DType.F32;
        int cg = g.c() / g.groups(), og = g.o() / g.groups();
        Expr n = cv.n();
        String f = "cv_f", s = "cv_acc";
        Local sum = new Local(s, acc);
        List<Stmt> body = new ArrayList<>();
        Expr total, product, inside;
        List<Loop> red = new ArrayList<>();
        int out;
        switch (cv.form()) {
            case FORWARD -> {
                // f = ((n*O + o)*OH + p)*OW + q
                total = mul(n, c((long) g.o() * g.oh() * g.ow()));
                body.add(new Let("cv_q", mod(v(f), c(g.ow()))));
                body.add(new Let("cv_p", mod(div(v(f), c(g.ow())), c(g.oh()))));
                body.add(new Let("cv_o", mod(div(v(f), c((long) g.ow() * g.oh())), c(g.o()))));
                body.add(new Let("cv_n", div(v(f), c((long) g.ow() * g.oh() * g.o()))));
                Expr ih = add(sub(mul(v("cv_p"), c(g.sh())), c(g.ph())), mul(v("cv_a"), c(g.dh())));
                Expr iw = add(sub(mul(v("cv_q"), c(g.sw())), c(g.pw())), mul(v("cv_b"), c(g.dw())));
                Expr xc = add(mul(div(v("cv_o"), c(og)), c(cg)), v("cv_c"));
                Expr xi = add(mul(add(mul(add(mul(v("cv_n"), c(g.c())), xc), c(g.h())), ih), c(g.w())), iw);
                Expr wi = add(mul(add(mul(add(mul(v("cv_o"), c(cg)), v("cv_c")), c(g.kh())), v("cv_a")), c(g.kw())), v("cv_b"));
                product = new Bin(BinOp.MUL, load(cv.x(), xi, dtype, acc), load(cv.w(), wi, dtype, acc), acc);
                inside = and(within(ih, g.h()), within(iw, g.w()));
                red.add(new Loop("cv_c", c(cg), List.of()));
                red.add(new Loop("cv_a", c(g.kh()), List.of()));
                red.add(new Loop("cv_b", c(g.kw()), List.of()));
                out = cv.y();
            }
            case GRAD_INPUT -> {
                // f = ((n*C + ch)*H + h)*W + w; the taps (o, a, b) that read it
                total = mul(n, c((long) g.c() * g.h() * g.w()));
                body.add(new Let("cv_w", mod(v(f), c(g.w()))));
                body.add(new Let("cv_h", mod(div(v(f), c(g.w())), c(g.h()))));
                body.add(new Let("cv_ch", mod(div(v(f), c((long) g.w() * g.h())), c(g.c()))));
                body.add(new Let("cv_n", div(v(f), c((long) g.w() * g.h() * g.c()))));
                Expr th = sub(add(v("cv_h"), c(g.ph())), mul(v("cv_a"), c(g.dh())));
                Expr tw = sub(add(v("cv_w"), c(g.pw())), mul(v("cv_b"), c(g.dw())));
                Expr p = div(th, c(g.sh())), q = div(tw, c(g.sw()));
                Expr o = add(mul(div(v("cv_ch"), c(cg)), c(og)), v("cv_o"));
                Expr yi = add(mul(add(mul(add(mul(v("cv_n"), c(g.o())), o), c(g.oh())), p), c(g.ow())), q);
                Expr wi = add(mul(add(mul(add(mul(o, c(cg)), mod(v("cv_ch"), c(cg))), c(g.kh())), v("cv_a")), c(g.kw())), v("cv_b"));
                product = new Bin(BinOp.MUL, load(cv.y(), yi, dtype, acc), load(cv.w(), wi, dtype, acc), acc);
                inside = and(and(and(ge(th, c(0)), ge(tw, c(0))), and(eq(mod(th, c(g.sh())), c(0)), eq(mod(tw, c(g.sw())), c(0)))),
                        and(lt(p, c(g.oh())), lt(q, c(g.ow()))));
                red.add(new Loop("cv_o", c(og), List.of()));
                red.add(new Loop("cv_a", c(g.kh()), List.of()));
                red.add(new Loop("cv_b", c(g.kw()), List.of()));
                out = cv.x();
            }
            case GRAD_WEIGHT -> {
                // f = ((o*C' + c')*KH + a)*KW + b; the sum over (n, p, q)
                total = c((long) g.o() * cg * g.kh() * g.kw());
                body.add(new Let("cv_b", mod(v(f), c(g.kw()))));
                body.add(new Let("cv_a", mod(div(v(f), c(g.kw())), c(g.kh()))));
                body.add(new Let("cv_c", mod(div(v(f), c((long) g.kw() * g.kh())), c(cg))));
                body.add(new Let("cv_o", div(v(f), c((long) g.kw() * g.kh() * cg))));
                Expr ih = add(sub(mul(v("cv_p"), c(g.sh())), c(g.ph())), mul(v("cv_a"), c(g.dh())));
                Expr iw = add(sub(mul(v("cv_q"), c(g.sw())), c(g.pw())), mul(v("cv_b"), c(g.dw())));
                Expr xc = add(mul(div(v("cv_o"), c(og)), c(cg)), v("cv_c"));
                Expr xi = add(mul(add(mul(add(mul(v("cv_n"), c(g.c())), xc), c(g.h())), ih), c(g.w())), iw);
                Expr yi = add(mul(add(mul(add(mul(v("cv_n"), c(g.o())), v("cv_o")), c(g.oh())), v("cv_p")), c(g.ow())), v("cv_q"));
                product = new Bin(BinOp.MUL, load(cv.x(), xi, dtype, acc), load(cv.y(), yi, dtype, acc), acc);
                inside = and(within(ih, g.h()), within(iw, g.w()));
                red.add(new Loop("cv_n", n, List.of()));
                red.add(new Loop("cv_p", c(g.oh()), List.of()));
                red.add(new Loop("cv_q", c(g.ow()), List.of()));
                out = cv.w();
            }
            default -> throw new IllegalStateException();
        }
        body.add(new Let(s, new FloatConst(0, acc)));
        Stmt inner = new Set(s, new Bin(BinOp.ADD, sum, new Sel(inside, product, new FloatConst(0, acc), acc), acc));
        Loop nest = null;
        for (int i = red.size() - 1; i >= 0; i--) {
            Loop l = red.get(i);
            nest = new Loop(l.var(), l.extent(), List.of(nest == null ? inner : nest));
        }
        body.add(nest);
        body.add(new Store(out, v(f), dtype == acc ? sum : new Convert(sum, dtype)));
        return new Loop(f, total, body);
    }
}
