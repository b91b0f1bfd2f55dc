package dev.kiln.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

import picocli.CommandLine.IVersionProvider;

/// The version Kiln was built as, read from `version.properties`, which the build writes from
/// the pom (resource filtering), so it holds in tests as well as in the jar. Invariant: never
/// null; `unknown` only if the resource is missing, which is a broken build.
public final class KilnVersion implements IVersionProvider {

    /// `0.1.0-SNAPSHOT` and the like.
    public static String version() {
        try (InputStream in = KilnVersion.class.getResourceAsStream("version.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /// The Java that runs Kiln: version, vendor and home, since a wrong JDK is the usual
    /// suspect when a build or a run misbehaves.
    public static String javaLine() {
        return "java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ", "
                + System.getProperty("java.home") + ")";
    }

    @Override public String[] getVersion() {
        return new String[] {"kiln " + version(), javaLine()};
    }
}
