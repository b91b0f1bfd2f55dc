package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Value;
import dev.kiln.ir.Verifier;
import dev.kiln.ir.text.Parser;
import dev.kiln.ir.text.Printer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.assertEquals;

/// The printed joint, forward and backward graphs of the 784-128-10 MLP with MSE loss, exactly.
class GoldenTest {
    static final List<String> WEIGHTS = List.of("fc1.w", "fc1.b", "fc2.w", "fc2.b");

    /// The model as the frontend traces it, with the source locations it would record.
    static Graph mlpMse() {
        Builder b = new Builder();
        Value x = b.param("x", f32(32, 784)), y = b.param("y", f32(32, 10));
        Value w1 = b.param("fc1.w", f32(784, 128)), b1 = b.param("fc1.b", f32(128));
        Value w2 = b.param("fc2.w", f32(128, 10)), b2 = b.param("fc2.b", f32(10));
        Value h, o;
        try (var _ = b.at(Loc.of("Mlp.java", 18, "fc1"))) { h = Models.linear(b, x, w1, b1); }
        try (var _ = b.at(Loc.of("Mlp.java", 18))) { h = b.relu(h); }
        try (var _ = b.at(Loc.of("Mlp.java", 19, "fc2"))) { o = Models.linear(b, h, w2, b2); }
        try (var _ = b.at(Loc.of("Train.java", 12))) {
            Value d = b.sub(o, y);
            Value s = b.reduceSum(b.mul(d, d), Axes.of(0, 1));
            return b.build("mlp_train_step", b.mul(s, b.constant(0.003125, s.type())));
        }
    }

    /// Prints `g`, checks the verifier accepts it and that the text parses back to itself.
    static String printChecked(Graph g, boolean locations) {
        Verifier.verify(g);
        String text = Printer.print(g);
        assertEquals(text, Printer.print(Parser.parse(text, "golden.kir")), "round trip");
        return Printer.print(g, locations);
    }

    @Test void joint() {
        assertEquals("""
                graph @mlp_train_step(
                    %x: f32[32,784],
                    %y: f32[32,10],
                    %fc1.w: f32[784,128],
                    %fc1.b: f32[128],
                    %fc2.w: f32[128,10],
                    %fc2.b: f32[10]
                ) -> (f32[], f32[784,128], f32[128], f32[128,10], f32[10]) {
                  %0 = matmul %x, %fc1.w : f32[32,128]                  loc(Mlp.java:18 in fc1)
                  %1 = broadcast %fc1.b {dims=[1]} : f32[32,128]        loc(Mlp.java:18 in fc1)
                  %2 = add %0, %1 : f32[32,128]                         loc(Mlp.java:18 in fc1)
                  %3 = relu %2 : f32[32,128]                            loc(Mlp.java:18)
                  %4 = matmul %3, %fc2.w : f32[32,10]                   loc(Mlp.java:19 in fc2)
                  %5 = broadcast %fc2.b {dims=[1]} : f32[32,10]         loc(Mlp.java:19 in fc2)
                  %6 = add %4, %5 : f32[32,10]                          loc(Mlp.java:19 in fc2)
                  %7 = sub %6, %y : f32[32,10]                          loc(Train.java:12)
                  %8 = mul %7, %7 : f32[32,10]                          loc(Train.java:12)
                  %9 = reduce_sum %8 {axes=[0,1]} : f32[]               loc(Train.java:12)
                  %10 = const {value=0.003125} : f32[]                  loc(Train.java:12)
                  %11 = mul %9, %10 : f32[]                             loc(Train.java:12)
                  %12 = const {value=1.0} : f32[]                       loc(grad(Train.java:12))
                  %13 = mul %12, %10 : f32[]                            loc(grad(Train.java:12))
                  %14 = broadcast %13 {dims=[]} : f32[32,10]            loc(grad(Train.java:12))
                  %15 = mul %14, %7 : f32[32,10]                        loc(grad(Train.java:12))
                  %16 = add %15, %15 : f32[32,10]                       loc(grad(Train.java:12))
                  %17 = reduce_sum %16 {axes=[0]} : f32[10]             loc(grad(Mlp.java:19 in fc2))
                  %18 = transpose %fc2.w {perm=[1,0]} : f32[10,128]     loc(grad(Mlp.java:19 in fc2))
                  %19 = matmul %16, %18 : f32[32,128]                   loc(grad(Mlp.java:19 in fc2))
                  %20 = transpose %3 {perm=[1,0]} : f32[128,32]         loc(grad(Mlp.java:19 in fc2))
                  %21 = matmul %20, %16 : f32[128,10]                   loc(grad(Mlp.java:19 in fc2))
                  %22 = const {value=0.0} : f32[32,128]                 loc(grad(Mlp.java:18))
                  %23 = gt %3, %22 : bool[32,128]                       loc(grad(Mlp.java:18))
                  %24 = select %23, %19, %22 : f32[32,128]              loc(grad(Mlp.java:18))
                  %25 = reduce_sum %24 {axes=[0]} : f32[128]            loc(grad(Mlp.java:18 in fc1))
                  %26 = transpose %x {perm=[1,0]} : f32[784,32]         loc(grad(Mlp.java:18 in fc1))
                  %27 = matmul %26, %24 : f32[784,128]                  loc(grad(Mlp.java:18 in fc1))
                  return %11, %27, %25, %21, %17
                }
                """, printChecked(Differentiate.joint(mlpMse(), WEIGHTS), true));
    }

    @Test void forwardAndBackward() {
        Split split = Split.of(Differentiate.joint(mlpMse(), WEIGHTS), 6, 1);
        assertEquals("""
                graph @mlp_train_step_forward(
                    %x: f32[32,784],
                    %y: f32[32,10],
                    %fc1.w: f32[784,128],
                    %fc1.b: f32[128],
                    %fc2.w: f32[128,10],
                    %fc2.b: f32[10]
                ) -> (f32[], f32[32,128], f32[32,10]) {
                  %0 = matmul %x, %fc1.w : f32[32,128]
                  %1 = broadcast %fc1.b {dims=[1]} : f32[32,128]
                  %2 = add %0, %1 : f32[32,128]
                  %3 = relu %2 : f32[32,128]
                  %4 = matmul %3, %fc2.w : f32[32,10]
                  %5 = broadcast %fc2.b {dims=[1]} : f32[32,10]
                  %6 = add %4, %5 : f32[32,10]
                  %7 = sub %6, %y : f32[32,10]
                  %8 = mul %7, %7 : f32[32,10]
                  %9 = reduce_sum %8 {axes=[0,1]} : f32[]
                  %10 = const {value=0.003125} : f32[]
                  %11 = mul %9, %10 : f32[]
                  return %11, %3, %7
                }
                """, printChecked(split.forward(), false));
        // The relu output is saved: the fc2 weight gradient and the relu mask both read it.
        assertEquals("""
                graph @mlp_train_step_backward(
                    %x: f32[32,784],
                    %fc2.w: f32[128,10],
                    %saved.0: f32[32,128],
                    %saved.1: f32[32,10]
                ) -> (f32[784,128], f32[128], f32[128,10], f32[10]) {
                  %0 = const {value=0.003125} : f32[]                   loc(Train.java:12)
                  %1 = const {value=1.0} : f32[]                        loc(grad(Train.java:12))
                  %2 = mul %1, %0 : f32[]                               loc(grad(Train.java:12))
                  %3 = broadcast %2 {dims=[]} : f32[32,10]              loc(grad(Train.java:12))
                  %4 = mul %3, %saved.1 : f32[32,10]                    loc(grad(Train.java:12))
                  %5 = add %4, %4 : f32[32,10]                          loc(grad(Train.java:12))
                  %6 = reduce_sum %5 {axes=[0]} : f32[10]               loc(grad(Mlp.java:19 in fc2))
                  %7 = transpose %fc2.w {perm=[1,0]} : f32[10,128]      loc(grad(Mlp.java:19 in fc2))
                  %8 = matmul %5, %7 : f32[32,128]                      loc(grad(Mlp.java:19 in fc2))
                  %9 = transpose %saved.0 {perm=[1,0]} : f32[128,32]    loc(grad(Mlp.java:19 in fc2))
                  %10 = matmul %9, %5 : f32[128,10]                     loc(grad(Mlp.java:19 in fc2))
                  %11 = const {value=0.0} : f32[32,128]                 loc(grad(Mlp.java:18))
                  %12 = gt %saved.0, %11 : bool[32,128]                 loc(grad(Mlp.java:18))
                  %13 = select %12, %8, %11 : f32[32,128]               loc(grad(Mlp.java:18))
                  %14 = reduce_sum %13 {axes=[0]} : f32[128]            loc(grad(Mlp.java:18 in fc1))
                  %15 = transpose %x {perm=[1,0]} : f32[784,32]         loc(grad(Mlp.java:18 in fc1))
                  %16 = matmul %15, %13 : f32[784,128]                  loc(grad(Mlp.java:18 in fc1))
                  return %16, %14, %10, %6
                }
                """, printChecked(split.backward(), true));
        assertEquals("""
                split @mlp_train_step: forward 12 ops, backward 17 ops
                saved for the backward (minimum cut over bytes; parameters cost nothing):
                  %x                    f32[32,784]      parameter
                  %fc2.w                f32[128,10]      parameter
                  %saved.0              f32[32,128]      %3 = relu
                  %saved.1              f32[32,10]       %7 = sub
                saved activations: 17664 bytes in 2 values
                recomputed in the backward:
                  %10 = const : f32[]
                """, split.report());
    }

    @Test void secondDerivativeGraph() {
        // d2/dx2 sum(x^3): %0-%7 are grad's 3x^2 (the seed 1 broadcast); %8-%16 its vjp with
        // %grad_out, which the rules of mul and add make 2g*x three times over: 6x * g.
        Builder b = new Builder();
        Value x = b.param("x", f32(4));
        Graph f = b.build("cube", b.reduceSum(b.mul(b.mul(x, x), x), Axes.of(0)));
        assertEquals("""
                graph @cube(%x: f32[4], %grad_out: f32[4]) -> (f32[4], f32[4]) {
                  %0 = mul %x, %x : f32[4]
                  %1 = const {value=1.0} : f32[]
                  %2 = broadcast %1 {dims=[]} : f32[4]
                  %3 = mul %2, %x : f32[4]
                  %4 = mul %2, %0 : f32[4]
                  %5 = mul %3, %x : f32[4]
                  %6 = add %4, %5 : f32[4]
                  %7 = add %6, %5 : f32[4]
                  %8 = add %grad_out, %grad_out : f32[4]
                  %9 = mul %8, %x : f32[4]
                  %10 = mul %8, %3 : f32[4]
                  %11 = mul %grad_out, %2 : f32[4]
                  %12 = mul %9, %2 : f32[4]
                  %13 = add %10, %12 : f32[4]
                  %14 = mul %11, %x : f32[4]
                  %15 = add %13, %14 : f32[4]
                  %16 = add %15, %14 : f32[4]
                  return %7, %16
                }
                """, printChecked(Differentiate.joint(Differentiate.grad(f, List.of("x")), List.of("x")), false));
    }
}
