package dev.kiln;

import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.text.Parser;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Linear;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;
import dev.kiln.optim.SGD;
import dev.kiln.passes.lower.Lower;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/// Looking inside a compile from Java: `Kiln.CompileOptions` dumps every stage of a model's and
/// a train step's graph, and profiles their kernels.
class InspectTest {
    static final List<String> STAGES = List.of("00-input.kir", "01-simplify.kir", "02-fold-constants.kir", "03-cse.kir", "04-dce.kir",
            "05-fuse.kir", "06-fuse-report.txt", "07-kernels.txt", "08-bytecode.txt", "index.txt");

    @Test void compileDumpsEveryStageOfEachGraphInItsOwnNumberedDirectory(@TempDir Path root) throws Exception {
        Kiln.manualSeed(3);
        var model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
        var options = Kiln.CompileOptions.defaults().withDumpDir(root);
        CompiledModel cm = Kiln.compile(model, options, Tensor.rand(5, 4));
        TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), new SGD(model.parameters(), 0.1), Tensor.rand(6, 4),
                Tensor.of(new long[]{0, 1, 2, 0, 1, 2}), options);

        List<String> top = Files.readAllLines(root.resolve("index.txt"));
        assertEquals(2, top.size(), top.toString());
        assertTrue(top.get(0).startsWith("001-forward ") && top.get(0).contains("@forward  stages=9"), top.get(0));
        assertTrue(top.get(1).startsWith("002-train_step ") && top.get(1).contains("@train_step  stages=9"), top.get(1));
        check(root.resolve("001-forward"), cm.graph());
        check(root.resolve("002-train_step"), step.graph());
    }

    /// The stages are there in order; each graph stage parses back and the index gives its real op
    /// and kernel counts; the kernel IR has the kernels that lowering the fused graph gives.
    private static void check(Path dir, Graph traced) throws Exception {
        try (var f = Files.list(dir)) {
            assertEquals(STAGES, f.map(p -> p.getFileName().toString()).sorted().toList(), dir.toString());
        }
        List<String> index = Files.readAllLines(dir.resolve("index.txt"));
        assertEquals(STAGES.size() - 1, index.size());
        Graph last = null;
        for (int i = 0; i < 6; i++) {
            Graph g = Parser.parse(Files.readString(dir.resolve(STAGES.get(i))), STAGES.get(i));
            long kernels = g.body().stream().filter(v -> v.op() instanceof Op.Fused).count();
            assertTrue(index.get(i).startsWith(STAGES.get(i)) && index.get(i).contains("  ops=" + g.body().size() + "  kernels=" + kernels + "  "),
                    index.get(i));
            last = g;
        }
        assertEquals(traced.body().size(), Parser.parse(Files.readString(dir.resolve("00-input.kir")), "in").body().size());
        assertTrue(index.get(5).matches("05-fuse.kir .* kernels=[1-9]\\d*  ops-in-kernels=[1-9]\\d*"), index.get(5));
        assertTrue(Files.readString(dir.resolve("06-fuse-report.txt")).startsWith("fuse: "));
        int lowered = Lower.lower(last).kernels().size();
        String kir = Files.readString(dir.resolve("07-kernels.txt"));
        assertEquals(lowered, kir.lines().filter(l -> l.startsWith("kernel ")).count(), kir);
        assertTrue(index.get(7).matches("07-kernels.txt +[0-9.]+ ms  kernels=" + lowered + "  buffers=\\d+"), index.get(7));
        String code = Files.readString(dir.resolve("08-bytecode.txt"));
        assertTrue(code.contains("class dev/kiln/codegen/jvm/Graph_" + traced.name() + " implements"), code.lines().limit(5).toList().toString());
    }

    @Test void profileCountsEveryCallOfEveryKernelAndSharesAddUpToTheWhole() {
        Kiln.manualSeed(4);
        var model = new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, 3));
        CompiledModel cm = Kiln.compile(model, Kiln.CompileOptions.defaults().withProfile(true), Tensor.rand(5, 4));
        Tensor x = Tensor.randn(32, 4);
        for (int i = 0; i < 4; i++) cm.forward(x);
        KernelProfile p = cm.profile();
        assertEquals(4, p.runs());
        assertFalse(p.rows().isEmpty());
        long flops = 0;
        for (KernelProfile.Row r : p.rows()) {
            assertEquals(4, r.calls(), r.toString());
            flops += r.flops();
        }
        assertEquals(4 * (2L * 32 * 4 * 16 + 2L * 32 * 16 * 3), flops, "the two matrix products, 2*B*in*out flops each");
        assertEquals(100.0, shares(p.toString()), 0.1 * p.rows().size(), p.toString()); // each share is rounded to 0.1
        List<String> top = p.table(2).lines().toList(); // the two slowest kernels, slowest first, and the total of all
        assertEquals(4, top.size(), p.table(2));
        List<KernelProfile.Row> byTime = p.rows().stream().sorted((a, b) -> Long.compare(b.steadyNanos(), a.steadyNanos())).toList();
        assertTrue(top.get(1).startsWith(byTime.get(0).kernel() + " ") && top.get(2).startsWith(byTime.get(1).kernel() + " "), p.table(2));
        assertEquals(p.table().lines().toList().getLast(), top.getLast());

        cm.resetProfile();
        cm.forward(x);
        assertEquals(1, cm.profile().runs());
        for (KernelProfile.Row r : cm.profile().rows()) assertEquals(1, r.calls());

        TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), new SGD(model.parameters(), 0.1), Tensor.rand(6, 4),
                Tensor.of(new long[]{0, 1, 2, 0, 1, 2}), Kiln.CompileOptions.defaults().withProfile(true));
        for (int i = 0; i < 3; i++) step.step(Tensor.randn(8, 4), Tensor.randint(0, 3, 8));
        assertEquals(3, step.profile().runs());
        for (KernelProfile.Row r : step.profile().rows()) assertEquals(3, r.calls(), r.toString());
        assertEquals(100.0, shares(step.profile().table()), 0.1 * step.profile().rows().size());
    }

    @Test void profileIsOneClearErrorWhenOffOrOnAnotherBackend() {
        Kiln.manualSeed(5);
        var model = new Linear(4, 2);
        CompiledModel plain = Kiln.compile(model, Tensor.rand(2, 4));
        if (!System.getenv().containsKey("KILN_PROFILE") && !Boolean.getBoolean("kiln.profile")) {
            KilnException e = assertThrows(KilnException.class, plain::profile);
            assertTrue(e.getMessage().endsWith("error: CompiledModel.profile: profiling is off; compile with "
                    + "Kiln.CompileOptions.defaults().withProfile(true), or run with KILN_PROFILE=1 or -Dkiln.profile=true"), e.getMessage());
        }
        try {
            Kiln.setBackend(Backend.interpreter());
            KilnException e = assertThrows(KilnException.class,
                    () -> Kiln.compile(model, Kiln.CompileOptions.defaults().withProfile(true), Tensor.rand(2, 4)));
            assertTrue(e.getMessage().endsWith("error: Kiln.compile: kernel profiles come from the jvm backend, not 'interpreter'"),
                    e.getMessage());
        } finally {
            Kiln.setBackend(Backend.named("jvm"));
        }
    }

    /// The share column of a profile table, summed over the kernel rows.
    private static double shares(String table) {
        List<String> lines = table.lines().toList();
        double sum = 0;
        for (String line : lines.subList(1, lines.size() - 1)) sum += Double.parseDouble(line.split("%")[0].replaceAll(".* ", ""));
        return sum;
    }
}
