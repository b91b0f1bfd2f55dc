package dev.kiln.codegen.jvm.jar;

import dev.kiln.codegen.jvm.rt.Plan;
import dev.kiln.runtime.NdArray;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/// The class files a standalone jar needs besides its own: Kiln's `runtime` module
/// (`dev/kiln/runtime/`) and the kernel runtime (`dev/kiln/codegen/jvm/rt/`), read from wherever
/// this JVM loaded them (a build directory or a jar). Invariant: only class files under those two
/// package folders, keyed by their path in a jar.
final class RuntimeClasses {
    private RuntimeClasses() {}

    static final String RUNTIME = "dev/kiln/runtime/", KERNELS = "dev/kiln/codegen/jvm/rt/";

    private static Map<String, byte[]> cached;

    static synchronized Map<String, byte[]> collect() {
        if (cached == null) {
            Map<String, byte[]> out = new TreeMap<>();
            read(NdArray.class, RUNTIME, out);
            read(Plan.class, KERNELS, out);
            cached = Collections.unmodifiableMap(out);
        }
        return cached;
    }

    private static void read(Class<?> anchor, String prefix, Map<String, byte[]> out) {
        Path where;
        try {
            var source = anchor.getProtectionDomain().getCodeSource();
            if (source == null) throw new IllegalStateException("cannot tell where " + anchor.getName() + " was loaded from");
            where = Path.of(source.getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot tell where " + anchor.getName() + " was loaded from: " + e.getMessage(), e);
        }
        try {
            if (Files.isDirectory(where)) {
                Path dir = where.resolve(prefix);
                try (Stream<Path> files = Files.walk(dir)) {
                    for (Path f : files.filter(f -> f.toString().endsWith(".class")).toList())
                        out.put(prefix + dir.relativize(f).toString().replace('\\', '/'), Files.readAllBytes(f));
                }
            } else {
                try (JarFile jar = new JarFile(where.toFile())) {
                    for (JarEntry e : java.util.Collections.list(jar.entries()))
                        if (e.getName().startsWith(prefix) && e.getName().endsWith(".class"))
                            out.put(e.getName(), jar.getInputStream(e).readAllBytes());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Kiln's runtime classes from " + where + ": " + e.getMessage(), e);
        }
        if (out.keySet().stream().noneMatch(k -> k.startsWith(prefix)))
            throw new IllegalStateException("no classes under " + prefix + " in " + where);
    }
}
