package dev.kiln.codegen.cuda.rt;

import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.SafeTensors;
import dev.kiln.runtime.TensorFileException;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/// The command line of a CUDA jar (see `CudaJar`): `java -jar model.jar --input [NAME=]x.npy ...
/// [--output [NAME=]y.npy ...]` runs the stored plan and PTX on the GPU and writes each output to
/// a `.npy` file, or prints its shape and first values. `--help` lists the inputs and outputs.
/// It needs only Kiln's runtime, this package and JCuda, and reads and checks everything the jar
/// stores before it looks for a GPU.
/// Invariant: a failure is one line, `error: ...`, on standard error, and a non-zero exit: 1 for
/// a missing GPU, a damaged jar or bad input, 2 for a bad command line.
public final class CudaJarMain {
    private CudaJarMain() {}

    public static final String PTX = "kiln/model.ptx", PLAN = "kiln/plan.txt", WEIGHTS = "kiln/weights.safetensors",
            CONSTANTS = "kiln/constants.safetensors";

    /// The name constant `c` is stored under in `CONSTANTS`.
    public static String constantName(int c) { return "constant" + c; }

    public static void main(String[] args) { System.exit(run(args, System.out, System.err)); }

    static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            CudaPlan plan = CudaPlan.parse(resource(PLAN), PLAN);
            Map<String, NdArray> weights = SafeTensors.read(bytes(WEIGHTS), WEIGHTS);
            Map<String, NdArray> stored = SafeTensors.read(bytes(CONSTANTS), CONSTANTS);
            List<NdArray> constants = new ArrayList<>();
            for (int c = 0; stored.containsKey(constantName(c)); c++) constants.add(stored.get(constantName(c)));
            String ptx = resource(PTX);
            for (CudaPlan.Param p : plan.params())
                if (p.weight() && !weights.containsKey(p.name()))
                    throw new IllegalArgumentException("the jar's " + WEIGHTS + " has no tensor '" + p.name() + "' (a damaged jar?)");
            List<String> inputs = plan.params().stream().filter(p -> !p.weight()).map(CudaPlan.Param::name).toList();
            List<String> results = plan.results().stream().map(CudaPlan.Result::name).toList();
            if (args.length == 0 || List.of(args).contains("--help")) {
                (args.length == 0 ? err : out).print(usage(plan));
                return args.length == 0 ? 2 : 0;
            }
            String why = CudaDriver.unavailableReason();
            if (why != null) {
                err.println("error: this jar runs on a GPU, and none is usable here: " + why);
                return 1;
            }
            Map<String, Path> given = new LinkedHashMap<>(), outputs = new LinkedHashMap<>();
            for (int i = 0; i < args.length; i++) {
                if (!args[i].equals("--input") && !args[i].equals("--output") || i + 1 == args.length)
                    return usageError(err, args[i].startsWith("--") && i + 1 == args.length ? args[i] + " needs a value" : "unexpected argument '" + args[i] + "'");
                boolean input = args[i].equals("--input");
                String v = args[++i];
                int eq = v.indexOf('=');
                List<String> names = input ? inputs : results;
                Map<String, Path> to = input ? given : outputs;
                String name = eq > 0 ? v.substring(0, eq) : names.stream().filter(n -> !to.containsKey(n)).findFirst().orElse(null);
                if (name == null || !names.contains(name))
                    return usageError(err, (input ? "input" : "output") + " '" + (name == null ? v : name) + "': the model's " + (input ? "inputs" : "outputs")
                            + " are " + String.join(", ", names));
                to.put(name, Path.of(eq > 0 ? v.substring(eq + 1) : v));
            }
            List<NdArray> in = new ArrayList<>();
            for (int i = 0; i < plan.params().size(); i++) {
                CudaPlan.Param p = plan.params().get(i);
                if (p.weight()) in.add(weights.get(p.name()));
                else if (given.containsKey(p.name())) in.add(Npy.read(given.get(p.name())));
                else return usageError(err, "missing --input " + p.name() + "=FILE.npy (" + plan.paramType(i) + ")");
            }
            try (CudaPlanExecutable exe = new CudaPlanExecutable(plan, ptx, constants, true)) {
                List<NdArray> res = exe.run(in);
                for (int r = 0; r < res.size(); r++) {
                    Path p = outputs.get(results.get(r));
                    if (p != null) {
                        Npy.write(p, res.get(r));
                        out.println("wrote " + results.get(r) + " " + describe(res.get(r)) + " to " + p);
                    } else if (outputs.isEmpty()) out.println(results.get(r) + ": " + describe(res.get(r)) + " " + first(res.get(r)));
                }
            }
            return 0;
        } catch (TensorFileException | IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 1;
        } catch (RuntimeException e) {
            err.println("error: " + e);
            return 1;
        }
    }

    private static int usageError(PrintStream err, String what) {
        err.println("error: " + what + "; run 'java -jar <this jar> --help' for usage");
        return 2;
    }

    private static String usage(CudaPlan plan) {
        StringBuilder s = new StringBuilder("usage: java -jar <this jar> --input [NAME=]FILE.npy ... [--output [NAME=]FILE.npy ...]\n"
                + "runs @" + plan.name() + " on the GPU (CUDA driver needed; no GPU: an error)\ninputs:\n");
        for (int i = 0; i < plan.params().size(); i++)
            if (!plan.params().get(i).weight()) s.append("  ").append(plan.params().get(i).name()).append(' ').append(plan.paramType(i)).append('\n');
        s.append("outputs:\n");
        for (int r = 0; r < plan.results().size(); r++) s.append("  ").append(plan.results().get(r).name()).append(' ').append(plan.resultType(r)).append('\n');
        return s.toString();
    }

    private static String describe(NdArray a) {
        return a.dtype().text() + Arrays.toString(a.shape()).replace(" ", "");
    }

    private static String first(NdArray a) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < Math.min(8, a.size()); i++) s.append(i > 0 ? ", " : "").append((float) a.getDouble(i));
        return s.append(a.size() > 8 ? ", ...]" : "]").toString();
    }

    private static byte[] bytes(String name) {
        try (InputStream in = CudaJarMain.class.getResourceAsStream("/" + name)) {
            if (in == null) throw new IllegalArgumentException("the jar has no " + name + "; is it a jar from 'kiln compile --target cuda'?");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + name + " from the jar: " + e.getMessage());
        }
    }

    private static String resource(String name) { return new String(bytes(name), StandardCharsets.UTF_8); }
}
