package dev.kiln.codegen.cuda;

import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/// The hand-built MNISTNet train step does what a train step does: on small random weights the
/// loss is about ln 10, and a few steps on one fixed batch lower it (interpreter, CPU).
class ModelsTest {
    @Test void trainStepLowersTheLossOnAFixedBatch() {
        Graph g = Models.trainStep();
        Random r = new Random(3);
        int batch = 2, np = Models.PARAMS.length;
        List<NdArray> in = new java.util.ArrayList<>(GpuParityTest.randomInputs(g, Map.of("B", batch), 5));
        NdArray onehot = NdArray.zeros(dev.kiln.runtime.DType.F32, batch, 10);
        for (int i = 0; i < batch; i++) onehot.setDouble(i * 10 + (i * 3) % 10, 1);
        in.set(1, onehot);
        for (int i = 0; i < np; i++) {
            NdArray p = in.get(2 + i);
            for (int e = 0; e < p.size(); e++) p.setDouble(e, r.nextGaussian() * 0.05);
            in.set(2 + np + i, NdArray.zeros(p.dtype(), p.shape()));
            in.set(2 + 2 * np + i, NdArray.zeros(p.dtype(), p.shape()));
        }
        double first = Double.NaN, last = Double.NaN;
        for (int step = 0; step < 4; step++) {
            List<NdArray> out = Interpreter.run(g, in);
            double loss = out.getFirst().getDouble(0);
            if (step == 0) {
                first = loss;
                assertEquals(Math.log(10), loss, 0.3);
            }
            last = loss;
            for (int i = 0; i < 3 * np; i++) in.set(2 + i, out.get(1 + i));
        }
        assertTrue(last < first, "loss " + first + " -> " + last);
    }
}
