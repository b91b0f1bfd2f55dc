package dev.kiln.codegen.cuda;

import jcuda.nvptxcompiler.JNvPTXCompiler;
import jcuda.nvptxcompiler.nvPTXCompilerHandle;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/// Compiles PTX to machine code without a GPU, to check it and to report each kernel's
/// resources: NVIDIA's PTX compiler library as shipped in `jcuda-natives`
/// (`JNvPTXCompiler`, statically linked, any x86-64 Linux), or, when that library cannot be
/// loaded, the `ptxas` program if one is on the PATH or at `/usr/local/bin/ptxas`.
/// Invariant: `compile` returns only for PTX that compiled; otherwise it throws
/// `PtxException` carrying the compiler's log.
public final class PtxCompiler {
    private PtxCompiler() {}

    /// What compiling one entry took: registers per thread, static shared memory, spills.
    public record Resources(String entry, int registers, int sharedBytes, int spillStores, int spillLoads, int stackBytes) {
        @Override public String toString() {
            return String.format("%-40s %3d regs %6d B smem %4d B spill st %4d B spill ld %4d B stack", entry, registers, sharedBytes,
                    spillStores, spillLoads, stackBytes);
        }
    }

    /// The result of compiling a module: the cubin, the info log, and per-entry resources.
    public record Result(String arch, String tool, byte[] cubin, String infoLog, Map<String, Resources> resources) {}

    public static final class PtxException extends RuntimeException {
        public PtxException(String message) { super(message); }
    }

    private static volatile String libraryProblem;
    private static volatile boolean probed;

    /// Which compiler `compile` uses: `"JNvPTXCompiler"` or a path to `ptxas`, or null when
    /// neither is there (with the reason in `problem()`).
    public static String tool() {
        if (!probed) probe();
        if (libraryProblem == null) return "JNvPTXCompiler";
        Path ptxas = ptxas();
        return ptxas == null ? null : ptxas.toString();
    }

    public static String problem() {
        if (!probed) probe();
        return libraryProblem;
    }

    private static synchronized void probe() {
        if (probed) return;
        try {
            JNvPTXCompiler.setExceptionsEnabled(false);
            int[] major = new int[1], minor = new int[1];
            int rc = JNvPTXCompiler.nvPTXCompilerGetVersion(major, minor);
            libraryProblem = rc == 0 ? null : "nvPTXCompilerGetVersion returned " + rc;
        } catch (Throwable t) { // UnsatisfiedLinkError and friends: say what, not where
            libraryProblem = "the PTX compiler library did not load: " + t.getClass().getSimpleName() + ": " + firstLine(t.getMessage());
        }
        probed = true;
    }

    static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    static Path ptxas() {
        String path = System.getenv("PATH");
        List<Path> candidates = new ArrayList<>();
        if (path != null) for (String dir : path.split(":")) if (!dir.isEmpty()) candidates.add(Path.of(dir, "ptxas"));
        candidates.add(Path.of("/usr/local/bin/ptxas"));
        candidates.add(Path.of("/usr/local/cuda/bin/ptxas"));
        for (Path p : candidates) if (Files.isExecutable(p)) return p;
        return null;
    }

    /// Compiles `ptx` for `arch` (`sm_80`, `sm_90`).
    public static Result compile(String ptx, String arch) {
        String tool = tool();
        if (tool == null) throw new PtxException("no PTX compiler: " + libraryProblem + ", and no ptxas on the PATH");
        return tool.equals("JNvPTXCompiler") ? withLibrary(ptx, arch) : withPtxas(Path.of(tool), ptx, arch);
    }

    private static Result withLibrary(String ptx, String arch) {
        byte[] text = ptx.getBytes(StandardCharsets.UTF_8);
        byte[] z = java.util.Arrays.copyOf(text, text.length + 1);
        nvPTXCompilerHandle h = new nvPTXCompilerHandle();
        int rc = JNvPTXCompiler.nvPTXCompilerCreate(h, text.length, z);
        if (rc != 0) throw new PtxException("nvPTXCompilerCreate failed (" + rc + ")");
        try {
            rc = JNvPTXCompiler.nvPTXCompilerCompile(h, 2, new String[]{"--gpu-name=" + arch, "--verbose"});
            String info = log(h, true), error = log(h, false);
            if (rc != 0)
                throw new PtxException("PTX compilation for " + arch + " failed (" + jcuda.nvptxcompiler.nvPTXCompileResult.stringFor(rc) + "):\n" + error);
            long[] size = new long[1];
            JNvPTXCompiler.nvPTXCompilerGetCompiledProgramSize(h, size);
            byte[] cubin = new byte[(int) size[0]];
            JNvPTXCompiler.nvPTXCompilerGetCompiledProgram(h, cubin);
            return new Result(arch, "JNvPTXCompiler", cubin, info, parse(info));
        } finally {
            JNvPTXCompiler.nvPTXCompilerDestroy(h);
        }
    }

    private static String log(nvPTXCompilerHandle h, boolean info) {
        long[] size = new long[1];
        if (info) JNvPTXCompiler.nvPTXCompilerGetInfoLogSize(h, size);
        else JNvPTXCompiler.nvPTXCompilerGetErrorLogSize(h, size);
        if (size[0] <= 0) return "";
        byte[] b = new byte[(int) size[0] + 1];
        if (info) JNvPTXCompiler.nvPTXCompilerGetInfoLog(h, b);
        else JNvPTXCompiler.nvPTXCompilerGetErrorLog(h, b);
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    static Result withPtxas(Path ptxas, String ptx, String arch) {
        try {
            Path dir = Files.createTempDirectory("kiln-ptx");
            try {
                Path in = dir.resolve("m.ptx"), out = dir.resolve("m.cubin");
                Files.writeString(in, ptx);
                Process p = new ProcessBuilder(ptxas.toString(), "--gpu-name=" + arch, "--verbose", "-o", out.toString(), in.toString())
                        .redirectErrorStream(true).start();
                String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(120, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new PtxException("ptxas did not finish in 120 s");
                }
                if (p.exitValue() != 0) throw new PtxException("ptxas for " + arch + " failed:\n" + log);
                return new Result(arch, ptxas.toString(), Files.readAllBytes(out), log, parse(log));
            } finally {
                try (var files = Files.list(dir)) {
                    for (Path f : files.toList()) Files.deleteIfExists(f);
                }
                Files.deleteIfExists(dir);
            }
        } catch (IOException e) {
            throw new PtxException("ptxas could not run: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PtxException("interrupted while ptxas ran");
        }
    }

    private static final Pattern FUNCTION = Pattern.compile("Compiling entry function '([^']+)'");
    private static final Pattern SPILL = Pattern.compile("(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads");
    private static final Pattern USED = Pattern.compile("Used (\\d+) registers(?:.*?(\\d+) bytes smem)?");

    /// Per-entry resources from ptxas's `--verbose` lines.
    static Map<String, Resources> parse(String log) {
        Map<String, Resources> out = new LinkedHashMap<>();
        String entry = null;
        int stack = 0, st = 0, ld = 0;
        for (String line : log.split("\n")) {
            Matcher m = FUNCTION.matcher(line);
            if (m.find()) { entry = m.group(1); stack = st = ld = 0; continue; }
            m = SPILL.matcher(line);
            if (m.find()) {
                stack = Integer.parseInt(m.group(1));
                st = Integer.parseInt(m.group(2));
                ld = Integer.parseInt(m.group(3));
                continue;
            }
            m = USED.matcher(line);
            if (m.find() && entry != null) {
                int smem = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
                out.put(entry, new Resources(entry, Integer.parseInt(m.group(1)), smem, st, ld, stack));
            }
        }
        return out;
    }
}
