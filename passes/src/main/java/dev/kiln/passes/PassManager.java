package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Op;
import dev.kiln.ir.Value;
import dev.kiln.ir.Verifier;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.fusion.Fuse;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// A named, ordered pipeline of passes, with the debugging hooks of every stage: verification
/// after each pass, IR printed to stderr before or after chosen passes, and a `GraphDump` of
/// every stage: `00-input.kir`, `01-simplify.kir`, ... plus `index.txt` (stage, time, op
/// counts). Every dump is the printer's text, which parses back: a dump is a reproducer. Notes
/// a pass returns (the fusion report) follow its stage as `NN-PASS-report.txt`; printed to
/// stderr, they head the IR as `//` comments.
/// Invariant: `run` returns the last pass's output; the hooks never change what is computed.
public final class PassManager {
    /// Every pass by its flag name, in the standard order.
    public static final Map<String, Pass> PASSES = registry(Simplify.PASS, FoldConstants.PASS, Cse.PASS, Dce.PASS, Fuse.PASS);

    private final String name;
    private final List<Pass> passes;
    private final Options options;
    private final List<Stage> stages = new ArrayList<>();

    /// Debugging hooks. `printAfter`/`printBefore`/`dumpAfter` hold pass names, or `all`.
    /// The defaults come from system properties: `-Dkiln.verifyEach=true`,
    /// `-Dkiln.printIrAfter=all|pass,..`, `-Dkiln.printIrBefore=..`, `-Dkiln.dumpDir=DIR` or
    /// `KILN_DUMP_DIR=DIR` (which dump every stage of every graph run, each graph in a numbered
    /// subdirectory, see `DumpDir`; `-Dkiln.dumpAfter=pass,..` narrows it).
    public record Options(boolean verifyEach, Set<String> printAfter, Set<String> printBefore,
                          DumpDir dumpDir, Set<String> dumpAfter, PrintStream err) {
        public Options {
            printAfter = Set.copyOf(printAfter);
            printBefore = Set.copyOf(printBefore);
            dumpAfter = Set.copyOf(dumpAfter);
        }

        /// No hooks at all.
        public static Options none() { return new Options(false, Set.of(), Set.of(), null, Set.of("all"), System.err); }

        public static Options fromSystemProperties() {
            DumpDir dir = DumpDir.configured();
            return new Options(Boolean.getBoolean("kiln.verifyEach"),
                    names(System.getProperty("kiln.printIrAfter")), names(System.getProperty("kiln.printIrBefore")),
                    dir, names(System.getProperty("kiln.dumpAfter", "all")), System.err);
        }

        public Options withVerifyEach(boolean on) { return new Options(on, printAfter, printBefore, dumpDir, dumpAfter, err); }
        public Options withPrintAfter(String spec) { return new Options(verifyEach, names(spec), printBefore, dumpDir, dumpAfter, err); }
        public Options withPrintBefore(String spec) { return new Options(verifyEach, printAfter, names(spec), dumpDir, dumpAfter, err); }
        /// `--dump-after all|PASS,.. --dump-dir DIR`.
        public Options withDump(Path dir, String after) {
            return new Options(verifyEach, printAfter, printBefore, DumpDir.at(dir), names(after), err);
        }
        public Options withErr(PrintStream s) { return new Options(verifyEach, printAfter, printBefore, dumpDir, dumpAfter, s); }

        /// `all`, or a comma-separated list of known pass names (`input` names the stage before the first pass).
        static Set<String> names(String spec) {
            if (spec == null || spec.isBlank()) return Set.of();
            Set<String> out = new java.util.LinkedHashSet<>();
            for (String s : spec.split(",")) {
                String n = s.trim();
                if (n.isEmpty()) continue;
                if (!n.equals("all") && !n.equals("input") && !PASSES.containsKey(n))
                    throw new IllegalArgumentException("unknown pass '" + n + "' (known: all, " + String.join(", ", PASSES.keySet()) + ")");
                out.add(n);
            }
            return out;
        }

        static boolean matches(Set<String> set, String pass) { return set.contains("all") || set.contains(pass); }
    }

    /// One stage of the last run: pass name (`input` first), time spent, top-level ops, fused kernels, ops inside kernels.
    public record Stage(String pass, long nanos, int ops, int kernels, int opsInKernels) {}

    public PassManager(String name, List<Pass> passes, Options options) {
        this.name = name;
        this.passes = List.copyOf(passes);
        this.options = options;
    }

    /// simplify, fold-constants, cse, dce, with hooks from system properties.
    public static PassManager standard() { return standard(Options.fromSystemProperties()); }

    public static PassManager standard(Options options) {
        return new PassManager("standard", List.of(Simplify.PASS, FoldConstants.PASS, Cse.PASS, Dce.PASS), options);
    }

    /// The standard pipeline followed by `fuse`.
    public static PassManager withFusion(Options options) {
        return new PassManager("fused", List.of(Simplify.PASS, FoldConstants.PASS, Cse.PASS, Dce.PASS, Fuse.PASS), options);
    }

    /// A pipeline from a comma-separated list of pass names: `simplify,cse,dce`.
    public static PassManager parse(String pipeline, Options options) {
        List<Pass> list = new ArrayList<>();
        for (String n : pipeline.split(",")) {
            Pass p = PASSES.get(n.trim());
            if (p == null) throw new IllegalArgumentException("unknown pass '" + n.trim() + "' (known: " + String.join(", ", PASSES.keySet()) + ")");
            list.add(p);
        }
        return new PassManager(pipeline, list, options);
    }

    public String name() { return name; }
    public List<Pass> passes() { return passes; }

    /// The stages of the last `run`.
    public List<Stage> stages() { return List.copyOf(stages); }

    /// Runs the passes on `g`; with a dump directory in the options, into a new subdirectory of it.
    public Graph run(Graph g) { return run(g, options.dumpDir() == null ? null : options.dumpDir().graph(g.name())); }

    /// Runs the passes on `g`, writing the stages the options name into `dump` (null: none), where
    /// a backend may then add its own.
    public Graph run(Graph g, GraphDump dump) {
        stages.clear();
        if (options.verifyEach()) check(g, "input");
        record(g, "input", 0, List.of(), dump);
        for (int i = 0; i < passes.size(); i++) {
            Pass p = passes.get(i);
            if (Options.matches(options.printBefore(), p.name())) print("before " + p.name(), g, List.of());
            long t0 = System.nanoTime();
            Pass.Outcome out = p.runWithNotes(g);
            long nanos = System.nanoTime() - t0;
            g = out.graph();
            if (options.verifyEach()) check(g, p.name());
            record(g, p.name(), nanos, out.notes(), dump);
        }
        return g;
    }

    private void check(Graph g, String after) {
        try {
            Verifier.verify(g);
        } catch (IrError e) {
            String what = after.equals("input") ? "the input of pipeline '" + name + "' is invalid" : "pass '" + after + "' produced an invalid graph";
            throw new IrError(e.loc(), what + ": " + e.detail());
        }
    }

    private void record(Graph g, String pass, long nanos, List<String> notes, GraphDump dump) {
        int kernels = 0, inner = 0;
        for (Value v : g.body())
            if (v.op() instanceof Op.Fused f) {
                kernels++;
                inner += f.body().body().size();
            }
        Stage s = new Stage(pass, nanos, g.body().size(), kernels, inner);
        stages.add(s);
        if (Options.matches(options.printAfter(), pass)) print("after " + pass, g, notes);
        if (dump == null) return;
        if (!Options.matches(options.dumpAfter(), pass)) {
            dump.skip();
            if (!notes.isEmpty()) dump.skip();
            return;
        }
        dump.stage(pass, "kir", Printer.print(g), nanos, GraphDump.counts("ops", s.ops(), "kernels", s.kernels(), "ops-in-kernels", s.opsInKernels()));
        if (!notes.isEmpty())
            dump.stage(pass + "-report", "txt", String.join("\n", notes), -1, GraphDump.counts("kernels", s.kernels()));
    }

    private void print(String when, Graph g, List<String> notes) {
        StringBuilder s = new StringBuilder("// ----- IR " + when + " (@" + g.name() + ") -----\n");
        for (String note : notes) s.append("// ").append(note).append('\n');
        options.err().print(s.append(Printer.print(g)));
        options.err().flush();
    }

    private static Map<String, Pass> registry(Pass... passes) {
        Map<String, Pass> m = new LinkedHashMap<>();
        for (Pass p : passes) m.put(p.name(), p);
        return java.util.Collections.unmodifiableMap(m);
    }
}
