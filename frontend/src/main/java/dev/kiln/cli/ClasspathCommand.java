package dev.kiln.cli;

import java.io.PrintWriter;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/// `kiln classpath`: the class path Kiln runs with — every module jar and every dependency —
/// as one line, so that `java -cp "$(./kiln classpath)" MyModel.java` compiles and runs a
/// model against this build. Invariant: it is the class path of this very JVM, which the
/// `kiln` launcher sets from `frontend/target/classpath.txt`.
@Command(name = "classpath",
        description = "Print the class path of Kiln (module jars and dependencies), for java -cp.")
final class ClasspathCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override public void run() {
        PrintWriter out = spec.commandLine().getOut();
        out.println(System.getProperty("java.class.path"));
        out.flush();
    }
}
