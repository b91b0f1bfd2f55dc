package dev.kiln.codegen.jvm.jar;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.codegen.jvm.rt.Plan;

import javax.lang.model.SourceVersion;
import javax.lang.model.element.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/// The Java source of a jar's entry class: a typed front for one exported graph. A model gets
/// `run(...)` with one `NdArray` parameter per input (named after it) returning the output, or
/// a record of the outputs when there are several; a training step gets `step(...)` returning
/// the loss, `state()` and `save(Path)`. Both get `load()`, a by-name `run`/`step`, `model()`,
/// and `main`, the jar's command line. The javadoc lists every input and output with its type.
/// Invariant: the source only refers to the runtime, the kernel runtime and the kernels class.
final class EntrySource {
    private EntrySource() {}

    private static final ClassName ND = ClassName.get("dev.kiln.runtime", "NdArray");
    private static final ClassName MODEL = ClassName.get("dev.kiln.codegen.jvm.rt", "ExportedModel");
    private static final ClassName POOL = ClassName.get("dev.kiln.codegen.jvm.rt", "Pool");
    private static final ClassName MAIN = ClassName.get("dev.kiln.codegen.jvm.rt", "JarMain");
    private static final ClassName LIST = ClassName.get("java.util", "List");
    private static final ClassName MAP = ClassName.get("java.util", "Map");
    private static final ClassName WRITER = ClassName.get("java.io", "PrintWriter");
    private static final ClassName PATH = ClassName.get("java.nio.file", "Path");

    /// `jarName` is the file name the jar is written under, for the javadoc's example.
    static String generate(String fqn, Plan plan, boolean train, String jarName) {
        String pkg = fqn.substring(0, fqn.lastIndexOf('.')), simple = fqn.substring(fqn.lastIndexOf('.') + 1);
        ClassName self = ClassName.get(pkg, simple), kernels = ClassName.get(pkg, simple + "Kernels");
        List<Plan.Param> inputs = plan.params().stream().filter(p -> p.role() == Plan.Role.INPUT).toList();
        List<String> inputIds = identifiers(inputs.stream().map(Plan.Param::name).toList(), Set.of("model"));
        List<String> outputIds = identifiers(plan.results().stream().map(Plan.Result::name).toList(), Set.of());
        TypeName strToNd = ParameterizedTypeName.get(MAP, ClassName.get(String.class), ND);

        TypeSpec.Builder type = TypeSpec.classBuilder(self).addModifiers(Modifier.PUBLIC, Modifier.FINAL)
                .addJavadoc(classDoc(plan, simple, inputs, train, jarName));
        type.addField(MODEL, "model", Modifier.PRIVATE, Modifier.FINAL);
        type.addMethod(MethodSpec.constructorBuilder().addModifiers(Modifier.PRIVATE).addParameter(MODEL, "model")
                .addStatement("this.model = model").build());
        type.addMethod(MethodSpec.methodBuilder("load").addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
                .addJavadoc("Loads the model and its stored tensors from this jar; parallel loops use the shared pool (one thread per core).\n")
                .addStatement("return new $T(open($T.shared()))", self, POOL).build());
        type.addMethod(MethodSpec.methodBuilder("load").addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(self)
                .addParameter(POOL, "pool")
                .addJavadoc("Loads the model and its stored tensors from this jar; parallel loops run on {@code pool}.\n")
                .addStatement("return new $T(open(pool))", self).build());
        type.addMethod(MethodSpec.methodBuilder("open").addModifiers(Modifier.PRIVATE, Modifier.STATIC).returns(MODEL)
                .addParameter(POOL, "pool")
                .addStatement("return $T.load($T.class, $S, new $T(), pool)", MODEL, self, simple, kernels).build());

        CodeBlock argList = CodeBlock.of("$T.of($L)", LIST, String.join(", ", inputIds));
        List<ParameterSpec> params = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) params.add(ParameterSpec.builder(ND, inputIds.get(i)).build());
        CodeBlock paramDocs = paramDocs(plan, inputs, inputIds);

        if (!train) {
            MethodSpec.Builder run = MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC).addParameters(params)
                    .addJavadoc("Runs the model on one set of inputs.\n\n").addJavadoc(paramDocs);
            if (plan.results().size() == 1) {
                run.returns(ND).addJavadoc("@return <code>$L</code>: <code>$L</code>\n", html(plan.results().getFirst().name()), plan.resultType(0))
                        .addStatement("return model.run($L).get(0)", argList);
            } else {
                ClassName outputs = self.nestedClass("Outputs");
                TypeSpec.Builder rec = TypeSpec.recordBuilder(outputs).addModifiers(Modifier.PUBLIC)
                        .addJavadoc("The outputs of one run, in the graph's result order.\n\n");
                MethodSpec.Builder ctor = MethodSpec.constructorBuilder();
                for (int r = 0; r < plan.results().size(); r++) {
                    ctor.addParameter(ND, outputIds.get(r));
                    rec.addJavadoc("@param $L <code>$L</code>: <code>$L</code>\n", outputIds.get(r), html(plan.results().get(r).name()),
                            plan.resultType(r));
                }
                type.addType(rec.recordConstructor(ctor.build()).build());
                List<String> gets = new ArrayList<>();
                for (int r = 0; r < plan.results().size(); r++) gets.add("r.get(" + r + ")");
                run.returns(outputs).addJavadoc("@return every output\n")
                        .addStatement("$T<$T> r = model.run($L)", LIST, ND, argList)
                        .addStatement("return new $T($L)", outputs, String.join(", ", gets));
            }
            run.addJavadoc("@throws IllegalArgumentException when an input's dtype or shape does not fit (the message names it)\n");
            type.addMethod(run.build());
            type.addMethod(MethodSpec.methodBuilder("run").addModifiers(Modifier.PUBLIC).returns(strToNd).addParameter(strToNd, "inputs")
                    .addJavadoc("Runs the model on inputs given by name; returns the outputs by name.\n")
                    .addStatement("return model.run(inputs)").build());
        } else {
            type.addMethod(MethodSpec.methodBuilder("step").addModifiers(Modifier.PUBLIC).returns(double.class).addParameters(params)
                    .addJavadoc("One training step on a batch: forward, loss, backward and the optimizer's update, after which the\n"
                            + "stored weights and optimizer state are the updated ones.\n\n")
                    .addJavadoc(paramDocs).addJavadoc("@return the loss on this batch, before the update\n")
                    .addJavadoc("@throws IllegalArgumentException when an input's dtype or shape does not fit (the message names it)\n")
                    .addStatement("return model.step($L).get(0).getDouble(0)", argList).build());
            type.addMethod(MethodSpec.methodBuilder("state").addModifiers(Modifier.PUBLIC).returns(strToNd)
                    .addJavadoc("The weights and optimizer state now, by name (a state dict).\n")
                    .addStatement("return model.state()").build());
            type.addMethod(MethodSpec.methodBuilder("save").addModifiers(Modifier.PUBLIC).addParameter(PATH, "file")
                    .addJavadoc("Writes {@link #state()} to a safetensors file.\n")
                    .addStatement("model.save(file)").build());
            type.addMethod(MethodSpec.methodBuilder("stepCount").addModifiers(Modifier.PUBLIC).returns(long.class)
                    .addJavadoc("Steps taken so far, counting those before the export.\n")
                    .addStatement("return model.stepCount()").build());
        }
        type.addMethod(MethodSpec.methodBuilder("model").addModifiers(Modifier.PUBLIC).returns(MODEL)
                .addJavadoc("The loaded model: its plan (names, types, kernels), the untyped {@code run}/{@code step}, profiling.\n")
                .addStatement("return model").build());
        type.addMethod(MethodSpec.methodBuilder("main").addModifiers(Modifier.PUBLIC, Modifier.STATIC)
                .addParameter(String[].class, "args")
                .addJavadoc("{@code java -jar}: run with {@code --help} for the usage.\n")
                .addStatement("$T out = new $T(System.out, true), err = new $T(System.err, true)", WRITER, WRITER, WRITER)
                .addStatement("int code = cli(args, out, err)")
                .beginControlFlow("if (code != 0)").addStatement("System.exit(code)").endControlFlow().build());
        type.addMethod(MethodSpec.methodBuilder("cli").addModifiers(Modifier.PUBLIC, Modifier.STATIC).returns(int.class)
                .addParameter(String[].class, "args").addParameter(WRITER, "out").addParameter(WRITER, "err")
                .addJavadoc("The command line, writing to {@code out} and {@code err}; returns the exit code (0: success).\n")
                .addStatement("return $T.run($T::open, $T.class, args, out, err)", MAIN, self, self).build());

        return JavaFile.builder(pkg, type.build()).skipJavaLangImports(true).indent("    ")
                .addFileComment("Generated by Kiln from graph @$L. Compiled into this jar; edits here change nothing.", plan.name())
                .build().toString();
    }

    private static CodeBlock classDoc(Plan plan, String simple, List<Plan.Param> inputs, boolean train, String jarName) {
        CodeBlock.Builder d = CodeBlock.builder();
        d.add(train ? "A training step of the graph <code>@$L</code>, compiled ahead of time by Kiln: forward, loss,\n"
                + "backward and the optimizer's update, continuing from the weights and optimizer state stored in this jar.\n"
                : "The graph <code>@$L</code>, compiled ahead of time by Kiln into this jar with its weights.\n", html(plan.name()));
        d.add("\n<p>Inputs:\n<ul>\n");
        for (Plan.Param p : inputs)
            d.add("  <li><code>$L</code>: <code>$L</code></li>\n", html(p.name()), plan.typeText(p.dtype(), p.dims()));
        d.add("</ul>\n<p>Outputs:\n<ul>\n");
        for (int r = 0; r < plan.results().size(); r++) {
            if (train && r > 0) break;
            d.add("  <li><code>$L</code>: <code>$L</code></li>\n", html(plan.results().get(r).name()), plan.resultType(r));
        }
        d.add("</ul>\n");
        if (!plan.symbols().isEmpty())
            d.add("<p>$L: any size, taken from the inputs' shapes.\n", String.join(", ", plan.symbols()));
        List<String> stored = plan.params().stream().filter(p -> p.role() != Plan.Role.INPUT && p.role() != Plan.Role.SEED)
                .map(p -> p.name() + " " + plan.typeText(p.dtype(), p.dims())).toList();
        if (!stored.isEmpty()) d.add("<p>Stored in the jar: $L tensors ($L$L).\n", stored.size(),
                html(String.join(", ", stored.subList(0, Math.min(6, stored.size())))), stored.size() > 6 ? ", ..." : "");
        d.add("\n<p>From Java: <code>$L m = $L.load();</code> then <code>m.$L(...)</code>; from a shell:\n"
                + "<code>java -jar $L --help</code>.\n", simple, simple, train ? "step" : "run", html(jarName));
        d.add(train ? "<p>Thread-safety: steps are serialized; each continues from the state the last one left.\n"
                : "<p>Thread-safety: <code>run</code> may be called from several threads at once.\n");
        return d.build();
    }

    private static CodeBlock paramDocs(Plan plan, List<Plan.Param> inputs, List<String> ids) {
        CodeBlock.Builder d = CodeBlock.builder();
        for (int i = 0; i < inputs.size(); i++)
            d.add("@param $L <code>$L</code>: <code>$L</code>\n", ids.get(i), html(inputs.get(i).name()),
                    plan.typeText(inputs.get(i).dtype(), inputs.get(i).dims()));
        return d.build();
    }

    /// Java identifiers for `names`: other characters become `_`, a keyword or a leading digit
    /// gets `_` added, and repeats get a number, so every name maps to a distinct identifier.
    static List<String> identifiers(List<String> names, Set<String> reserved) {
        Set<String> used = new HashSet<>(reserved);
        List<String> out = new ArrayList<>();
        for (String n : names) {
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < n.length(); i++) {
                char c = n.charAt(i);
                s.append(i == 0 ? (Character.isJavaIdentifierStart(c) ? c : Character.isJavaIdentifierPart(c) ? "_" + c : "_")
                        : Character.isJavaIdentifierPart(c) ? c : '_');
            }
            String id = s.isEmpty() ? "_x" : s.toString();
            if (id.equals("_") || SourceVersion.isKeyword(id)) id += "_";
            String base = id;
            for (int k = 2; !used.add(id); k++) id = base + k;
            out.add(id);
        }
        return out;
    }

    /// Text safe inside javadoc HTML (and unable to end the comment).
    static String html(String s) {
        // a backslash would start a unicode escape, which javac reads even inside comments
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*/", "*&#47;").replace("@", "&#64;")
                .replace("{", "&#123;").replace("}", "&#125;").replace("\\", "&#92;");
    }
}
