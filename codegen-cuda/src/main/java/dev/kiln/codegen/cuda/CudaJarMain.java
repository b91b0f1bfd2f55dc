package dev.kiln.codegen.cuda;

import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.text.Parser;
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
/// [--output [NAME=]y.npy ...]` runs the stored graph on the GPU and writes each output to a
/// `.npy` file, or prints its shape and first values. `--help` lists the inputs and outputs.
/// Invariant: a failure is one line, `error: ...`, on standard error, and a non-zero exit: 1 for
/// a missing GPU or bad input, 2 for a bad command line.
public final class CudaJarMain {
    private CudaJarMain() {}

    public static void main(String[] args) { System.exit(run(args, System.out, System.err)); }

    static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            Graph g = Parser.parse(resource(CudaJar.GRAPH), CudaJar.GRAPH);
            Map<String, NdArray> weights = SafeTensors.read(bytes(CudaJar.WEIGHTS), CudaJar.WEIGHTS);
            List<String> inputs = g.paramNames().stream().filter(n -> !weights.containsKey(n)).toList();
            if (args.length == 0 || List.of(args).contains("--help")) {
                (args.length == 0 ? err : out).print(usage(g, inputs));
                return args.length == 0 ? 2 : 0;
            }
            String why = CudaBackend.unavailableReason();
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
                List<String> names = input ? inputs : results(g);
                Map<String, Path> to = input ? given : outputs;
                String name = eq > 0 ? v.substring(0, eq) : names.stream().filter(n -> !to.containsKey(n)).findFirst().orElse(null);
                if (name == null || !names.contains(name))
                    return usageError(err, (input ? "input" : "output") + " '" + (name == null ? v : name) + "': the model's " + (input ? "inputs" : "outputs")
                            + " are " + String.join(", ", names));
                to.put(name, Path.of(eq > 0 ? v.substring(eq + 1) : v));
            }
            List<NdArray> in = new ArrayList<>();
            for (String n : g.paramNames()) {
                if (weights.containsKey(n)) in.add(weights.get(n));
                else if (given.containsKey(n)) in.add(Npy.read(given.get(n)));
                else return usageError(err, "missing --input " + n + "=FILE.npy (" + g.param(n).type() + ")");
            }
            try (CudaExecutable exe = CudaBackend.compile(g)) {
                if (!exe.ptx().ptx().equals(resource(CudaJar.PTX))) {
                    err.println("error: the PTX generated from the jar's graph differs from the PTX stored in it (a damaged jar?)");
                    return 1;
                }
                List<NdArray> res = exe.run(in);
                List<String> names = results(g);
                for (int r = 0; r < res.size(); r++) {
                    Path p = outputs.get(names.get(r));
                    if (p != null) {
                        Npy.write(p, res.get(r));
                        out.println("wrote " + names.get(r) + " " + describe(res.get(r)) + " to " + p);
                    } else if (outputs.isEmpty()) out.println(names.get(r) + ": " + describe(res.get(r)) + " " + first(res.get(r)));
                }
            }
            return 0;
        } catch (TensorFileException | IllegalArgumentException | IrError e) {
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

    private static List<String> results(Graph g) {
        List<String> out = new ArrayList<>();
        for (int r = 0; r < g.resultTypes().size(); r++) out.add("output" + r);
        return out;
    }

    private static String usage(Graph g, List<String> inputs) {
        StringBuilder s = new StringBuilder("usage: java -jar <this jar> --input [NAME=]FILE.npy ... [--output [NAME=]FILE.npy ...]\n"
                + "runs @" + g.name() + " on the GPU (CUDA driver needed; no GPU: an error)\ninputs:\n");
        for (String n : inputs) s.append("  ").append(n).append(' ').append(g.param(n).type()).append('\n');
        s.append("outputs:\n");
        List<String> names = results(g);
        for (int r = 0; r < names.size(); r++) s.append("  ").append(names.get(r)).append(' ').append(g.resultTypes().get(r)).append('\n');
        return s.toString();
    }

    private static String describe(NdArray a) { return new TensorType(a.dtype(), dev.kiln.ir.Shape.of(Arrays.stream(a.shape()).boxed().toArray())).toString(); }

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
