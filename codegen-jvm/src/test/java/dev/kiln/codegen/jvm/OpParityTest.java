package dev.kiln.codegen.jvm;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.DenseData;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

import static dev.kiln.codegen.jvm.Parity.bindings;
import static dev.kiln.codegen.jvm.Parity.check;
import static dev.kiln.ir.TensorType.f32;

/// Every op of the IR, on every dtype the interpreter gives it, through the JVM backend.
class OpParityTest {
    static final DType[] FLOATS = {DType.F32, DType.F64, DType.F16, DType.BF16};
    static final DType[] NUMERIC = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64};

    static Graph unary(DType d, Function<Builder, Function<Value, Value>> f) {
        Builder b = new Builder();
        Value x = b.param("x", TensorType.of(d, "B", 5));
        return b.build("unary", f.apply(b).apply(x));
    }

    static Graph binary(DType d, Function<Builder, BiFunction<Value, Value, Value>> f) {
        Builder b = new Builder();
        Value x = b.param("x", TensorType.of(d, "B", 7)), y = b.param("y", TensorType.of(d, "B", 7));
        return b.build("binary", f.apply(b).apply(x, y));
    }

    @Test void unaryFloat() {
        for (DType d : FLOATS)
            for (Function<Builder, Function<Value, Value>> f : List.<Function<Builder, Function<Value, Value>>>of(
                    b -> b::neg, b -> b::abs, b -> b::sign, b -> b::relu, b -> b::exp, b -> b::log, b -> b::sqrt, b -> b::tanh))
                check(unary(d, f), bindings("B", 3), bindings("B", 1));
    }

    @Test void unaryIntegerAndBool() {
        for (DType d : new DType[]{DType.I32, DType.I64})
            for (Function<Builder, Function<Value, Value>> f : List.<Function<Builder, Function<Value, Value>>>of(
                    b -> b::neg, b -> b::abs, b -> b::sign, b -> b::relu))
                check(unary(d, f), bindings("B", 4));
        check(unary(DType.BOOL, b -> b::not), bindings("B", 4));
    }

    @Test void binaryArithmetic() {
        for (DType d : NUMERIC)
            for (Function<Builder, BiFunction<Value, Value, Value>> f : List.<Function<Builder, BiFunction<Value, Value, Value>>>of(
                    b -> b::add, b -> b::sub, b -> b::mul, b -> b::div, b -> b::max, b -> b::min))
                check(binary(d, f), bindings("B", 3));
    }

    @Test void pow() {
        for (DType d : NUMERIC) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, 6)), y = b.param("y", TensorType.of(d, 6));
            // small exponents so integer powers stay in range
            Value e = d.isInteger() ? b.div(y, b.constant(5, TensorType.of(d, 6))) : y;
            check(b.build("pow", b.pow(x, e)));
        }
    }

    @Test void comparisonsAndLogic() {
        for (DType d : NUMERIC)
            for (Function<Builder, BiFunction<Value, Value, Value>> f : List.<Function<Builder, BiFunction<Value, Value, Value>>>of(
                    b -> b::eq, b -> b::ne, b -> b::lt, b -> b::le, b -> b::gt, b -> b::ge))
                check(binary(d, f), bindings("B", 5));
        for (Function<Builder, BiFunction<Value, Value, Value>> f : List.<Function<Builder, BiFunction<Value, Value, Value>>>of(
                b -> b::and, b -> b::or, b -> b::eq, b -> b::ne))
            check(binary(DType.BOOL, f), bindings("B", 5));
    }

    @Test void comparisonsWithNaN() {
        Builder b = new Builder();
        Value x = b.param("x", f32(6));
        Value n = b.sqrt(x); // NaN for the negative half
        Value z = b.constant(0, f32(6));
        check(b.build("nan", b.lt(n, z), b.le(n, z), b.gt(n, z), b.ge(n, z), b.eq(n, n), b.ne(n, n), b.relu(n), b.max(n, z)));
    }

    @Test void selectAndEveryCast() {
        DType[] all = DType.values();
        for (DType from : all)
            for (DType to : all) {
                Builder b = new Builder();
                Value x = b.param("x", TensorType.of(from, "B", 6));
                check(b.build("cast", b.cast(x, to)), bindings("B", 2));
            }
        for (DType d : all) {
            Builder b = new Builder();
            Value c = b.param("c", TensorType.bool("B", 4)), x = b.param("x", TensorType.of(d, "B", 4)), y = b.param("y", TensorType.of(d, "B", 4));
            check(b.build("select", b.select(c, x, y)), bindings("B", 3));
        }
    }

    @Test void leaves() {
        for (DType d : DType.values()) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, 2, 3));
            Value k = b.constant(1, TensorType.of(d, 2, 3));
            Value io = b.iota(1, TensorType.of(d == DType.BOOL ? DType.I32 : d, 2, 3));
            check(b.build("leaves", k, io, x));
        }
        Builder b = new Builder();
        Value seed = b.param("seed", TensorType.i64());
        Value dense = b.dense(new DenseData(NdArray.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3)));
        Value x = b.param("x", f32(2, 3));
        check(b.build("rand", b.randomUniform(seed, f32(4, 5)), b.randomUniform(seed, TensorType.f64(3)), b.add(x, dense), dense));
    }

    @Test void layout() {
        for (DType d : new DType[]{DType.F32, DType.I64, DType.BOOL, DType.F16}) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 3, 4));
            Value v = b.param("v", TensorType.of(d, 4));
            Value one = b.param("one", TensorType.of(d, 1, 4));
            check(b.build("layout",
                    b.broadcast(v, Axes.of(2), TensorType.of(d, "B", 3, 4)),
                    b.broadcast(one, Axes.of(1, 2), TensorType.of(d, "B", 5, 4)),
                    b.reshape(x, TensorType.of(d, "B", 12)),
                    b.reshape(x, TensorType.of(d, "B", 2, 6)),
                    b.transpose(x, Axes.of(2, 0, 1)),
                    b.slice(x, 2, 1, 4, 2),
                    b.pad(x, 1, 2, 1, 1.0),
                    b.concat(List.of(x, b.slice(x, 1, 0, 2, 1), x), 1),
                    b.transpose(b.reshape(x, TensorType.of(d, "B", 2, 6)), Axes.of(2, 1, 0))),
                    bindings("B", 2), bindings("B", 1));
        }
    }

    @Test void reductions() {
        for (DType d : NUMERIC) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 3, 5));
            check(b.build("reduce",
                    b.reduceSum(x, Axes.of(0)), b.reduceSum(x, Axes.of(2)), b.reduceSum(x, Axes.of(0, 1, 2)),
                    b.reduceSum(x, Axes.of(0, 2)), b.reduceMax(x, Axes.of(1)), b.reduceMax(x, Axes.of(0, 2)),
                    b.argmax(x, 0), b.argmax(x, 2)),
                    bindings("B", 4), bindings("B", 1));
            // B = 0: empty sums and maxes (argmax over an empty axis is left out: the
            // interpreter does not define it)
            Builder e = new Builder();
            Value y = e.param("x", TensorType.of(d, "B", 3, 5));
            check(e.build("reduce_empty", e.reduceSum(y, Axes.of(0)), e.reduceMax(y, Axes.of(0, 2)), e.argmax(y, 2)),
                    bindings("B", 0));
        }
    }

    @Test void argmaxWithNaNAndTies() {
        Builder b = new Builder();
        Value x = b.param("x", f32(4, 6));
        Value r = b.relu(x); // many ties at 0
        check(b.build("argmax", b.argmax(b.sqrt(x), 1), b.argmax(r, 1), b.argmax(b.neg(r), 0)));
    }

    /// reduce_max's gradient: ties (relu's zeros) go to the first, a NaN (sqrt of a negative)
    /// takes its group, over one axis, two axes with a symbolic one, and the trailing axes.
    @Test void reduceMaxGradWithNaNAndTies() {
        for (DType d : new DType[]{DType.F32, DType.F64, DType.BF16}) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 4, 6));
            Value g1 = b.param("g1", TensorType.of(d, "B", 6)), g2 = b.param("g2", TensorType.of(d, 4)), g3 = b.param("g3", TensorType.of(d, "B"));
            Value r = b.relu(x), s = b.sqrt(x);
            check(b.build("max_grad",
                            b.reduceMaxGrad(r, b.reduceMax(r, Axes.of(1)), g1, Axes.of(1)),
                            b.reduceMaxGrad(s, b.reduceMax(s, Axes.of(0, 2)), g2, Axes.of(0, 2)),
                            b.reduceMaxGrad(x, b.reduceMax(x, Axes.of(1, 2)), g3, Axes.of(1, 2))),
                    bindings("B", 3), bindings("B", 1), bindings("B", 0));
        }
    }

    @Test void matmul() {
        for (DType d : new DType[]{DType.F32, DType.F64, DType.I32, DType.I64, DType.F16}) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 33)), w = b.param("w", TensorType.of(d, 33, 17));
            Value xb = b.param("xb", TensorType.of(d, 3, 5, 7)), wb = b.param("wb", TensorType.of(d, 3, 7, 9));
            Value wt = b.param("wt", TensorType.of(d, 17, 33));
            check(b.build("matmul", b.matmul(x, w), b.matmul(xb, wb), b.matmul(x, b.transpose(wt, Axes.of(1, 0))),
                            b.matmul(b.transpose(x, Axes.of(1, 0)), b.matmul(x, w))),
                    bindings("B", 5), bindings("B", 1), bindings("B", 70));
        }
    }

    @Test void largeMatmulUsesTheBlockedKernelEdges() {
        Builder b = new Builder();
        Value x = b.param("x", f32(301, 260)), w = b.param("w", f32(260, 129));
        Value xt = b.param("xt", f32(260, 301));
        check(b.build("big", b.matmul(x, w), b.matmul(b.transpose(xt, Axes.of(1, 0)), w)));
    }

    @Test void convolutions() {
        record Case(int n, int c, int h, int w, int o, int k, int stride, int pad, int dil, int groups) {}
        for (Case q : List.of(new Case(2, 3, 7, 6, 4, 3, 1, 1, 1, 1), new Case(3, 4, 9, 9, 6, 3, 2, 0, 1, 2),
                new Case(1, 2, 8, 7, 3, 2, 1, 2, 2, 1), new Case(2, 4, 5, 5, 4, 1, 1, 0, 1, 1), new Case(2, 4, 6, 6, 8, 3, 2, 1, 1, 4),
                new Case(2, 3, 2, 2, 4, 5, 1, 2, 1, 1), new Case(1, 2, 3, 5, 2, 3, 1, 1, 1, 2),
                // more patch rows (c*k*k) than output channels: the weight gradient reads the
                // unfolded image in place, in whole and ragged tiles, split over the images
                new Case(5, 9, 6, 5, 40, 3, 1, 1, 1, 1), new Case(4, 4, 6, 6, 8, 3, 1, 1, 1, 2),
                // one input channel, more output channels than patch rows (MNIST's conv1): the
                // weight gradient by 4 x 4 blocks of dot products, ragged in both directions,
                // over a depth of whole vectors and one with a tail
                new Case(3, 1, 8, 8, 32, 3, 1, 1, 1, 1), new Case(2, 1, 7, 9, 13, 3, 1, 1, 1, 1)))
            for (DType d : new DType[]{DType.F32, DType.F64, DType.BF16}) {
                Builder b = new Builder();
                Ints s = Ints.of(q.stride(), q.stride()), p = Ints.of(q.pad(), q.pad()), dl = Ints.of(q.dil(), q.dil());
                Value x = b.param("x", TensorType.of(d, "N", q.c(), q.h(), q.w()));
                Value w = b.param("w", TensorType.of(d, q.o(), q.c() / q.groups(), q.k(), q.k()));
                Value y = b.conv2d(x, w, s, p, dl, q.groups());
                Value g = b.param("g", y.type());
                Value gi = b.conv2dGradInput(g, w, s, p, dl, q.groups(), x.type());
                Value gw = b.conv2dGradWeight(x, g, s, p, dl, q.groups(), w.type());
                check(b.build("conv", y, gi, gw), bindings("N", q.n()), bindings("N", 1));
            }
    }

    @Test void resultsThatAreInputsOrRepeated() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 3));
        Value r = b.reshape(x, f32("B", 3, 1));
        Value y = b.relu(x);
        check(b.build("passthrough", x, y, y, r, b.reshape(y, f32(Shape.of("B", 3).dims().toArray()))), bindings("B", 2));
    }
}
