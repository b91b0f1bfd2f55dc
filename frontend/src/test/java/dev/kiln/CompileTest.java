package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;
import dev.kiln.optim.Adam;
import dev.kiln.optim.Optimizer;
import dev.kiln.optim.SGD;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

class CompileTest {
    static class Mlp extends Module {
        final Linear fc1 = register("fc1", new Linear(4, 8));
        final Linear fc2 = register("fc2", new Linear(8, 3));

        @Override public Tensor forward(Tensor x) {
            Tensor h = fc1.forward(x).relu();                      // line used in the location test
            return fc2.forward(h.view(h.size(0), -1));
        }
    }

    @Test void traceHasNamedWeightsSymbolicBatchAndLocations() {
        Kiln.manualSeed(0);
        Graph g = Kiln.trace(new Mlp(), Tensor.rand(5, 4));
        assertEquals(List.of("x", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), g.paramNames());
        assertEquals(TensorType.f32("B", 4), g.params().getFirst().type());
        assertEquals(TensorType.f32("B", 3), g.results().getFirst().type());
        boolean sawFc1 = false;
        for (Value v : g.body()) {
            if (v.loc() instanceof Loc.Source(String file, int line, String scope) && scope.equals("fc1")) {
                assertEquals("CompileTest.java", file);
                assertEquals(28, line);
                sawFc1 = true;
            }
        }
        assertTrue(sawFc1, "some op is located in fc1");
    }

    @Test void compiledForwardEqualsEagerForAnyBatch() {
        Kiln.manualSeed(1);
        Mlp m = new Mlp();
        CompiledModel cm = Kiln.compile(m, Tensor.rand(5, 4));
        for (int batch : new int[]{5, 2}) {
            Tensor x = Tensor.randn(batch, 4);
            assertArrayEquals(m.forward(x).toFloatArray(), cm.forward(x).toFloatArray(), 1e-6f);
        }
        KilnException e = assertThrows(KilnException.class, () -> cm.forward(Tensor.rand(2, 5)));
        assertTrue(e.getMessage().contains("compiled for f32[B,4]"), e.getMessage());
    }

    void trainStepMatchesEager(Function<List<Tensor>, Optimizer> make) {
        Kiln.manualSeed(2);
        Module eager = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
        Kiln.manualSeed(2);
        Module compiled = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
        Optimizer oe = make.apply(eager.parameters()), oc = make.apply(compiled.parameters());
        var loss = new CrossEntropyLoss();
        TrainStep step = Kiln.compileTrainStep(compiled, loss, oc, Tensor.rand(6, 4), Tensor.of(new long[]{0, 1, 2, 0, 1, 2}));
        for (int i = 0; i < 3; i++) {
            int n = i == 2 ? 3 : 6;                                  // a last, partial batch
            Tensor x = Tensor.randn(n, 4), y = Tensor.randint(0, 3, n);
            oe.zeroGrad();
            Tensor le = loss.forward(eager.forward(x), y);
            le.backward();
            oe.step();
            Tensor lc = step.step(x, y);
            assertEquals(le.item(), lc.item(), 1e-5, "step " + i);
        }
        var pe = eager.stateDict(); var pc = compiled.stateDict();
        for (String k : pe.keySet()) assertArrayEquals(pe.get(k).toFloatArray(), pc.get(k).toFloatArray(), 1e-5f, k);
        assertEquals(3, oc.stepCount());
    }

    @Test void compiledSgdStepMatchesEager() { trainStepMatchesEager(p -> new SGD(p, 0.1, 0.9, 1e-3)); }

    @Test void compiledAdamStepMatchesEager() { trainStepMatchesEager(p -> new Adam(p, 0.01)); }

    @Test void compiledAdamWStepMatchesEager() { trainStepMatchesEager(p -> new dev.kiln.optim.AdamW(p, 0.01)); }

    @Test void compiledRmspropStepMatchesEager() {
        trainStepMatchesEager(p -> new dev.kiln.optim.RMSprop(p, 0.01, 0.9, 1e-8, 0.01, 0.5, true));
    }

    /// With plain SGD at lr = 1 a compiled step subtracts exactly the gradient, so the
    /// compiled (traced, differentiated as one graph) gradient can be read off and compared.
    @Test void compiledGradientsEqualEagerGradients() {
        Kiln.manualSeed(4);
        Mlp m = new Mlp();
        Tensor x = Tensor.randn(5, 4), y = Tensor.of(new long[]{0, 2, 1, 1, 0});
        var loss = new CrossEntropyLoss();
        loss.forward(m.forward(x), y).backward();
        var before = new java.util.LinkedHashMap<String, float[]>();
        m.stateDict().forEach((k, v) -> before.put(k, v.toFloatArray()));
        TrainStep step = Kiln.compileTrainStep(m, loss, new SGD(m.parameters(), 1.0), x, y);
        step.step(x, y);
        m.stateDict().forEach((k, v) -> {
            float[] after = v.toFloatArray(), b = before.get(k), g = new float[b.length];
            for (int i = 0; i < b.length; i++) g[i] = b[i] - after[i];
            assertArrayEquals(v.grad().toFloatArray(), g, 1e-6f, k);
        });
    }

    @Test void tracePrintsWithLocations() {
        Kiln.manualSeed(0);
        String text = dev.kiln.ir.text.Printer.print(Kiln.trace(new Mlp(), Tensor.rand(2, 4)), true);
        assertTrue(text.startsWith("graph @forward("), text);
        assertTrue(text.contains("%x: f32[B,4]"), text);
        assertTrue(text.contains("matmul %x, "), text);
        assertTrue(text.contains("loc(CompileTest.java:28 in fc1)"), text);
        assertTrue(text.contains("loc(CompileTest.java:29 in fc2)"), text);
        assertEquals(text, dev.kiln.ir.text.Printer.print(dev.kiln.ir.text.Parser.parse(text, "trace.kir"), true));
    }

    /// Dropout's seed is a graph input drawn fresh per call: a compiled step sees a new mask
    /// each time in training mode, and none in eval mode.
    @Test void compiledDropoutDrawsANewMaskPerCall() {
        Kiln.manualSeed(8);
        Module m = new Sequential(new Linear(4, 16), new dev.kiln.nn.Dropout(0.5), new Linear(16, 3));
        Tensor x = Tensor.randn(6, 4), y = Tensor.of(new long[]{0, 1, 2, 0, 1, 2});
        TrainStep step = Kiln.compileTrainStep(m, new CrossEntropyLoss(), new SGD(m.parameters(), 0.0), x, y);
        assertTrue(step.graph().paramNames().contains("seed0"), step.graph().paramNames().toString());
        assertNotEquals(step.step(x, y).item(), step.step(x, y).item());
        m.eval();
        CompiledModel cm = Kiln.compile(m, x);
        assertArrayEquals(cm.forward(x).toFloatArray(), cm.forward(x).toFloatArray());
        assertArrayEquals(m.forward(x).toFloatArray(), cm.forward(x).toFloatArray(), 1e-6f);
    }
}
