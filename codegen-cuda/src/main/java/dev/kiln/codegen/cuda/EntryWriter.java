package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.Ptx.RegClass;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/// Builds the text of one `.entry`: its parameters, its virtual registers (numbered per class,
/// declared once at the top as `.reg .f32 %f<N>;`), a static shared array when asked for, and
/// the instruction lines. Invariant: every register named in a line was handed out by `reg`.
final class EntryWriter {
    final String name;
    private final List<String> params = new ArrayList<>();
    private final List<String> lines = new ArrayList<>();
    private final Map<RegClass, Integer> counts = new EnumMap<>(RegClass.class);
    private int labels;
    private int sharedBytes;

    EntryWriter(String name) { this.name = name; }

    /// A fresh register of class `c`.
    String reg(RegClass c) {
        int n = counts.merge(c, 1, Integer::sum);
        return c.prefix + n;
    }

    String label(String hint) { return "$L_" + hint + "_" + labels++; }

    /// Declares `.param .<type> <pname>` and returns the parameter's name.
    String param(String type, String pname) {
        params.add(".param ." + type + " " + pname);
        return pname;
    }

    /// Reserves `bytes` of the entry's static shared array (8-byte aligned); returns the offset.
    int shared(int bytes) {
        int off = (sharedBytes + 7) & ~7;
        sharedBytes = off + bytes;
        return off;
    }

    int sharedBytes() { return sharedBytes; }

    void op(String line) { lines.add("\t" + line); }

    void op(String template, String d, String a) { op(Ptx.fill(template, d, a, null)); }

    void op(String template, String d, String a, String b) { op(Ptx.fill(template, d, a, b)); }

    void place(String label) { lines.add(label + ":"); }

    void comment(String text) { lines.add("\t// " + text.replace('\n', ' ')); }

    String text() {
        StringBuilder s = new StringBuilder(".visible .entry ").append(name).append("(");
        for (int i = 0; i < params.size(); i++) s.append(i == 0 ? "\n\t" : ",\n\t").append(params.get(i));
        s.append("\n)\n{\n");
        for (RegClass c : RegClass.values()) {
            Integer n = counts.get(c);
            if (n != null) s.append("\t.reg ").append(c.decl).append(' ').append(c.prefix).append('<').append(n + 1).append(">;\n");
        }
        if (sharedBytes > 0) s.append("\t.shared .align 16 .b8 smem[").append(sharedBytes).append("];\n");
        for (String l : lines) s.append(l).append('\n');
        s.append("}\n");
        return s.toString();
    }
}
