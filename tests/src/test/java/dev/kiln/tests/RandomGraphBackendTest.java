package dev.kiln.tests;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.codegen.jvm.Parity;
import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.RandomGraphs;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.stream.LongStream;

/// The passes' random graphs (every primitive, every dtype, symbolic dims) through the whole
/// CPU path: the standard pipeline plus fusion, then the JVM backend, against the reference
/// interpreter on the unoptimized graph (tolerances per dtype: see `Parity`). `-Dgraphs=N` runs
/// more; a failure names its seed, and the graph prints with the message.
class RandomGraphBackendTest {
    private static final int GRAPHS = Integer.getInteger("graphs", 150);

    @TestFactory
    List<DynamicTest> jvmBackendMatchesInterpreter() {
        PassManager pipeline = PassManager.withFusion(PassManager.Options.none());
        return LongStream.range(0, GRAPHS).mapToObj(seed -> DynamicTest.dynamicTest("seed " + seed, () -> {
            Graph g = RandomGraphs.generate(seed);
            Graph fused = pipeline.run(g);
            List<NdArray> in = RandomGraphs.inputs(g, seed);
            List<NdArray> want = Interpreter.run(g, in);
            Parity.verify(JvmBackend.classBytes(fused));
            try {
                Parity.compare("seed " + seed, want, JvmBackend.compile(fused).run(in));
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "\n" + Printer.print(g) + "\nafter the pipeline:\n" + Printer.print(fused), e);
            }
        })).toList();
    }
}
