package dev.kiln.codegen.jvm.rt;

import dev.kiln.runtime.Size;
import dev.kiln.runtime.DType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PlanTest {
    @Test void textFormKeepsOddNamesAndEveryField() {
        Size n = Size.apply("*", Size.symbol(0), Size.literal(3));
        Plan p = new Plan("g with spaces", List.of("B"),
                List.of(new Plan.Param("x y%=", DType.F32, new int[]{-1, 3}, 0, Plan.Role.INPUT, -1),
                        new Plan.Param("", DType.I64, new int[]{}, 1, Plan.Role.STEP, -1)),
                List.of(new Plan.Result("out\n", DType.F32, new int[]{-1, 3}, 2)),
                List.of(new Plan.Buffer("x y%=", DType.F32, Plan.Kind.PARAM, 0, -1, n),
                        new Plan.Buffer("", DType.I64, Plan.Kind.PARAM, 1, -1, Size.literal(1)),
                        new Plan.Buffer("t", DType.F32, Plan.Kind.TEMP, -1, 0, n)),
                List.of(DType.F32), List.of(new Plan.Kernel("k0", "a.kir:3")),
                List.of(new Plan.Task(0, Plan.TaskKind.LOOP, n, n, Size.ZERO, Size.apply("*", n, Size.literal(8)))));
        Plan q = Plan.parse(p.toText(), "t");
        assertEquals(p.toText(), q.toText());
        assertEquals("x y%=", q.params().getFirst().name());
        assertEquals("", q.params().get(1).name());
        assertEquals("out\n", q.results().getFirst().name());
        assertEquals("f32[B,3]", q.paramType(0));
        assertEquals(Plan.Role.STEP, q.params().get(1).role());
        assertEquals(5 * 3 * 8, q.tasks().getFirst().bytes().eval(new int[]{5}));
    }

    @Test void badTextIsRefusedWithTheLine() {
        var e = assertThrows(IllegalArgumentException.class, () -> Plan.parse("kiln-plan 1\ngraph name=g\ntask kernel=0 kind=loop", "p"));
        assertTrue(e.getMessage().startsWith("p:3: missing extent="), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Plan.parse("not a plan", "p"));
        var s = assertThrows(IllegalArgumentException.class, () -> Plan.parse("kiln-plan 1\ngraph name=g\nbuffer name=b dtype=f32 kind=temp "
                + "index=-1 slot=-1 numel=$0,*", "p"));
        assertTrue(s.getMessage().contains("names symbol 0"), s.getMessage());
    }

    @Test void profileSourcesAreShortened() {
        assertEquals("mlp.kir:18-21, Net.java:7", KernelProfile.shortSource(
                "fused[examples/ir/mlp.kir:18, examples/ir/mlp.kir:21, /a/b/Net.java:7 in fc, examples/ir/mlp.kir:19]"));
        assertEquals("Mlp.java:12", KernelProfile.shortSource("Mlp.java:12 in fc1"));
        assertEquals("unknown", KernelProfile.shortSource("unknown"));
    }
}
