package dev.kiln;

import dev.kiln.ir.IrError;
import dev.kiln.runtime.DType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TensorTest {
    @Test void autogradExampleGivesSeven() {
        Tensor x = Tensor.scalar(2f).requiresGrad(true);
        Tensor y = x.pow(2).add(x.mul(3));             // d/dx (x^2 + 3x) = 2x + 3 = 7 at x = 2
        y.backward();
        assertEquals(7.0f, x.grad().item(), 1e-6);
        assertEquals(10.0f, y.item(), 1e-6);           // 4 + 6
    }

    @Test void broadcastingMultiplies() {
        Tensor a = Tensor.of(new float[][]{{1, 2}, {3, 4}}), b = Tensor.of(new float[][]{{5}, {6}});
        assertArrayEquals(new float[]{5, 10, 18, 24}, a.mul(b).toFloatArray());
        assertArrayEquals(new int[]{2, 2}, a.mul(b).shape());
    }

    @Test void printsLikePyTorch() {
        assertEquals("tensor([[1., 2.],\n        [3., 4.]])", Tensor.of(new float[][]{{1, 2}, {3, 4}}).toString());
        assertEquals("tensor(2.)", Tensor.scalar(2f).toString());
        assertEquals("tensor([3, 1, 4])", Tensor.of(new long[]{3, 1, 4}).toString());
        assertEquals("tensor([0.5000, 1.2500])", Tensor.of(new float[]{0.5f, 1.25f}).toString());
    }

    @Test void matmulShapeErrorNamesBothShapes() {
        Tensor a = Tensor.zeros(32, 784), b = Tensor.zeros(128, 10);
        IrError e = assertThrows(IrError.class, () -> a.matmul(b));
        assertTrue(e.getMessage().startsWith("TensorTest.java:"), e.getMessage());
        assertTrue(e.getMessage().endsWith("error: 'matmul' operand #1 has shape [128,10], incompatible with operand #0 [32,784]"),
                e.getMessage());
    }

    @Test void intPlusFloatIsFloat() {
        Tensor r = Tensor.of(new int[]{1, 2}).add(Tensor.of(new float[]{0.5f, 0.5f}));
        assertEquals(DType.F32, r.dtype());
        assertArrayEquals(new float[]{1.5f, 2.5f}, r.toFloatArray());
    }
}
