package dev.kiln.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;
import dev.kiln.runtime.Rng;
import dev.kiln.runtime.SafeTensors;
import dev.kiln.runtime.TensorFileException;

/// The inputs of one `kiln ir run`: arrays read from `.npy` files or a `.safetensors` file by
/// parameter name (see `Sources`), the rest drawn at random when asked. Every one is checked
/// against its parameter's type before anything runs, so that a bad input is reported as what
/// was expected and what was given, naming the parameter and the file.
///
/// Random inputs (`--random-inputs`): element `i` of parameter number `p` is a pure function
/// of `(seed, p, i)` (the counter-based `Rng` of `random_uniform`): floats uniform in [-1, 1),
/// integers uniform in [0, 10), bools true with probability 1/2. Dimension symbols take their
/// size from `--dim` or from the arrays given.
///
/// Invariant: `arrays` holds one array per parameter, in parameter order, each of the
/// parameter's dtype and of its shape with the symbols bound as in `symbols`.
record Inputs(List<NdArray> arrays, Map<String, Integer> symbols, List<String> randomParams) {
    /// Integers drawn for random inputs lie in [0, INT_RANGE): small enough to be class indices.
    static final int INT_RANGE = 10;

    /// Where inputs come from, in order of precedence: `files` (parameter name -> .npy file, from
    /// `--input`), the tensors of `weights` (a .safetensors file, by parameter name), then
    /// `dir/<name>.npy` for each parameter that has such a file. Any of them may be empty/null.
    record Sources(Map<String, Path> files, Path weights, Path dir) {
        Sources {
            files = Map.copyOf(files);
        }
    }

    /// Binds the parameters of `g` from `sources`, `dims` (symbol -> size) and, with `random`,
    /// random values for the parameters left over. Throws CliException on the first problem.
    static Inputs bind(Graph g, Sources sources, Map<String, Integer> dims, boolean random, long seed) {
        List<String> names = g.paramNames();
        for (String n : sources.files().keySet())
            if (!names.contains(n))
                throw new CliException("graph @" + g.name() + " has no parameter %" + n + Suggest.nearest(n, names, "%")
                        + " (its parameters: " + String.join(", ", names.stream().map(s -> "%" + s).toList()) + ")");
        Set<String> symbols = symbols(g);
        Map<String, Integer> bound = new LinkedHashMap<>();
        Map<String, String> boundBy = new LinkedHashMap<>();
        for (var e : dims.entrySet()) {
            if (!symbols.contains(e.getKey()))
                throw new CliException("--dim " + e.getKey() + "=" + e.getValue() + ": graph @" + g.name()
                        + " has no dimension symbol " + e.getKey()
                        + (symbols.isEmpty() ? " (its shapes are all fixed)" : " (it has " + String.join(", ", symbols) + ")"));
            bound.put(e.getKey(), e.getValue());
            boundBy.put(e.getKey(), "--dim " + e.getKey() + "=" + e.getValue());
        }
        Map<String, NdArray> weights = Map.of();
        if (sources.weights() != null) {
            try {
                weights = SafeTensors.read(sources.weights());
            } catch (TensorFileException e) {
                throw new CliException("--weights: " + e.getMessage());
            }
            if (names.stream().noneMatch(weights::containsKey))
                throw new CliException(sources.weights() + " has no tensor named after a parameter of @" + g.name()
                        + " (its tensors: " + String.join(", ", weights.keySet().stream().limit(8).toList())
                        + (weights.size() > 8 ? ", ..." : "") + ")");
        }

        NdArray[] arrays = new NdArray[names.size()];
        List<Integer> missing = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            Path file = sources.files().get(name);
            if (file == null && !weights.containsKey(name) && sources.dir() != null) {
                Path candidate = sources.dir().resolve(name + ".npy");
                if (Files.isRegularFile(candidate)) file = candidate;
            }
            NdArray a;
            String origin;
            if (file != null) {
                origin = file.toString();
                try {
                    a = Npy.read(file);
                } catch (TensorFileException e) {
                    throw new CliException("input %" + name + ": " + e.getMessage());
                }
            } else if (weights.containsKey(name)) {
                origin = sources.weights() + " tensor '" + name + "'";
                a = weights.get(name);
            } else {
                missing.add(i);
                continue;
            }
            check(g.params().get(i), a, origin, bound, boundBy);
            arrays[i] = a;
        }

        List<String> randomParams = new ArrayList<>();
        if (!missing.isEmpty() && !random) {
            List<String> what = missing.stream().map(i -> "%" + names.get(i) + " (" + g.params().get(i).type() + ")").toList();
            throw new CliException("no input for " + String.join(", ", what) + "; give --input NAME=FILE.npy for "
                    + (what.size() == 1 ? "it" : "each") + ", or --random-inputs");
        }
        for (int i : missing) {
            Value p = g.params().get(i);
            arrays[i] = random(p.type(), resolve(p, bound), seed, i);
            randomParams.add(names.get(i));
        }
        return new Inputs(List.of(arrays), Map.copyOf(bound), List.copyOf(randomParams));
    }

    /// Every dimension symbol in the parameter types, in order of first appearance.
    static Set<String> symbols(Graph g) {
        Set<String> out = new LinkedHashSet<>();
        for (Value p : g.params())
            for (Dim d : p.type().shape().dims()) if (d instanceof Dim.Sym(String s)) out.add(s);
        return out;
    }

    /// Checks that `a` fits parameter `p`, binding the symbols it fixes.
    private static void check(Value p, NdArray a, String origin, Map<String, Integer> bound, Map<String, String> boundBy) {
        TensorType t = p.type();
        String given = a.dtype().text() + Arrays.toString(a.shape()).replace(" ", "");
        String what = "input %" + name(p) + " (" + origin + ") is " + given + ", expected " + t;
        if (a.dtype() != t.dtype()) throw new CliException(what + " (dtype " + a.dtype().text() + " instead of " + t.dtype().text() + ")");
        if (a.rank() != t.rank()) throw new CliException(what + " (rank " + a.rank() + " instead of " + t.rank() + ")");
        for (int d = 0; d < t.rank(); d++) {
            switch (t.dim(d)) {
                case Dim.Fixed(long size) -> {
                    if (a.dim(d) != size) throw new CliException(what + " (axis " + d + " is " + a.dim(d) + ", not " + size + ")");
                }
                case Dim.Sym(String s) -> {
                    Integer old = bound.get(s);
                    if (old == null) {
                        bound.put(s, a.dim(d));
                        boundBy.put(s, "%" + name(p));
                    } else if (old != a.dim(d)) {
                        throw new CliException(what + " with " + s + " = " + old + " (from " + boundBy.get(s) + "), but its axis "
                                + d + " is " + a.dim(d));
                    }
                }
            }
        }
    }

    private static int[] resolve(Value p, Map<String, Integer> bound) {
        TensorType t = p.type();
        int[] shape = new int[t.rank()];
        for (int d = 0; d < shape.length; d++) {
            switch (t.dim(d)) {
                case Dim.Fixed(long size) -> shape[d] = Math.toIntExact(size);
                case Dim.Sym(String s) -> {
                    Integer v = bound.get(s);
                    if (v == null)
                        throw new CliException("random input %" + name(p) + " (" + t + ") needs the size of " + s + "; give it with --dim "
                                + s + "=N");
                    shape[d] = v;
                }
            }
        }
        return shape;
    }

    /// The random array of parameter number `index`; see the class comment.
    static NdArray random(TensorType t, int[] shape, long seed, int index) {
        NdArray a;
        try {
            a = NdArray.zeros(t.dtype(), shape);
        } catch (IllegalArgumentException e) {
            throw new CliException("random input of type " + t + ": " + e.getMessage());
        }
        long stream = Rng.mix(seed) + index;
        for (int i = 0; i < a.size(); i++) {
            double u = Rng.uniform(stream, i);
            switch (t.dtype()) {
                case BOOL -> a.setBool(i, u < 0.5);
                case I32, I64 -> a.setLong(i, (long) (u * INT_RANGE));
                case F16, BF16, F32, F64 -> a.setDouble(i, 2 * u - 1);
            }
        }
        return a;
    }

    private static String name(Value p) { return ((Op.Param) p.op()).name(); }

    /// The `--dim SYM=N` options as a map (N a size >= 0, each symbol once); a malformed one is a
    /// usage error of `commandLine`.
    static Map<String, Integer> parseDims(picocli.CommandLine commandLine, List<String> dims) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (String s : dims) {
            int eq = s.indexOf('=');
            int size = -1;
            if (eq > 0) {
                try {
                    size = Integer.parseInt(s.substring(eq + 1).strip());
                } catch (NumberFormatException e) {
                    size = -1;
                }
            }
            if (size < 0) throw new picocli.CommandLine.ParameterException(commandLine, "--dim expects SYM=N with N a size >= 0, got '" + s + "'");
            if (out.put(s.substring(0, eq).strip(), size) != null)
                throw new picocli.CommandLine.ParameterException(commandLine, "--dim " + s.substring(0, eq).strip() + " is given twice");
        }
        return out;
    }
}
