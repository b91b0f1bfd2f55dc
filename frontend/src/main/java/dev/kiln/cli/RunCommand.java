package dev.kiln.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.jar.JarFile;

import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.GraphDump;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.TensorFileException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/// `kiln run MODEL.kir|model.jar --input [NAME=]FILE.npy ... [--output [NAME=]FILE.npy ...]`: runs a
/// model on `.npy` inputs. A `.kir` file is compiled for the JVM (or run by the interpreter)
/// with the parameters found in `--weights` as weights; a jar exported by Kiln runs in this
/// process exactly as `java -jar` runs it (in a class loader that sees only the jar), so every
/// option of the jar works here too. Invariant: nothing is written unless every output was computed.
@Command(name = "run", description = {"Run a model (.kir + weights, or a jar from 'kiln compile') on .npy inputs.",
        "Prints a summary of each output, or writes those named with --output."})
final class RunCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "A .kir file, or a .jar written by 'kiln compile' or Kiln.export.")
    String model;

    @Option(names = "--input", paramLabel = "[NAME=]FILE.npy", description = "An input, by name or the next in order (repeat for each).")
    List<String> inputs = new ArrayList<>();

    @Option(names = "--output", paramLabel = "[NAME=]FILE.npy", description = "Write an output (by name, or the only one) to a .npy file.")
    List<String> outputs = new ArrayList<>();

    @Option(names = "--weights", paramLabel = "FILE.safetensors", description = "The weights of a .kir model, by parameter name.")
    Path weights;

    @Option(names = "--backend", paramLabel = "jvm|interp|cuda", defaultValue = "jvm",
            description = "For a .kir model: jvm compiles it to bytecode (default), interp runs the reference interpreter, "
                    + "cuda compiles it to PTX and runs it on the GPU.")
    String backend;

    @Option(names = "--graph", paramLabel = "NAME", description = "The graph to run, in a file that holds several.")
    String graph;

    @Option(names = "--dump-dir", paramLabel = "DIR", description = ModelFiles.DUMP_DIR_HELP)
    Path dumpDir;

    /// Options of a jar's own command line (`--steps`, `--target`, ...), passed through.
    @Unmatched List<String> jarArgs = new ArrayList<>();

    @Override public Integer call() {
        if (dumpDir != null && (model.endsWith(".jar") || backend.equals("interp")))
            throw new ParameterException(spec.commandLine(), "--dump-dir shows the stages of a compile: it needs a .kir model and --backend jvm");
        if (model.endsWith(".jar")) return runJar();
        if (!jarArgs.isEmpty())
            throw new ParameterException(spec.commandLine(), (jarArgs.getFirst().startsWith("-") ? "unknown option '" : "unexpected argument '")
                    + jarArgs.getFirst() + "'");
        Backends.check(spec.commandLine(), backend);
        Graph g = KirFile.read(model).graph(graph);
        Map<String, NdArray> w = ModelFiles.weights(weights);
        List<String> in = ModelFiles.inputs(g, w);
        Map<String, Path> files = ModelFiles.inputFiles(g, in, inputs);
        Map<String, Path> outFiles = outputFiles(g);
        Inputs bound = Inputs.bind(g, new Inputs.Sources(files, weights, null), Map.of(), false, 0);
        // jvm: the passes and code an exported jar gets (ModelFiles.optimize), so both agree bit for bit
        List<NdArray> results;
        try {
            results = backend.equals("interp") ? Interpreter.run(g, bound.arrays())
                    : compile(g).run(bound.arrays());
        } catch (IrError e) {
            throw new CliException(e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        List<String> names = ModelFiles.resultNames(g);
        for (int r = 0; r < results.size(); r++) {
            Path p = outFiles.get(names.get(r));
            if (p == null) {
                if (outFiles.isEmpty()) out.println(names.get(r) + ": " + Summary.of(results.get(r)));
                continue;
            }
            try {
                Npy.write(p, results.get(r));
            } catch (TensorFileException e) {
                throw new CliException(e.getMessage());
            }
            out.println("wrote " + names.get(r) + " " + results.get(r).dtype().text()
                    + java.util.Arrays.toString(results.get(r).shape()).replace(" ", "") + " to " + p);
        }
        out.flush();
        return 0;
    }

    private Executable compile(Graph g) {
        GraphDump dump = ModelFiles.dump(g, dumpDir);
        return Backends.compile(backend, ModelFiles.optimize(g, dump), dump);
    }

    private Map<String, Path> outputFiles(Graph g) {
        List<String> names = ModelFiles.resultNames(g);
        Map<String, Path> out = new LinkedHashMap<>();
        for (String s : outputs) {
            int eq = s.indexOf('=');
            String name;
            if (eq > 0 && !s.substring(0, eq).contains("/")) {
                name = s.substring(0, eq);
                if (!names.contains(name))
                    throw new CliException("@" + g.name() + " has no output '" + name + "' (its outputs: " + String.join(", ", names) + ")");
                s = s.substring(eq + 1);
            } else if (names.size() == 1) {
                name = names.getFirst();
            } else {
                throw new CliException("@" + g.name() + " has " + names.size() + " outputs (" + String.join(", ", names)
                        + "); name the one to write with --output NAME=FILE.npy");
            }
            if (out.put(name, Path.of(s)) != null) throw new CliException("--output " + name + " is given twice");
        }
        return out;
    }

    /// The jar's own command line (`cli(String[], PrintWriter, PrintWriter)` of its Main-Class).
    private int runJar() {
        if (weights != null || graph != null || !backend.equals("jvm"))
            throw new ParameterException(spec.commandLine(), "--weights, --graph and --backend are for .kir models; a jar holds its weights");
        Path jar = Path.of(model);
        if (!Files.isRegularFile(jar)) throw new CliException("no such file: " + model);
        String main;
        try (JarFile jf = new JarFile(jar.toFile())) {
            main = jf.getManifest() == null ? null : jf.getManifest().getMainAttributes().getValue("Main-Class");
        } catch (IOException e) {
            throw new CliException(model + ": not a readable jar (" + e.getMessage() + ")");
        }
        if (main == null) throw new CliException(model + ": the jar names no Main-Class; is it a jar from 'kiln compile'?");
        List<String> args = new ArrayList<>();
        for (String s : inputs) args.addAll(List.of("--input", s));
        for (String s : outputs) args.addAll(List.of("--output", s));
        args.addAll(jarArgs);
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        // The platform loader as parent: the jar's own runtime classes run, as under java -jar.
        try (URLClassLoader loader = new URLClassLoader(new URL[]{jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
            Method cli;
            try {
                cli = loader.loadClass(main).getMethod("cli", String[].class, PrintWriter.class, PrintWriter.class);
            } catch (ReflectiveOperationException | LinkageError e) {
                throw new CliException(model + ": not a jar exported by Kiln (its Main-Class " + main + " has no cli method)");
            }
            return (Integer) cli.invoke(null, args.toArray(String[]::new), out, err);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error r) throw r;
            throw new IllegalStateException(e.getCause());
        } catch (IllegalAccessException | IOException e) {
            throw new CliException(model + ": cannot run the jar: " + e.getMessage());
        }
    }
}
