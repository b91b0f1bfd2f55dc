package dev.kiln.ir;

import dev.kiln.ir.Op.*;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.List;

/// The type rule of every op, in one exhaustive switch: an op without a rule does not compile.
/// Each rule checks operand dtypes and shapes and throws an IrError that names the op, the
/// operand number and the shapes involved.
public final class Types {
    private Types() {}

    public static TensorType infer(Op op) {
        return switch (op) {
            case Param p -> p.type();
            case Const c -> constant(c);
            case Dense d -> d.data().type();
            case Iota i -> {
                axis(op, i.axis(), i.type().rank(), "axis");
                if (i.type().dtype() == DType.BOOL) throw IrError.of(op, "needs a numeric dtype, got bool");
                yield i.type();
            }
            case RandomUniform r -> {
                expect(op, 0, r.seed().type(), new TensorType(DType.I64, Shape.SCALAR));
                if (!r.type().dtype().isFloat()) throw IrError.of(op, "needs a float dtype, got " + r.type().dtype());
                yield r.type();
            }
            case Not n -> {
                dtypeIs(op, 0, n.x(), DType.BOOL);
                yield n.x().type();
            }
            case Exp _, Log _, Sqrt _, Tanh _ -> {
                floating(op, 0, ((Unary) op).x());
                yield ((Unary) op).x().type();
            }
            case Unary u -> { // neg, abs, sign, relu
                numeric(op, 0, u.x());
                yield u.x().type();
            }
            case And _, Or _ -> {
                Binary b = (Binary) op;
                dtypeIs(op, 0, b.lhs(), DType.BOOL);
                sameType(op, b.lhs(), b.rhs());
                yield b.lhs().type();
            }
            case Eq _, Ne _ -> {
                Binary b = (Binary) op;
                sameType(op, b.lhs(), b.rhs());
                yield b.lhs().type().withDType(DType.BOOL);
            }
            case Compare b -> {
                numeric(op, 0, b.lhs());
                sameType(op, b.lhs(), b.rhs());
                yield b.lhs().type().withDType(DType.BOOL);
            }
            case Binary b -> { // add, sub, mul, div, pow, max, min
                numeric(op, 0, b.lhs());
                sameType(op, b.lhs(), b.rhs());
                yield b.lhs().type();
            }
            case Select s -> {
                dtypeIs(op, 0, s.cond(), DType.BOOL);
                sameType(op, s.onTrue(), s.onFalse(), 1, 2);
                sameShape(op, s.cond(), s.onTrue(), 0, 1);
                yield s.onTrue().type();
            }
            case Cast c -> c.x().type().withDType(c.dtype());
            case Broadcast b -> broadcast(b);
            case Reshape r -> {
                if (r.x().type().dtype() != r.type().dtype())
                    throw IrError.of(op, "result dtype " + r.type().dtype() + " differs from operand dtype " + r.x().type().dtype());
                if (!r.x().type().shape().numelMonomial().equals(r.type().shape().numelMonomial()))
                    throw IrError.of(op, "cannot reshape " + r.x().type().shape() + " to " + r.type().shape()
                            + ": element counts differ");
                yield r.type();
            }
            case Transpose t -> transpose(t);
            case Slice s -> slice(s);
            case Pad p -> {
                TensorType t = p.x().type();
                axis(op, p.axis(), t.rank(), "axis");
                if (p.low() < 0 || p.high() < 0) throw IrError.of(op, "padding must be non-negative, got low=" + p.low() + " high=" + p.high());
                long d = fixedDim(op, t, p.axis());
                yield t.withShape(t.shape().with(p.axis(), Dim.of(d + p.low() + p.high())));
            }
            case Concat c -> concat(c);
            case ReduceSum r -> reduce(op, r.x(), r.axes());
            case ReduceMax r -> reduce(op, r.x(), r.axes());
            case ReduceMaxGrad r -> {
                TensorType reduced = reduce(op, r.x(), r.axes());
                if (!r.x().type().dtype().isFloat()) throw IrError.of(op, "operand #0 must be a float tensor, got " + r.x().type());
                if (!r.max().type().equals(reduced))
                    throw IrError.of(op, "operand #1 is " + r.max().type() + ", expected " + reduced + " (operand #0 reduced over " + r.axes() + ")");
                if (!r.g().type().equals(reduced))
                    throw IrError.of(op, "operand #2 is " + r.g().type() + ", expected " + reduced + " (operand #0 reduced over " + r.axes() + ")");
                yield r.x().type();
            }
            case Argmax a -> {
                numeric(op, 0, a.x());
                axis(op, a.axis(), a.x().type().rank(), "axis");
                if (a.x().type().dim(a.axis()).equals(Dim.of(0))) throw IrError.of(op, "axis " + a.axis() + " is empty");
                yield new TensorType(DType.I64, a.x().type().shape().without(Axes.of(a.axis())));
            }
            case Matmul m -> matmul(m);
            case Conv2d c -> conv2d(op, c.x().type(), c.w().type(), c.stride(), c.padding(), c.dilation(), c.groups(), 0, 1);
            case Conv2dGradInput c -> {
                TensorType out = conv2d(op, c.type(), c.w().type(), c.stride(), c.padding(), c.dilation(), c.groups(), -1, 1);
                expect(op, 0, c.g().type(), out);
                yield c.type();
            }
            case Conv2dGradWeight c -> {
                TensorType out = conv2d(op, c.x().type(), c.type(), c.stride(), c.padding(), c.dilation(), c.groups(), 0, -1);
                expect(op, 1, c.g().type(), out);
                yield c.type();
            }
            case Fused f -> fused(f);
        };
    }

    // ---- rules ---------------------------------------------------------------------------

    private static TensorType constant(Const c) {
        double v = c.value();
        DType d = c.type().dtype();
        if (d == DType.BOOL && v != 0 && v != 1) throw IrError.of(c, "bool value must be 0 or 1, got " + v);
        if (d.isInteger() && (v != Math.rint(v) || Double.isInfinite(v)))
            throw IrError.of(c, "value " + v + " is not an integer, as " + d + " needs");
        return c.type();
    }

    private static TensorType broadcast(Broadcast b) {
        TensorType x = b.x().type(), t = b.type();
        if (x.dtype() != t.dtype()) throw IrError.of(b, "result dtype " + t.dtype() + " differs from operand dtype " + x.dtype());
        if (b.dims().size() != x.rank())
            throw IrError.of(b, "dims " + b.dims() + " must name one result axis for each of the operand's " + x.rank() + " axes");
        int prev = -1;
        for (int i = 0; i < x.rank(); i++) {
            int d = b.dims().get(i);
            if (d <= prev || d >= t.rank())
                throw IrError.of(b, "dims " + b.dims() + " must be increasing and below the result rank " + t.rank());
            prev = d;
            Dim from = x.dim(i), to = t.dim(d);
            if (!from.equals(to) && !from.equals(Dim.of(1)))
                throw IrError.of(b, "operand axis " + i + " of size " + from + " cannot broadcast to result axis " + d
                        + " of size " + to + " (operand " + x.shape() + ", result " + t.shape() + ")");
        }
        return t;
    }

    private static TensorType transpose(Transpose t) {
        TensorType x = t.x().type();
        int n = x.rank();
        boolean[] seen = new boolean[n];
        if (t.perm().size() != n) throw IrError.of(t, "perm " + t.perm() + " is not a permutation of " + n + " axes");
        List<Dim> dims = new ArrayList<>();
        for (int p : t.perm().values()) {
            if (p < 0 || p >= n || seen[p]) throw IrError.of(t, "perm " + t.perm() + " is not a permutation of " + n + " axes");
            seen[p] = true;
            dims.add(x.dim(p));
        }
        return x.withShape(new Shape(dims));
    }

    private static TensorType slice(Slice s) {
        TensorType x = s.x().type();
        axis(s, s.axis(), x.rank(), "axis");
        long d = fixedDim(s, x, s.axis());
        if (s.step() < 1) throw IrError.of(s, "step must be at least 1, got " + s.step());
        if (s.start() < 0 || s.start() > s.end() || s.end() > d)
            throw IrError.of(s, "range " + s.start() + ":" + s.end() + " is outside axis " + s.axis() + " of size " + d);
        long n = ((long) s.end() - s.start() + s.step() - 1) / s.step();
        return x.withShape(x.shape().with(s.axis(), Dim.of(n)));
    }

    private static TensorType concat(Concat c) {
        if (c.xs().isEmpty()) throw IrError.of(c, "needs at least one operand");
        TensorType first = c.xs().getFirst().type();
        axis(c, c.axis(), first.rank(), "axis");
        long total = 0;
        for (int i = 0; i < c.xs().size(); i++) {
            TensorType t = c.xs().get(i).type();
            if (t.dtype() != first.dtype() || t.rank() != first.rank())
                throw IrError.of(c, "operand #" + i + " has type " + t + ", incompatible with operand #0 " + first);
            for (int a = 0; a < t.rank(); a++)
                if (a != c.axis() && !t.dim(a).equals(first.dim(a)))
                    throw IrError.of(c, "operand #" + i + " has shape " + t.shape() + ", incompatible with operand #0 "
                            + first.shape() + " outside axis " + c.axis());
            total += fixedDim(c, t, c.axis());
        }
        return first.withShape(first.shape().with(c.axis(), Dim.of(total)));
    }

    private static TensorType reduce(Op op, Value x, Axes axes) {
        numeric(op, 0, x);
        int prev = -1;
        for (int a : axes.values()) {
            if (a <= prev || a >= x.type().rank())
                throw IrError.of(op, "axes " + axes + " must be increasing and below the operand rank " + x.type().rank());
            prev = a;
        }
        return x.type().withShape(x.type().shape().without(axes));
    }

    private static TensorType matmul(Matmul m) {
        TensorType a = m.lhs().type(), b = m.rhs().type();
        numeric(m, 0, m.lhs());
        if (a.dtype() != b.dtype()) throw IrError.of(m, "operand #1 has dtype " + b.dtype() + ", operand #0 has " + a.dtype());
        if (a.rank() < 2 || a.rank() != b.rank())
            throw IrError.of(m, "operands must have equal rank of at least 2, got " + a.shape() + " and " + b.shape());
        int r = a.rank();
        boolean ok = a.dim(r - 1).equals(b.dim(r - 2));
        for (int i = 0; i < r - 2; i++) ok &= a.dim(i).equals(b.dim(i));
        if (!ok) throw IrError.of(m, "operand #1 has shape " + b.shape() + ", incompatible with operand #0 " + a.shape());
        List<Dim> dims = new ArrayList<>(a.shape().dims().subList(0, r - 1));
        dims.add(b.dim(r - 1));
        return a.withShape(new Shape(dims));
    }

    /// Output type of a convolution of `x` with `w`; `xi`/`wi` are the operand numbers to name in
    /// errors (-1 when that type is the op's declared result type).
    static TensorType conv2d(Op op, TensorType x, TensorType w, Ints stride, Ints padding, Ints dilation, int groups,
                             int xi, int wi) {
        String xn = xi < 0 ? "result" : "operand #" + xi, wn = wi < 0 ? "result" : "operand #" + wi;
        if (!x.dtype().isFloat()) throw IrError.of(op, xn + " has dtype " + x.dtype() + ", a float dtype is needed");
        if (x.dtype() != w.dtype()) throw IrError.of(op, wn + " has dtype " + w.dtype() + ", " + xn + " has " + x.dtype());
        if (x.rank() != 4) throw IrError.of(op, xn + " must be [N,C,H,W], got " + x.shape());
        if (w.rank() != 4 || !w.shape().isStatic()) throw IrError.of(op, wn + " must be a static [O,C/groups,KH,KW], got " + w.shape());
        for (Ints p : List.of(stride, padding, dilation))
            if (p.size() != 2) throw IrError.of(op, "stride, padding and dilation need two values each, got " + p);
        if (stride.get(0) < 1 || stride.get(1) < 1 || dilation.get(0) < 1 || dilation.get(1) < 1
                || padding.get(0) < 0 || padding.get(1) < 0)
            throw IrError.of(op, "bad stride " + stride + ", padding " + padding + " or dilation " + dilation);
        if (groups < 1) throw IrError.of(op, "groups must be at least 1, got " + groups);
        long c = fixedDim(op, x, 1), o = w.dim(0).size();
        if (c % groups != 0 || o % groups != 0 || w.dim(1).size() * groups != c)
            throw IrError.of(op, wn + " has shape " + w.shape() + ", incompatible with " + xn + " " + x.shape()
                    + " and groups=" + groups);
        List<Dim> out = new ArrayList<>(List.of(x.dim(0), Dim.of(o)));
        for (int i = 0; i < 2; i++) {
            long in = fixedDim(op, x, 2 + i), k = w.dim(2 + i).size();
            long span = in + 2L * padding.get(i) - (long) dilation.get(i) * (k - 1) - 1;
            if (span < 0) throw IrError.of(op, "kernel " + w.shape() + " does not fit " + xn + " " + x.shape()
                    + " with padding " + padding + " and dilation " + dilation);
            out.add(Dim.of(span / stride.get(i) + 1));
        }
        return x.withShape(new Shape(out));
    }

    private static TensorType fused(Fused f) {
        Graph body = f.body();
        if (body.params().size() != f.inputs().size())
            throw IrError.of(f, "has " + f.inputs().size() + " operands but its body takes " + body.params().size());
        for (int i = 0; i < f.inputs().size(); i++)
            expect(f, i, f.inputs().get(i).type(), body.params().get(i).type());
        if (body.results().size() != 1) throw IrError.of(f, "body must yield exactly one value, yields " + body.results().size());
        return body.results().getFirst().type();
    }

    // ---- checks --------------------------------------------------------------------------

    private static void axis(Op op, int axis, int rank, String what) {
        if (axis < 0 || axis >= rank) throw IrError.of(op, what + " " + axis + " is out of range for rank " + rank);
    }

    private static long fixedDim(Op op, TensorType t, int axis) {
        Dim d = t.dim(axis);
        if (!d.isFixed()) throw IrError.of(op, "axis " + axis + " of " + t + " must have a fixed size, not '" + d + "'");
        return d.size();
    }

    private static void expect(Op op, int index, TensorType given, TensorType expected) {
        if (!given.equals(expected)) throw IrError.of(op, "operand #" + index + " has type " + given + ", expected " + expected);
    }

    private static void numeric(Op op, int index, Value v) {
        if (v.type().dtype() == DType.BOOL) throw IrError.of(op, "operand #" + index + " is bool, a numeric dtype is needed");
    }

    private static void floating(Op op, int index, Value v) {
        if (!v.type().dtype().isFloat())
            throw IrError.of(op, "operand #" + index + " has dtype " + v.type().dtype() + ", a float dtype is needed");
    }

    private static void dtypeIs(Op op, int index, Value v, DType d) {
        if (v.type().dtype() != d) throw IrError.of(op, "operand #" + index + " has dtype " + v.type().dtype() + ", expected " + d);
    }

    private static void sameType(Op op, Value a, Value b) { sameType(op, a, b, 0, 1); }

    private static void sameType(Op op, Value a, Value b, int ia, int ib) {
        if (a.type().dtype() != b.type().dtype())
            throw IrError.of(op, "operand #" + ib + " has dtype " + b.type().dtype() + ", operand #" + ia + " has " + a.type().dtype());
        sameShape(op, a, b, ia, ib);
    }

    private static void sameShape(Op op, Value a, Value b, int ia, int ib) {
        if (!a.type().shape().equals(b.type().shape()))
            throw IrError.of(op, "operand #" + ib + " has shape " + b.type().shape() + ", incompatible with operand #"
                    + ia + " " + a.type().shape() + " (broadcast explicitly)");
    }
}
