package dev.kiln.passes.fusion;

import dev.kiln.ir.Axes;
import dev.kiln.ir.IrError;
import dev.kiln.ir.text.Parser;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class KernelShapeTest {
    static KernelShape of(String text) {
        var g = Parser.parse(text, "k.kir");
        return KernelShape.of(g);
    }

    @Test void classifiesTheThreeShapes() {
        assertEquals(KernelShape.Kind.LOOP, of("""
                graph @k(%a: f32[2,3], %b: f32[3]) -> (f32[3,2]) {
                  %0 = broadcast %b {dims=[1]} : f32[2,3]
                  %1 = add %a, %0 : f32[2,3]
                  %2 = transpose %1 {perm=[1,0]} : f32[3,2]
                  return %2
                }
                """).kind());
        KernelShape c = of("""
                graph @k(%a: f32[2,3], %w: f32[3,4], %b: f32[4]) -> (f32[2,4]) {
                  %0 = matmul %a, %w : f32[2,4]
                  %1 = broadcast %b {dims=[1]} : f32[2,4]
                  %2 = add %0, %1 : f32[2,4]
                  return %2
                }
                """);
        assertEquals(KernelShape.Kind.CONTRACTION, c.kind());
        KernelShape r = of("""
                graph @k(%x: f32[4,5]) -> (f32[4,5]) {
                  %0 = reduce_max %x {axes=[1]} : f32[4]
                  %1 = broadcast %0 {dims=[0]} : f32[4,5]
                  %2 = sub %x, %1 : f32[4,5]
                  %3 = exp %2 : f32[4,5]
                  %4 = reduce_sum %3 {axes=[1]} : f32[4]
                  %5 = broadcast %4 {dims=[0]} : f32[4,5]
                  %6 = div %3, %5 : f32[4,5]
                  return %6
                }
                """);
        assertEquals(KernelShape.Kind.ROW_REDUCTION, r.kind());
        assertEquals(2, r.reductions().size());
        assertEquals(Axes.of(1), r.rowAxes());
    }

    @Test void refusesWhatNoKernelShapeAllows() {
        IrError e = assertThrows(IrError.class, () -> of("""
                graph @k(%x: f32[4,5]) -> (f32[1,4]) {
                  %0 = reduce_sum %x {axes=[1]} : f32[4]
                  %1 = reshape %0 : f32[1,4]
                  return %1
                }
                """));
        assertTrue(e.getMessage().contains("'reshape' uses a reduced value in kernel @k"), e.getMessage());
        e = assertThrows(IrError.class, () -> of("""
                graph @k(%x: f32[4,5]) -> (f32[]) {
                  %0 = reduce_sum %x {axes=[1]} : f32[4]
                  %1 = reduce_sum %0 {axes=[0]} : f32[]
                  return %1
                }
                """));
        assertTrue(e.getMessage().contains("reduces other axes"), e.getMessage());
        e = assertThrows(IrError.class, () -> of("""
                graph @k(%a: f32[2,3], %w: f32[3,4]) -> (f32[2,4]) {
                  %0 = relu %a : f32[2,3]
                  %1 = matmul %0, %w : f32[2,4]
                  return %1
                }
                """));
        assertTrue(e.getMessage().contains("'matmul' operand is computed in kernel @k"), e.getMessage());
        e = assertThrows(IrError.class, () -> of("""
                graph @k(%a: f32[2,3], %w: f32[3,4]) -> (f32[4]) {
                  %0 = matmul %a, %w : f32[2,4]
                  %1 = reduce_sum %0 {axes=[0]} : f32[4]
                  return %1
                }
                """));
        assertTrue(e.getMessage().contains("'reduce_sum' shares kernel @k with a contraction"), e.getMessage());
    }
}
