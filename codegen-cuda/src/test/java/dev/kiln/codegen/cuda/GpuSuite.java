package dev.kiln.codegen.cuda;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

/// Runs the `@Tag("gpu")` tests of every `dev.kiln` package on the class path (codegen-cuda's
/// and, in the bundle, the frontend's) without Maven (the GPU machine has only a JRE): prints the
/// failures and a closing `gpu tests: N passed, N failed, N skipped` line; exits 1 on a
/// failure, 2 when there is no GPU (after one line saying why).
public final class GpuSuite {
    private GpuSuite() {}

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("--list")) { // discovery only: checks a bundle without a GPU
            var plan = LauncherFactory.create().discover(request().selectors(selectPackage("dev.kiln"))
                    .filters(TagFilter.includeTags("gpu")).build());
            long classes = plan.getRoots().stream().mapToLong(r -> plan.getChildren(r).size()).sum();
            // and run one CPU-only test class through the same launcher, to check that the JRE
            // has every module JUnit needs to execute tests, not only to find them
            SummaryGeneratingListener self = new SummaryGeneratingListener();
            LauncherFactory.create().execute(request().selectors(
                    org.junit.platform.engine.discovery.DiscoverySelectors.selectClass(PtxMathTest.class)).build(), self);
            long ok = self.getSummary().getTestsSucceededCount(), bad = self.getSummary().getTotalFailureCount();
            System.out.println("gpu-suite: " + classes + " test classes tagged gpu; self-test " + ok + " passed, " + bad
                    + " failed; driver: " + (CudaBackend.available() ? CudaBackend.deviceName() : CudaBackend.unavailableReason()));
            System.exit(classes > 0 && ok > 0 && bad == 0 ? 0 : 1);
        }
        String why = CudaBackend.unavailableReason();
        if (why != null) {
            System.out.println("gpu-check: no GPU: " + why);
            System.exit(2);
        }
        System.out.println("gpu-check: device " + CudaBackend.deviceName());
        LauncherDiscoveryRequest req = request().selectors(selectPackage("dev.kiln"))
                .filters(TagFilter.includeTags("gpu")).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(req, listener);
        TestExecutionSummary s = listener.getSummary();
        // the first failure in full, the next ones in a line each (a sticky CUDA error fails
        // everything after it, and the first is the one that says why)
        int shown = 0;
        for (TestExecutionSummary.Failure f : s.getFailures()) {
            String name = f.getTestIdentifier().getDisplayName();
            if (shown == 0) {
                System.out.println("FIRST FAILURE: " + name);
                f.getException().printStackTrace(System.out);
            } else if (shown < 25) {
                String msg = String.valueOf(f.getException().getMessage());
                System.out.println("FAILED: " + name + ": " + msg.lines().findFirst().orElse(""));
            }
            shown++;
        }
        if (shown > 25) System.out.println("... and " + (shown - 25) + " more failures");
        long failed = s.getTestsFailedCount() + s.getContainersFailedCount();
        System.out.println("gpu tests: " + s.getTestsSucceededCount() + " passed, " + failed + " failed, "
                + (s.getTestsSkippedCount() + s.getTestsAbortedCount()) + " skipped");
        System.exit(failed == 0 ? 0 : 1);
    }
}
