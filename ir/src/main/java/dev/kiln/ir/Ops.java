package dev.kiln.ir;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/// What the printer, parser and rewriter derive from an op record: its mnemonic (`ReduceSum`
/// prints `reduce_sum`), its operands (components of type `Value` or `List<Value>`), its
/// attributes (every other component but `type` and a `Graph` region), and a copy with new
/// operands. One reflective description per record class, computed once.
public final class Ops {
    private Ops() {}

    /// The reflective shape of one op record class.
    public record Info(Class<? extends Op> cls, String mnemonic, RecordComponent[] components,
                       Constructor<? extends Op> constructor) {}

    private static final Map<Class<?>, Info> BY_CLASS = new ConcurrentHashMap<>();
    private static final Map<String, Info> BY_MNEMONIC = new HashMap<>();

    static {
        collect(Op.class);
    }

    @SuppressWarnings("unchecked")
    private static void collect(Class<?> c) {
        if (c.isRecord()) {
            Info info = info((Class<? extends Op>) c);
            BY_MNEMONIC.put(info.mnemonic(), info);
        }
        Class<?>[] subs = c.getPermittedSubclasses();
        if (subs != null) for (Class<?> s : subs) collect(s);
    }

    public static Info info(Class<? extends Op> cls) {
        return BY_CLASS.computeIfAbsent(cls, c -> {
            RecordComponent[] comps = c.getRecordComponents();
            Class<?>[] types = new Class<?>[comps.length];
            for (int i = 0; i < comps.length; i++) types[i] = comps[i].getType();
            try {
                @SuppressWarnings("unchecked")
                Constructor<? extends Op> ctor = (Constructor<? extends Op>) c.getDeclaredConstructor(types);
                return new Info(cls, snake(c.getSimpleName()), comps, ctor);
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /// The op record class printed as `mnemonic`, or null.
    public static Info byMnemonic(String mnemonic) { return BY_MNEMONIC.get(mnemonic); }

    /// Every op's info, by mnemonic (sorted).
    public static List<Info> all() { return BY_MNEMONIC.values().stream().sorted((a, b) -> a.mnemonic().compareTo(b.mnemonic())).toList(); }

    public static String mnemonic(Op op) { return info(op.getClass()).mnemonic(); }

    /// `ReduceSum` -> `reduce_sum`, `Conv2dGradInput` -> `conv2d_grad_input`.
    public static String snake(String camel) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0) s.append('_');
                s.append(Character.toLowerCase(c));
            } else s.append(c);
        }
        return s.toString();
    }

    public static boolean isOperand(RecordComponent c) {
        return c.getType() == Value.class || (c.getType() == List.class && c.getGenericType().getTypeName().contains("Value"));
    }

    public static boolean isAttribute(RecordComponent c) {
        return !isOperand(c) && !c.getName().equals("type") && c.getType() != Graph.class;
    }

    /// Operands in component order, lists flattened.
    public static List<Value> operands(Op op) {
        List<Value> out = new ArrayList<>();
        for (RecordComponent c : info(op.getClass()).components()) {
            if (!isOperand(c)) continue;
            Object v = get(c, op);
            if (v instanceof Value val) out.add(val);
            else for (Object o : (List<?>) v) out.add((Value) o);
        }
        return out;
    }

    /// Attributes by component name, in component order.
    public static Map<String, Object> attributes(Op op) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (RecordComponent c : info(op.getClass()).components()) if (isAttribute(c)) out.put(c.getName(), get(c, op));
        return out;
    }

    /// The region of an op that has one, or null.
    public static Graph region(Op op) {
        for (RecordComponent c : info(op.getClass()).components()) if (c.getType() == Graph.class) return (Graph) get(c, op);
        return null;
    }

    /// The same op with each operand replaced by `f(operand)`; returns `op` itself when nothing changes.
    public static Op mapOperands(Op op, UnaryOperator<Value> f) {
        Info info = info(op.getClass());
        RecordComponent[] comps = info.components();
        Object[] args = new Object[comps.length];
        boolean changed = false;
        for (int i = 0; i < comps.length; i++) {
            Object v = get(comps[i], op);
            if (isOperand(comps[i])) {
                Object nv;
                if (v instanceof Value val) nv = f.apply(val);
                else nv = ((List<?>) v).stream().map(o -> f.apply((Value) o)).toList();
                changed |= !nv.equals(v);
                v = nv;
            }
            args[i] = v;
        }
        return changed ? construct(info, args) : op;
    }

    /// Builds an op from component values in declaration order.
    public static Op construct(Info info, Object[] args) {
        try {
            return info.constructor().newInstance(args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Object get(RecordComponent c, Op op) {
        try {
            return c.getAccessor().invoke(op);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
