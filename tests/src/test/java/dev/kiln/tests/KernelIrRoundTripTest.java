package dev.kiln.tests;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.examples.mnist.MnistNet;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.ir.kernel.KirParser;
import dev.kiln.ir.kernel.KirPrinter;
import dev.kiln.ir.kernel.KirVerifier;
import dev.kiln.ir.text.KirFiles;
import dev.kiln.ir.text.Parser;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Module;
import dev.kiln.optim.Adam;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.RandomGraphs;
import dev.kiln.passes.lower.Lower;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/// The kernel IR's text form round-trips on real programs: every graph the golden files hold
/// (the IR's op and evaluation cases, the passes' cases), the passes' random graphs, the bundled
/// examples and the seed's MNIST train step, each lowered as written and after the pipeline with
/// fusion. For each program `p`: `parse(print(p))` equals `p` (constants by value), and prints
/// back to the same text. A golden graph that names a symbol no input binds has no program: its
/// lowering must refuse it.
class KernelIrRoundTripTest {
    private static final PassManager PIPELINE = PassManager.withFusion(PassManager.Options.none());

    @TestFactory
    Stream<DynamicTest> goldenGraphs() {
        List<KirFiles.Case> cases = new ArrayList<>();
        for (String folder : List.of("ir/eval", "ir/ops", "ir/cse", "ir/dce", "ir/fold-constants", "ir/fuse", "ir/simplify"))
            cases.addAll(KirFiles.allCases(folder));
        // a pass's case holds its input and, after `// EXPECT:`, its output: two graphs of one name
        return cases.stream().flatMap(c -> Stream.of(c.text().split("// EXPECT:")).flatMap(part -> Parser.parseAll(part, c.file()).stream())
                .map(g -> DynamicTest.dynamicTest(c.name() + " @" + g.name(), () -> {
                    if (OpGoldenBackendTest.symbolsBoundByInputs(g)) bothForms(g);
                    else assertThrows(IrError.class, () -> Lower.lower(g)); // nothing to print: the lowering refuses it
                })));
    }

    @TestFactory
    List<DynamicTest> randomGraphs() {
        return LongStream.range(0, 150).mapToObj(seed -> DynamicTest.dynamicTest("seed " + seed,
                () -> bothForms(RandomGraphs.generate(seed)))).toList();
    }

    @TestFactory
    List<DynamicTest> examples() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("../examples/ir"))) {
            return files.filter(f -> f.toString().endsWith(".kir")).sorted().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(),
                    () -> bothForms(Parser.parse(Files.readString(f), f.getFileName().toString())))).toList();
        }
    }

    /// The seed's CNN (`examples/mnist/MnistNet`, as the demo's), its train step with cross-entropy and Adam, and its forward pass.
    @Test void mnistTrainStep() {
        Kiln.manualSeed(0);
        Module model = new MnistNet();
        Tensor x = Tensor.randn(8, 1, 28, 28), y = Tensor.randint(0, 10, 8);
        TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), new Adam(model.parameters(), 1e-3), x, y);
        bothForms(step.graph());
        bothForms(Kiln.trace(model, x));
    }

    /// The graph as written and after the pipeline with fusion.
    private static void bothForms(Graph g) {
        for (Graph form : List.of(g, PIPELINE.run(g))) roundTrip(Lower.lower(form));
    }

    static void roundTrip(KernelProgram p) {
        KirVerifier.verify(p);
        String text = KirPrinter.print(p);
        KernelProgram back = KirParser.parse(text, "round-trip.txt");
        assertEquals(text, KirPrinter.print(back), "prints back to the same text");
        assertEquals(p, back, () -> "parses back to an equal program:\n" + text);
    }
}
