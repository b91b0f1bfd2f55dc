package dev.kiln.examples;

import dev.kiln.Tensor;

import java.util.Arrays;

/// 3. Tensor operations: layout, broadcasting, matmul, reductions, indexing, comparisons.
public class TensorOps {
    public static void main(String[] args) {
        Tensor a = Tensor.of(new float[][]{{1, 2}, {3, 4}}), b = Tensor.of(new float[][]{{5}, {6}});
        System.out.println("broadcast [[1,2],[3,4]] * [[5],[6]] = " + Arrays.toString(a.mul(b).toFloatArray()));

        Tensor t = Tensor.arange(12).view(3, 4);
        System.out.println("t = " + t);
        System.out.println("t.view(2, -1) shape " + Arrays.toString(t.view(2, -1).shape()));
        System.out.println("t.transpose(0, 1) = " + t.transpose(0, 1));
        System.out.println("t.permute(1, 0).flatten() = " + t.permute(1, 0).flatten());
        System.out.println("t.slice(1, 1, 3) = " + t.slice(1, 1, 3));              // t[:, 1:3]
        System.out.println("t.get(\":, 1:3\") = " + t.get(":, 1:3"));
        System.out.println("t.get(\"-1\") = " + t.get("-1"));

        System.out.println("a @ a = " + a.matmul(a));
        System.out.println("a.sum(0) = " + a.sum(0) + ", a.mean() = " + a.mean().item());
        System.out.println("a.max(1, keepdim) = " + a.max(1, true));
        System.out.println("a.argmax(1) = " + a.argmax(1));

        Tensor x = Tensor.of(new float[]{-4, 0, 9});
        System.out.println("abs " + x.abs() + ", sqrt(abs) " + x.abs().sqrt() + ", exp " + x.exp().get("0").item());
        System.out.println("log(1 + abs) " + x.abs().add(1).log());
        System.out.println("x < 0: " + x.lt(0) + ", x == 0: " + x.eq(0));
        System.out.println("where(x < 0, -x, x) = " + Tensor.where(x.lt(0), x.neg(), x));
        System.out.println("item of a sum: " + x.sum().item());
    }
}
