package dev.kiln.codegen.jvm.rt;

import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.TensorFileException;

import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/// The command line of a standalone jar, `java -jar model.jar ...`. A model jar reads its inputs
/// from `.npy` files and writes its outputs to `.npy` files (or prints a summary of each); a
/// training-step jar runs steps over `.npy` data and saves the new weights. Without arguments
/// it prints a usage that lists the model's inputs and outputs with their types.
///
/// Invariant: a failure prints exactly one line, `error: ...`, on the error stream and returns
/// non-zero: 1 for bad input (a file, a shape, a dtype), 2 for a bad command line.
public final class JarMain {
    private JarMain() {}

    public static final int EXIT_ERROR = 1, EXIT_USAGE = 2;

    /// A command-line mistake (exit code 2).
    private static final class UsageError extends RuntimeException {
        UsageError(String m) { super(m, null, false, false); }
    }

    /// `open` loads the model with the pool it is given (`--threads`).
    public static int run(Function<Pool, ExportedModel> open, Class<?> entry, String[] args, PrintWriter out, PrintWriter err) {
        String jar = jarName(entry);
        try {
            Options o = Options.parse(args);
            if (o.help || args.length == 0) {
                ExportedModel m = open.apply(Pool.shared());
                (o.help ? out : err).print(usage(m, jar, entry));
                (o.help ? out : err).flush();
                return o.help ? 0 : EXIT_USAGE;
            }
            ExportedModel m = open.apply(o.threads > 0 ? new Pool(o.threads) : Pool.shared());
            if (m.isTrainStep()) train(m, o, jar, out, err);
            else infer(m, o, jar, out, err);
            return 0;
        } catch (UsageError e) {
            err.println("error: " + e.getMessage() + "; run 'java -jar " + jar + " --help' for usage");
            return EXIT_USAGE;
        } catch (TensorFileException | IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return EXIT_ERROR;
        } catch (OutOfMemoryError e) {
            err.println("error: out of memory; give the JVM more, e.g. java -Xmx8g -jar " + jar + " ...");
            return EXIT_ERROR;
        } catch (RuntimeException e) {
            err.println("error: " + e);
            return EXIT_ERROR;
        } finally {
            out.flush();
            err.flush();
        }
    }

    private static String jarName(Class<?> entry) {
        try {
            Path p = Path.of(entry.getProtectionDomain().getCodeSource().getLocation().toURI());
            String name = p.getFileName().toString();
            if (name.endsWith(".jar")) return name;
        } catch (Exception | LinkageError e) {
            // not from a jar file: fall back to a generic name
        }
        return "model.jar";
    }

    /// The command line, parsed without knowing the model.
    private static final class Options {
        final List<String> inputs = new ArrayList<>(), outputs = new ArrayList<>();
        String target, save;
        int steps = 1, batch, logEvery, threads;
        boolean help, profile;

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i], value = null;
                int eq = a.indexOf('=');
                if (a.startsWith("--") && eq > 0) {
                    value = a.substring(eq + 1);
                    a = a.substring(0, eq);
                }
                switch (a) {
                    case "-h", "--help" -> o.help = true;
                    case "--profile" -> o.profile = true;
                    case "--input", "--output", "--target", "--save", "--steps", "--batch", "--log-every", "--threads" -> {
                        if (value == null) {
                            if (i + 1 >= args.length) throw new UsageError(a + " needs a value");
                            value = args[++i];
                        }
                        switch (a) {
                            case "--input" -> o.inputs.add(value);
                            case "--output" -> o.outputs.add(value);
                            case "--target" -> o.target = value;
                            case "--save" -> o.save = value;
                            case "--steps" -> o.steps = positive(a, value);
                            case "--batch" -> o.batch = positive(a, value);
                            case "--log-every" -> o.logEvery = positive(a, value);
                            default -> o.threads = positive(a, value);
                        }
                    }
                    default -> throw new UsageError(a.startsWith("-") ? "unknown option '" + a + "'" : "unexpected argument '" + a
                            + "' (inputs are given with --input FILE.npy)");
                }
            }
            return o;
        }

        static int positive(String option, String value) {
            try {
                int v = Integer.parseInt(value);
                if (v > 0) return v;
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new UsageError(option + " expects a positive integer, got '" + value + "'");
        }
    }

    // ---- usage ---------------------------------------------------------------------------------

    static String usage(ExportedModel m, String jar, Class<?> entry) {
        StringBuilder s = new StringBuilder();
        boolean train = m.isTrainStep();
        String first = m.inputCount() == 1 ? "--input " + m.inputName(0) + ".npy" : m.inputNames().stream()
                .map(n -> "--input " + n + "=" + n + ".npy").reduce((a, b) -> a + " " + b).orElse("");
        if (train) {
            s.append("usage: java -jar ").append(jar).append(' ').append(m.inputCount() == 2
                    ? "--input " + m.inputName(0) + ".npy --target " + m.inputName(1) + ".npy" : first)
                    .append(" [--steps N] [--batch N] [--save FILE.safetensors]\n");
            s.append("Continues training the model in this jar on the samples given (axis 0 of each input), one batch per step,\n")
                    .append("printing the loss; --save writes the trained weights and optimizer state.\n");
        } else {
            s.append("usage: java -jar ").append(jar).append(' ').append(first).append(" [--output ")
                    .append(m.outputNames().size() == 1 ? "FILE.npy" : "NAME=FILE.npy ...").append("]\n");
            s.append("Runs the model in this jar on inputs from .npy files; writes each output given with --output,\n")
                    .append("or prints a summary of every output.\n");
        }
        s.append("\nmodel @").append(m.plan().name()).append(" (").append(entry.getName()).append(")\n");
        s.append("inputs:\n");
        for (int i = 0; i < m.inputCount(); i++)
            s.append(String.format("  %-16s %s%s%n", m.inputName(i), m.inputType(i), train && m.inputCount() == 2 && i == 1 ? "  (--target)" : ""));
        s.append("outputs:\n");
        for (int r = 0; r < m.outputNames().size(); r++) {
            s.append(String.format("  %-16s %s%s%n", m.outputNames().get(r), m.outputType(r), train && r == 0 ? "  (the loss)" : ""));
            if (train) break;
        }
        if (!m.plan().symbols().isEmpty())
            s.append(String.join(", ", m.plan().symbols())).append(m.plan().symbols().size() == 1 ? " is" : " are")
                    .append(" taken from the inputs' shapes: any size.\n");
        s.append("\noptions:\n");
        s.append("  --input [NAME=]FILE.npy   an input (by name, or the next one in order)\n");
        if (train) {
            s.append("  --target FILE.npy         the last input (the targets)\n");
            s.append("  --steps N                 training steps to run (default 1)\n");
            s.append("  --batch N                 samples per step (default: all)\n");
            s.append("  --log-every N             print the loss every N steps (default: about 10 lines)\n");
            s.append("  --save FILE.safetensors   write the weights and optimizer state after the last step\n");
        } else {
            s.append("  --output [NAME=]FILE.npy  write an output (by name, or the only one)\n");
        }
        s.append("  --threads N               worker threads (default: one per core)\n");
        s.append("  --profile                 print the time spent in each kernel\n");
        s.append("  --help                    this text\n");
        s.append(vectorNote(jar)).append('\n');
        return s.toString();
    }

    /// How the matrix kernels run here, and how to get the faster ones when they are not.
    static String vectorNote(String jar) {
        if (Gemm.kernelName().equals("vector")) return "Matrix products use the vector kernel (jdk.incubator.vector).";
        if (!runtimeHasVectorModule())
            return "Matrix products use the portable scalar kernel: this Java runtime lacks the jdk.incubator.vector module "
                    + "that the faster vector kernel needs (a full JDK has it; add it with --add-modules jdk.incubator.vector).";
        return "Matrix products use the portable scalar kernel; for the faster vector one (worth its start-up time on "
                + "large batches and long runs) run java --add-modules jdk.incubator.vector -jar " + jar + " ...";
    }

    /// Whether this Java runtime image contains jdk.incubator.vector (resolved or not), read from
    /// its `release` file: scanning the image with ModuleFinder costs a fifth of a second.
    static boolean runtimeHasVectorModule() {
        try {
            for (String line : Files.readAllLines(Path.of(System.getProperty("java.home"), "release")))
                if (line.startsWith("MODULES=")) return line.contains("jdk.incubator.vector");
        } catch (java.io.IOException | RuntimeException e) {
            // no release file: assume a full JDK
        }
        return true;
    }

    // ---- inputs ------------------------------------------------------------------------------

    /// The input arrays in order, with the file each came from. Named inputs (`NAME=FILE`) go
    /// where named, unnamed ones fill the remaining inputs in order; `--target` is the last.
    private static List<NdArray> readInputs(ExportedModel m, Options o, List<String> origins) {
        int n = m.inputCount();
        String[] files = new String[n];
        List<String> specs = new ArrayList<>(o.inputs);
        List<String> unnamed = new ArrayList<>();
        for (String spec : specs) {
            int eq = spec.indexOf('=');
            if (eq > 0 && !spec.substring(0, eq).contains("/")) {
                String name = spec.substring(0, eq);
                int i = m.inputNames().indexOf(name);
                if (i < 0) throw new UsageError("the model has no input '" + name + "' (its inputs: " + String.join(", ", m.inputNames()) + ")");
                if (files[i] != null) throw new UsageError("input '" + name + "' is given twice");
                files[i] = spec.substring(eq + 1);
            } else unnamed.add(spec);
        }
        if (o.target != null) {
            if (n < 2) throw new UsageError("--target: the model has no target input (its inputs: " + String.join(", ", m.inputNames()) + ")");
            if (files[n - 1] != null) throw new UsageError("input '" + m.inputName(n - 1) + "' is given twice (--target names it too)");
            files[n - 1] = o.target;
        }
        for (String f : unnamed) {
            int i = 0;
            while (i < n && files[i] != null) i++;
            if (i == n) throw new UsageError("too many inputs: the model takes " + n + " (" + String.join(", ", m.inputNames()) + ")");
            files[i] = f;
        }
        List<NdArray> arrays = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (files[i] == null)
                throw new IllegalArgumentException("missing input '" + m.inputName(i) + "' (" + m.inputType(i) + "); give it with --input "
                        + (n == 1 ? "" : m.inputName(i) + "=") + "FILE.npy");
            Path p = Path.of(files[i]);
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("input '" + m.inputName(i) + "': no such file: " + files[i]);
            arrays.add(Npy.read(p));
            origins.add(files[i]);
        }
        return arrays;
    }

    // ---- inference -----------------------------------------------------------------------------

    private static void infer(ExportedModel m, Options o, String jar, PrintWriter out, PrintWriter err) {
        if (o.target != null || o.save != null || o.batch > 0 || o.logEvery > 0 || o.steps != 1)
            throw new UsageError("--target, --save, --steps, --batch and --log-every are for training-step jars; this jar runs a model");
        Map<String, Path> outputs = new LinkedHashMap<>();
        List<String> names = m.outputNames();
        for (String spec : o.outputs) {
            int eq = spec.indexOf('=');
            String name;
            String file;
            if (eq > 0 && !spec.substring(0, eq).contains("/")) {
                name = spec.substring(0, eq);
                file = spec.substring(eq + 1);
                if (!names.contains(name))
                    throw new UsageError("the model has no output '" + name + "' (its outputs: " + String.join(", ", names) + ")");
            } else {
                if (names.size() != 1)
                    throw new UsageError("the model has " + names.size() + " outputs (" + String.join(", ", names)
                            + "); name the one to write with --output NAME=FILE.npy");
                name = names.getFirst();
                file = spec;
            }
            if (outputs.put(name, Path.of(file)) != null) throw new UsageError("output '" + name + "' is given twice");
        }
        List<String> origins = new ArrayList<>();
        List<NdArray> in = readInputs(m, o, origins);
        m.check(in, origins);
        if (m.plan().tasks().stream().anyMatch(t -> t.kind() == Plan.TaskKind.CALL) && !Gemm.kernelName().equals("vector"))
            err.println("note: " + vectorNote(jar));
        if (o.profile) m.executable().enableProfile();
        List<NdArray> results = m.run(in);
        for (int r = 0; r < results.size(); r++) {
            Path p = outputs.get(names.get(r));
            if (p != null) {
                Npy.write(p, results.get(r));
                out.println("wrote " + names.get(r) + " " + ExportedModel.describe(results.get(r)) + " to " + p);
            } else if (outputs.isEmpty()) {
                out.println(names.get(r) + ": " + summary(results.get(r)));
            }
        }
        if (o.profile) out.print(m.executable().profile().table());
    }

    // ---- training ------------------------------------------------------------------------------

    private static void train(ExportedModel m, Options o, String jar, PrintWriter out, PrintWriter err) {
        if (!o.outputs.isEmpty()) throw new UsageError("--output is for model jars; a training-step jar saves with --save FILE.safetensors");
        List<String> origins = new ArrayList<>();
        List<NdArray> data = readInputs(m, o, origins);
        int samples = -1;
        for (int i = 0; i < data.size(); i++) {
            if (data.get(i).rank() == 0) throw new IllegalArgumentException("input '" + m.inputName(i) + "' (" + origins.get(i)
                    + ") is a scalar; training data needs samples along axis 0 (expected " + m.inputType(i) + ")");
            int s = data.get(i).dim(0);
            if (samples >= 0 && s != samples)
                throw new IllegalArgumentException("inputs disagree on the number of samples (axis 0): '" + m.inputName(0) + "' has "
                        + samples + ", '" + m.inputName(i) + "' (" + origins.get(i) + ") has " + s);
            samples = s;
        }
        if (samples == 0) throw new IllegalArgumentException("the training data has no samples");
        int batch = o.batch > 0 ? Math.min(o.batch, samples) : samples;
        int batches = (samples + batch - 1) / batch;
        // the first batch is checked before anything runs, so a bad file fails at once
        m.check(slice(data, 0, batch), origins);
        if (m.plan().tasks().stream().anyMatch(t -> t.kind() == Plan.TaskKind.CALL) && !Gemm.kernelName().equals("vector"))
            err.println("note: " + vectorNote(jar));
        if (o.profile) m.executable().enableProfile();
        int every = o.logEvery > 0 ? o.logEvery : Math.max(1, o.steps / 10);
        for (int s = 0; s < o.steps; s++) {
            int b = s % batches, lo = b * batch, hi = Math.min(samples, lo + batch);
            List<NdArray> in = lo == 0 && hi == samples ? data : slice(data, lo, hi);
            List<NdArray> r = m.step(in);
            if ((s + 1) % every == 0 || s == 0 || s == o.steps - 1)
                out.println(String.format(Locale.ROOT, "step %d  loss %.6g", m.stepCount(), r.getFirst().getDouble(0)));
        }
        if (o.profile) out.print(m.executable().profile().table());
        if (o.save != null) {
            m.save(Path.of(o.save));
            out.println("saved " + m.state().size() + " tensors to " + o.save);
        }
    }

    /// `f32[2,10] [0.117569, -0.245691, ...]`: the type and the first values, six significant digits.
    static String summary(NdArray a) {
        StringBuilder s = new StringBuilder(ExportedModel.describe(a)).append(" [");
        int n = a.size(), shown = Math.min(n, 8);
        for (int i = 0; i < shown; i++) {
            if (i > 0) s.append(", ");
            switch (a.dtype()) {
                case BOOL -> s.append(a.getBool(i));
                case I32, I64 -> s.append(a.getLong(i));
                default -> s.append(number(a.getDouble(i)));
            }
        }
        return s.append(n > shown ? ", ...]" : "]").toString();
    }

    static String number(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v) || v == 0) return v == 0 ? "0" : Double.toString(v);
        BigDecimal d = new BigDecimal(v).round(new MathContext(6)).stripTrailingZeros();
        double m = Math.abs(v);
        return m >= 1e-4 && m < 1e7 ? d.toPlainString() : d.toString();
    }

    /// Rows `[lo, hi)` along axis 0 of each array.
    static List<NdArray> slice(List<NdArray> arrays, int lo, int hi) {
        List<NdArray> out = new ArrayList<>();
        for (NdArray a : arrays) {
            int[] shape = a.shape();
            int row = shape[0] == 0 ? 0 : a.size() / shape[0];
            shape[0] = hi - lo;
            NdArray s = NdArray.zeros(a.dtype(), shape);
            System.arraycopy(a.data(), lo * row, s.data(), 0, (hi - lo) * row);
            out.add(s);
        }
        return out;
    }
}
